// Benchmark: the ssh2 relay alone (`head -c N /dev/zero` on compute1 -> this process -> `cat >/dev/null`
// on compute2, channels joined with pipe() as activities/zfs-replication/pipe.ts does), once per
// lever, interleaved in one run: the cipher and MAC ssh2 negotiates with the lab's sshd (ssh2 offers
// aes128-gcm@openssh.com first on CPUs with AES instructions; sshd accepts it) against the others it
// can use, and socket writes coalesced (cork until the next tick, so the packets of one read leave
// in one writev). Each reports the wall time and the CPU per GiB in this process and in each host.
// No zfs at all: bench/zfs-stream.ts has the full stream. Usage: sudo npx tsx bench/ssh-relay-levers.ts
// (env BENCH_MIB, default 300; BENCH_REPS, default 5)
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { Client, type Algorithms, type ClientChannel } from 'ssh2';
import { hostCpuSeconds, ownCpuSeconds } from './host-cpu';
import { median } from './stats';
import { startBenchLab } from './zfs-lab';

const MIB = Number(process.env.BENCH_MIB ?? 300);
const REPS = Number(process.env.BENCH_REPS ?? 5);

interface Lever {
  algorithms?: Algorithms;
  coalesceWrites?: boolean;
}
const levers: Record<string, Lever> = {
  'default (negotiated)': {},
  'chacha20-poly1305': { algorithms: { cipher: ['chacha20-poly1305@openssh.com'] } },
  'aes128-ctr + hmac-sha2-256-etm': { algorithms: { cipher: ['aes128-ctr'], hmac: ['hmac-sha2-256-etm@openssh.com'] } },
  'aes128-ctr + hmac-sha1-etm': { algorithms: { cipher: ['aes128-ctr'], hmac: ['hmac-sha1-etm@openssh.com'] } },
  'default + coalesced writes': { coalesceWrites: true },
};

function connect(address: string, privateKey: Buffer, lever: Lever): Promise<{ client: Client; cipher: string }> {
  const sock = net.connect({ host: address, port: 22 });
  sock.setNoDelay(true); // as activities/ssh/pool.ts does
  if (lever.coalesceWrites) {
    const write = sock.write.bind(sock) as (...args: unknown[]) => boolean;
    let corked = false;
    (sock as unknown as { write: typeof write }).write = (...args) => {
      if (!corked) {
        corked = true;
        sock.cork();
        process.nextTick(() => {
          corked = false;
          sock.uncork();
        });
      }
      return write(...args);
    };
  }
  const client = new Client();
  return new Promise((resolve, reject) => {
    let cipher = '?';
    client.on('handshake', (n) => (cipher = n.cs.mac ? `${n.cs.cipher} + ${n.cs.mac}` : n.cs.cipher));
    client.once('ready', () => resolve({ client, cipher }));
    client.once('error', reject);
    client.connect({ sock, username: 'root', privateKey, hostVerifier: () => true, ...(lever.algorithms ? { algorithms: lever.algorithms } : {}) });
  });
}

function exec(client: Client, command: string): Promise<{ channel: ClientChannel; closed: Promise<void> }> {
  return new Promise((resolve, reject) => client.exec(command, (err, channel) => (err ? reject(err) : resolve({ channel, closed: new Promise((r) => channel.once('close', () => r())) }))));
}

async function main(): Promise<void> {
  const lab = await startBenchLab('bench-ssh-relay', 191);
  const key = readFileSync(path.join(lab.labDir, 'keys', 'operator'));
  const bytes = MIB * 2 ** 20;
  const conns: Record<string, [Client, Client]> = {};
  try {
    for (const [name, lever] of Object.entries(levers)) {
      const from = await connect(lab.addresses.compute1, key, lever);
      const to = await connect(lab.addresses.compute2, key, lever);
      conns[name] = [from.client, to.client];
      process.stdout.write(`${name}: negotiated ${from.cipher}\n`);
    }
    const wall: Record<string, number[]> = {};
    const cpu: Record<string, number[][]> = {};
    const load = [loadavg()[0]];
    for (let rep = 0; rep < REPS; rep++) {
      for (const name of Object.keys(levers)) {
        const [a, b] = conns[name];
        const rx = await exec(b, 'cat >/dev/null');
        const tx = await exec(a, `head -c ${bytes} /dev/zero`);
        const before = [hostCpuSeconds('compute1'), hostCpuSeconds('compute2'), ownCpuSeconds()];
        const started = performance.now();
        tx.channel.pipe(rx.channel);
        rx.channel.resume();
        await Promise.all([tx.closed, rx.closed]);
        const ms = performance.now() - started;
        const after = [hostCpuSeconds('compute1'), hostCpuSeconds('compute2'), ownCpuSeconds()];
        (wall[name] ??= []).push(ms);
        (cpu[name] ??= [[], [], []]).forEach((s, i) => s.push(after[i] - before[i]));
        load.push(loadavg()[0]);
        process.stdout.write(`  rep ${rep + 1} ${name}: ${(ms / 1000).toFixed(2)} s\n`);
      }
    }
    const gib = bytes / 2 ** 30;
    process.stdout.write(`\nrelay of ${MIB} MiB, median of ${REPS}; ${cpus().length} CPUs shared (1-min load average ${Math.min(...load).toFixed(1)}..${Math.max(...load).toFixed(1)})\n`);
    process.stdout.write(`  ${'lever'.padEnd(32)} ${'rate'.padStart(12)}   CPU s per GiB: compute1 + worker + compute2 = total\n`);
    for (const name of Object.keys(levers)) {
      const [c1, c2, w] = cpu[name].map((s) => median(s) / gib);
      process.stdout.write(
        `  ${name.padEnd(32)} ${(MIB / (median(wall[name]) / 1000)).toFixed(1).padStart(6)} MiB/s   ${[c1, w, c2].map((x) => x.toFixed(2).padStart(5)).join(' + ')} = ${(c1 + w + c2).toFixed(2)}\n`,
      );
    }
  } finally {
    for (const [a, b] of Object.values(conns)) {
      a.end();
      b.end();
    }
    await lab.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
