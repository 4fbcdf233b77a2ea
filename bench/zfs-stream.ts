// Benchmark: one project of a few hundred MB sent as a full stream, side by side in one run:
//   A. through the worker: `zfs send` on compute1 piped by this process (ssh2 channels, pipe(), the
//      runbook's own code: activities/zfs-replication/pipe.ts) into `zfs recv -u` on compute2;
//   B. `zfs send | zfs recv` on one host (compute1 into a second dataset of its own pool): no network;
//   C. `zfs send | ssh compute2 zfs recv` from compute1 with OpenSSH (what seed 001 typed by hand).
// Each mode runs REPS times, interleaved; the median is compared. Every lab host has its own
// zfs-fuse daemon, and all of them share this machine's CPUs (and the other users of the machine),
// so next to the wall time each mode reports the CPU it cost per GiB: in this process (the worker),
// inside compute1 and inside compute2 (bench/host-cpu.ts). BENCH_PROFILE=1 adds the parts on their
// own (see below), BENCH_TRANSPORTS=1 the transports no runbook uses (bench/socket-relay.ts).
// Usage: sudo npx tsx bench/zfs-stream.ts   (env BENCH_MIB, default 300; BENCH_REPS, default 3)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { raw, sh } from '../activities/ssh/command';
import { runRemote } from '../activities/ssh/exec';
import { SshPool } from '../activities/ssh/pool';
import { InventoryProvider } from '../activities/ssh/inventory-provider';
import { pipeBetweenHosts, type PipeOptions } from '../activities/zfs-replication/pipe';
import { hostCpuSeconds, ownCpuSeconds } from './host-cpu';
import { PSK_CIPHER, startRelay, type RelayKind } from './socket-relay';
import { median } from './stats';
import { must, startBenchLab } from './zfs-lab';

const MIB = Number(process.env.BENCH_MIB ?? 300);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const DS = 'projects/0df21bd2-3a26-4c59-ac0b-cdbb293c4036'; // the project id of seed 001's test

/** One way of moving the stream: `run` is timed and its CPU counted; `before`/`after` are not. */
interface Mode {
  before?: () => Promise<void>;
  run: () => Promise<void>;
  after?: () => Promise<void>;
}

function runLocally(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${script.slice(0, 200)}: exit ${code}: ${err.slice(-500)}`))));
  });
}

async function main(): Promise<void> {
  const lab = await startBenchLab('bench-zfs-stream', 191);
  const pool = new SshPool(new InventoryProvider(process.env.RUNBOOK_INVENTORY));
  try {
    const key = path.join(lab.labDir, 'keys', 'operator');
    process.stdout.write(`writing ${MIB} MiB of random data into ${DS} on compute1...\n`);
    await must(lab.ctx.compute1, `zfs create ${DS} && head -c ${MIB}M /dev/urandom > /${DS}/data.bin && zfs snapshot ${DS}@s1`);
    const bytes = Number((await must(lab.ctx.compute1, `zfs send ${DS}@s1 | wc -c`)).trim()); // also warms the cache
    const destroy = (ctx: (typeof lab.ctx)[string], ds: string) =>
      must(ctx, `for i in $(seq 50); do zfs destroy -r ${ds} 2>/dev/null && exit 0; zfs list ${ds} >/dev/null 2>&1 || exit 0; sleep 0.2; done; exit 1`).then(() => undefined);
    const send = sh`zfs send ${`${DS}@s1`}`;
    // The pipe exactly as the send activity calls it, heartbeat callback included (every second).
    const throughWorker = async (to: PipeOptions['to'], extra: Partial<PipeOptions> = {}) => {
      const r = await pipeBetweenHosts(pool, { from: { host: 'compute1', command: send }, to, onProgress: () => undefined, ...extra });
      if (r.senderExit.code !== 0 || r.receiverExit.code !== 0) throw new Error(`stream failed: ${r.senderStderr} ${r.receiverStderr}`);
    };
    const onHost = async (host: string, command: ReturnType<typeof sh>) => {
      const r = await runRemote(pool, host, command, { timeoutMs: 3_600_000 });
      if (r.record.exitCode !== 0) throw new Error(`${command.display}: ${r.stderr}`);
    };
    const opensshTo = (host: string) => sh`ssh -i ${key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR ${`root@${lab.addresses[host]}`}`;

    const modes: Record<string, Mode> = {
      'A worker (ssh2 pipe)': {
        run: () => throughWorker({ host: 'compute2', command: sh`zfs recv -u projects/bench-a` }),
        after: () => destroy(lab.ctx.compute2, 'projects/bench-a'),
      },
      'B local send|recv': {
        run: () => onHost('compute1', sh`zfs send ${`${DS}@s1`} | zfs recv -u projects/bench-b`),
        after: () => destroy(lab.ctx.compute1, 'projects/bench-b'),
      },
      'C send|ssh recv': {
        run: () => onHost('compute1', sh`set -o pipefail; zfs send ${`${DS}@s1`} | ${opensshTo('compute2')} ${raw('zfs recv -u projects/bench-c')}`),
        after: () => destroy(lab.ctx.compute2, 'projects/bench-c'),
      },
    };
    // BENCH_PROFILE=1: the parts on their own, to find the limit.
    if (process.env.BENCH_PROFILE === '1') {
      const streamFile = path.join(lab.labDir, 'hosts', 'compute1', 'bench-stream.zstream');
      Object.assign(modes, {
        // The worker's topology with OpenSSH's own client doing the relay on this machine: what the
        // two hops cost when the relay is C instead of ssh2 (its CPU is in the worker column).
        'D OpenSSH relay here': {
          run: () => runLocally(`set -o pipefail; ${opensshTo('compute1').text} ${send.text} | ${opensshTo('compute2').text} 'zfs recv -u projects/bench-d'`),
          after: () => destroy(lab.ctx.compute2, 'projects/bench-d'),
        },
        // The pipe with a rate cap (a cap no stream reaches keeps the Meter Transform in the path).
        'P worker, rate Meter': {
          run: () => throughWorker({ host: 'compute2', command: sh`zfs recv -u projects/bench-m` }, { bytesPerSecond: 1e15 }),
          after: () => destroy(lab.ctx.compute2, 'projects/bench-m'),
        },
        // The receiver on the kernel's default 64 KiB stdin pipe, as before session 9.
        'P worker, 64 KiB pipe': {
          run: () => throughWorker({ host: 'compute2', command: sh`zfs recv -u projects/bench-k` }, { largeReceivePipe: false }),
          after: () => destroy(lab.ctx.compute2, 'projects/bench-k'),
        },
        'P worker, no heartbeat': {
          run: () => throughWorker({ host: 'compute2', command: sh`zfs recv -u projects/bench-h` }, { onProgress: undefined }),
          after: () => destroy(lab.ctx.compute2, 'projects/bench-h'),
        },
        'P send > /dev/null': { run: () => onHost('compute1', sh`zfs send ${`${DS}@s1`} >/dev/null`) },
        'P recv < file': {
          before: () => must(lab.ctx.compute1, `zfs send ${DS}@s1 > ${streamFile}`).then(() => undefined),
          run: () => onHost('compute2', sh`zfs recv -u projects/bench-r <${streamFile}`),
          after: () =>
            destroy(lab.ctx.compute2, 'projects/bench-r')
              .then(() => must(lab.ctx.compute1, `rm -f ${streamFile}`))
              .then(() => undefined),
        },
        'P worker -> cat sink': { run: () => throughWorker({ host: 'compute2', command: sh`cat >/dev/null` }) },
        // The relay alone: no zfs at either end.
        'P worker cat -> cat': {
          run: async () => {
            const r = await pipeBetweenHosts(pool, { from: { host: 'compute1', command: sh`head -c ${bytes} /dev/zero` }, to: { host: 'compute2', command: sh`cat >/dev/null` } });
            if (r.senderExit.code !== 0 || r.receiverExit.code !== 0) throw new Error(`relay failed: ${r.senderStderr} ${r.receiverStderr}`);
          },
        },
      } satisfies Record<string, Mode>);
    }

    // BENCH_TRANSPORTS=1: the other transports the worker could relay through (bench/socket-relay.ts):
    // each host connects out to this process, the receiver first. Measured for the README's "what
    // would move it"; no runbook uses them. The receiver-to-sender direction is relayed too only where
    // a handshake needs it (twoWay).
    if (process.env.BENCH_TRANSPORTS === '1') {
      const relayed = async (kind: RelayKind, receive: (port: number, key: string) => ReturnType<typeof sh>, sendTo: (port: number, key: string) => ReturnType<typeof sh>, twoWay = false) => {
        const key = randomBytes(16);
        const relay = await startRelay(kind, key, twoWay);
        try {
          const receiving = onHost('compute2', receive(relay.port, key.toString('hex')));
          await Promise.race([relay.receiverConnected, receiving]);
          await Promise.all([receiving, onHost('compute1', sendTo(relay.port, key.toString('hex'))), relay.done]);
        } finally {
          relay.close();
        }
      };
      const tcp = (port: number) => `/dev/tcp/127.0.0.1/${port}`;
      const tlsEndpoint = path.join(__dirname, 'tls-endpoint.py');
      const oneTimeCertificate = () =>
        runLocally(
          sh`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=stream -keyout ${path.join(lab.labDir, 'key.pem')} -out ${path.join(lab.labDir, 'cert.pem')}`.text,
        );
      const sClient = (port: number, key: string, identity: string) =>
        sh`openssl s_client -connect ${`127.0.0.1:${port}`} -psk ${key} -psk_identity ${identity} -tls1_2 -cipher ${PSK_CIPHER} -quiet -nocommands`;
      Object.assign(modes, {
        'T plain TCP': {
          run: () =>
            relayed(
              'tcp',
              (port) => sh`zfs recv -u projects/bench-t <${tcp(port)}`,
              (port) => sh`zfs send ${`${DS}@s1`} >${tcp(port)}`,
            ),
          after: () => destroy(lab.ctx.compute2, 'projects/bench-t'),
        },
        // Encrypted by the hosts (AES-NI), but unauthenticated: CTR is malleable.
        'T aes-128-ctr over TCP': {
          run: () => {
            const iv = randomBytes(16).toString('hex');
            return relayed(
              'tcp',
              (port, key) => sh`set -o pipefail; openssl enc -d -aes-128-ctr -K ${key} -iv ${iv} -bufsize 262144 <${tcp(port)} | zfs recv -u projects/bench-e`,
              (port, key) => sh`set -o pipefail; zfs send ${`${DS}@s1`} | openssl enc -aes-128-ctr -K ${key} -iv ${iv} -bufsize 262144 >${tcp(port)}`,
            );
          },
          after: () => destroy(lab.ctx.compute2, 'projects/bench-e'),
        },
        // Two encryption passes instead of SSH's four: the hosts run TLS 1.3 end to end through the
        // relay (bench/tls-endpoint.py; Python's ssl module, the receiver pins nothing, the sender pins
        // the receiver's one-time certificate), the worker sees only ciphertext. "py TCP" is the same
        // endpoint without TLS: what the extra process and pipe copy cost on their own.
        'T py TCP': {
          run: () =>
            relayed(
              'tcp',
              (port) => sh`set -o pipefail; python3 ${tlsEndpoint} recv ${String(port)} plain ${lab.labDir} | zfs recv -u projects/bench-p`,
              (port) => sh`set -o pipefail; zfs send ${`${DS}@s1`} | python3 ${tlsEndpoint} send ${String(port)} plain ${lab.labDir}`,
            ),
          after: () => destroy(lab.ctx.compute2, 'projects/bench-p'),
        },
        'T py TLS 1.3 host-host': {
          before: oneTimeCertificate,
          run: () =>
            relayed(
              'tcp',
              (port) => sh`set -o pipefail; python3 ${tlsEndpoint} recv ${String(port)} tls ${lab.labDir} | zfs recv -u projects/bench-y`,
              (port) => sh`set -o pipefail; zfs send ${`${DS}@s1`} | python3 ${tlsEndpoint} send ${String(port)} tls ${lab.labDir}`,
              true,
            ),
          after: () => destroy(lab.ctx.compute2, 'projects/bench-y'),
        },
        'T TLS-PSK s_client': {
          run: () =>
            relayed(
              'tls-psk',
              (port, key) => sh`set -o pipefail; ${sClient(port, key, 'recv')} </dev/null 2>/dev/null | zfs recv -u projects/bench-s`,
              (port, key) => sh`set -o pipefail; zfs send ${`${DS}@s1`} | ${sClient(port, key, 'send')} -no_ign_eof >/dev/null 2>/dev/null`,
            ),
          after: () => destroy(lab.ctx.compute2, 'projects/bench-s'),
        },
      } satisfies Record<string, Mode>);
    }

    const parts = ['worker', 'compute1', 'compute2'] as const;
    const sampleCpu = () => [ownCpuSeconds(), hostCpuSeconds('compute1'), hostCpuSeconds('compute2')];
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
    const cpu: Record<string, number[][]> = Object.fromEntries(Object.keys(modes).map((m) => [m, parts.map(() => [])]));
    const load = [loadavg()[0]];
    for (let rep = 0; rep < REPS; rep++) {
      for (const [name, mode] of Object.entries(modes)) {
        await mode.before?.();
        const cpuBefore = sampleCpu();
        const started = performance.now();
        await mode.run();
        const ms = performance.now() - started;
        sampleCpu().forEach((v, i) => cpu[name][i].push(v - cpuBefore[i]));
        await mode.after?.();
        times[name].push(ms);
        load.push(loadavg()[0]);
        process.stdout.write(`  rep ${rep + 1} ${name}: ${(ms / 1000).toFixed(2)} s\n`);
      }
    }

    const gib = bytes / 2 ** 30;
    const rate = (ms: number) => bytes / 2 ** 20 / (ms / 1000);
    const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    const cpuPerGib = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v.map((s) => median(s) / gib)]));
    const total = (k: string) => cpuPerGib[k].reduce((x, y) => x + y, 0);
    const [a, b, c] = Object.keys(modes);
    process.stdout.write(
      `\nfull stream of ${(bytes / 2 ** 20).toFixed(0)} MiB, median of ${REPS}; ${cpus().length} CPUs shared with whatever else runs (1-min load average ${Math.min(...load).toFixed(1)}..${Math.max(...load).toFixed(1)} during the run)\n`,
    );
    process.stdout.write(`  ${'mode'.padEnd(24)} ${'time'.padStart(7)} ${'rate'.padStart(12)}   CPU s per GiB: ${parts.join(' + ')} = total\n`);
    for (const k of Object.keys(modes)) {
      const split = cpuPerGib[k].map((x) => x.toFixed(2).padStart(5)).join(' + ');
      process.stdout.write(`  ${k.padEnd(24)} ${(med[k] / 1000).toFixed(2).padStart(5)} s ${rate(med[k]).toFixed(1).padStart(6)} MiB/s   ${split} = ${total(k).toFixed(2)}\n`);
    }
    process.stdout.write(`the worker at ${(med[b] / med[a]).toFixed(2)}x the local pipe's rate, ${(med[c] / med[a]).toFixed(2)}x the ssh pipe's\n`);
    // What the CPU alone allows: this stream given every CPU of the machine and perfectly spread
    // over them could not go faster than CPUs / (CPU seconds per GiB).
    const ceiling = (k: string) => (cpus().length / total(k)) * 1024;
    process.stdout.write(
      `CPU ceiling (all ${cpus().length} CPUs for this stream alone): worker ${ceiling(a).toFixed(0)} MiB/s, local pipe ${ceiling(b).toFixed(0)} MiB/s; the worker path costs ${(total(a) / total(b)).toFixed(1)}x the local pipe's CPU\n`,
    );
    const out = path.join(__dirname, 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, `zfs-stream-${Date.now()}.json`), JSON.stringify({ bytes, reps: REPS, load, times, medianMs: med, cpu, cpuPerGib }, null, 2));
  } finally {
    pool.close();
    await lab.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
