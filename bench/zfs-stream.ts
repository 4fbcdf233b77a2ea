// Benchmark: one project of a few hundred MB sent as a full stream, side by side in one run:
//   A. through the worker: `zfs send` on compute1 piped by this process (ssh2 channels, pipe(), the
//      runbook's own code: activities/zfs-replication/pipe.ts) into `zfs recv -u` on compute2;
//   B. `zfs send | zfs recv` on one host (compute1 into a second dataset of its own pool): no network;
//   C. `zfs send | ssh compute2 zfs recv` from compute1 with OpenSSH (what seed 001 typed by hand).
// Each mode runs REPS times, interleaved; the median rate is compared. Every lab host has its own
// zfs-fuse daemon, and all of them share this machine's CPUs, so B and C compete with the same
// daemons A does. Usage: sudo npx tsx bench/zfs-stream.ts   (env BENCH_MIB, default 300; BENCH_REPS, default 3)
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { raw, sh } from '../activities/ssh/command';
import { runRemote } from '../activities/ssh/exec';
import { SshPool } from '../activities/ssh/pool';
import { InventoryProvider } from '../activities/ssh/inventory-provider';
import { pipeBetweenHosts } from '../activities/zfs-replication/pipe';
import { median } from './stats';
import { must, startBenchLab } from './zfs-lab';

const MIB = Number(process.env.BENCH_MIB ?? 300);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const DS = 'projects/0df21bd2-3a26-4c59-ac0b-cdbb293c4036'; // the project id of seed 001's test

async function main(): Promise<void> {
  const lab = await startBenchLab('bench-zfs-stream', 191);
  const pool = new SshPool(new InventoryProvider(process.env.RUNBOOK_INVENTORY));
  try {
    const key = path.join(lab.labDir, 'keys', 'operator');
    process.stdout.write(`writing ${MIB} MiB of random data into ${DS} on compute1...\n`);
    await must(lab.ctx.compute1, `zfs create ${DS} && head -c ${MIB}M /dev/urandom > /${DS}/data.bin && zfs snapshot ${DS}@s1`);
    const bytes = Number((await must(lab.ctx.compute1, `zfs send ${DS}@s1 | wc -c`)).trim()); // also warms the cache
    const destroy = (ctx: (typeof lab.ctx)[string], ds: string) =>
      must(ctx, `for i in $(seq 50); do zfs destroy -r ${ds} 2>/dev/null && exit 0; zfs list ${ds} >/dev/null 2>&1 || exit 0; sleep 0.2; done; exit 1`);

    const modes: Record<string, () => Promise<number>> = {
      'A worker (ssh2 pipe)': async () => {
        const r = await pipeBetweenHosts(pool, { from: { host: 'compute1', command: sh`zfs send ${`${DS}@s1`}` }, to: { host: 'compute2', command: sh`zfs recv -u projects/bench-a` } });
        if (r.senderExit.code !== 0 || r.receiverExit.code !== 0) throw new Error(`A failed: ${r.senderStderr} ${r.receiverStderr}`);
        await destroy(lab.ctx.compute2, 'projects/bench-a');
        return r.durationMs;
      },
      'B local send|recv': async () => {
        const r = await runRemote(pool, 'compute1', sh`zfs send ${`${DS}@s1`} | zfs recv -u projects/bench-b`, { timeoutMs: 3_600_000 });
        if (r.record.exitCode !== 0) throw new Error(`B failed: ${r.stderr}`);
        await destroy(lab.ctx.compute1, 'projects/bench-b');
        return r.record.durationMs;
      },
      'C send|ssh recv': async () => {
        const ssh = sh`ssh -i ${key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR ${`root@${lab.addresses.compute2}`}`;
        const r = await runRemote(pool, 'compute1', sh`set -o pipefail; zfs send ${`${DS}@s1`} | ${ssh} ${raw('zfs recv -u projects/bench-c')}`, { timeoutMs: 3_600_000 });
        if (r.record.exitCode !== 0) throw new Error(`C failed: ${r.stderr}`);
        await destroy(lab.ctx.compute2, 'projects/bench-c');
        return r.record.durationMs;
      },
    };
    // BENCH_PROFILE=1: the parts on their own, to find the limit: what one daemon's send costs, what
    // one daemon's recv costs (from a file), and the worker's ssh2 path into a sink (no zfs recv).
    if (process.env.BENCH_PROFILE === '1') {
      const streamFile = path.join(lab.labDir, 'hosts', 'compute1', 'bench-stream.zstream');
      Object.assign(modes, {
        'P worker via Transform (before)': async () => {
          // The pipe as it was: through the rate Meter (a cap no stream reaches keeps it in the path).
          const r = await pipeBetweenHosts(pool, {
            from: { host: 'compute1', command: sh`zfs send ${`${DS}@s1`}` },
            to: { host: 'compute2', command: sh`zfs recv -u projects/bench-m` },
            bytesPerSecond: 1e15,
          });
          if (r.senderExit.code !== 0 || r.receiverExit.code !== 0) throw new Error(`P metered failed: ${r.senderStderr} ${r.receiverStderr}`);
          await destroy(lab.ctx.compute2, 'projects/bench-m');
          return r.durationMs;
        },
        'P send > /dev/null': async () => {
          const r = await runRemote(pool, 'compute1', sh`zfs send ${`${DS}@s1`} >/dev/null`, { timeoutMs: 3_600_000 });
          if (r.record.exitCode !== 0) throw new Error(`P send failed: ${r.stderr}`);
          return r.record.durationMs;
        },
        'P recv < file': async () => {
          await must(lab.ctx.compute1, `zfs send ${DS}@s1 > ${streamFile}`);
          const r = await runRemote(pool, 'compute2', sh`zfs recv -u projects/bench-r <${streamFile}`, { timeoutMs: 3_600_000 });
          if (r.record.exitCode !== 0) throw new Error(`P recv failed: ${r.stderr}`);
          await destroy(lab.ctx.compute2, 'projects/bench-r');
          await must(lab.ctx.compute1, `rm -f ${streamFile}`);
          return r.record.durationMs;
        },
        'P worker -> cat sink': async () => {
          const r = await pipeBetweenHosts(pool, { from: { host: 'compute1', command: sh`zfs send ${`${DS}@s1`}` }, to: { host: 'compute2', command: sh`cat >/dev/null` } });
          if (r.senderExit.code !== 0 || r.receiverExit.code !== 0) throw new Error(`P sink failed: ${r.senderStderr} ${r.receiverStderr}`);
          return r.durationMs;
        },
        'P worker cat -> cat': async () => {
          const r = await pipeBetweenHosts(pool, { from: { host: 'compute1', command: sh`head -c ${bytes} /dev/zero` }, to: { host: 'compute2', command: sh`cat >/dev/null` } });
          if (r.senderExit.code !== 0 || r.receiverExit.code !== 0) throw new Error(`P ssh-only failed: ${r.senderStderr} ${r.receiverStderr}`);
          return r.durationMs;
        },
      });
    }
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
    for (let rep = 0; rep < REPS; rep++) {
      for (const [name, run] of Object.entries(modes)) {
        const ms = await run();
        times[name].push(ms);
        process.stdout.write(`  rep ${rep + 1} ${name}: ${(ms / 1000).toFixed(2)} s\n`);
      }
    }
    const rate = (ms: number) => bytes / 2 ** 20 / (ms / 1000);
    const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    const [a, b, c] = Object.keys(modes).map((k) => med[k]);
    process.stdout.write(`\nfull stream of ${(bytes / 2 ** 20).toFixed(0)} MiB (median of ${REPS}):\n`);
    for (const [k, ms] of Object.entries(med)) process.stdout.write(`  ${k.padEnd(22)} ${(ms / 1000).toFixed(2)} s  ${rate(ms).toFixed(1)} MiB/s\n`);
    process.stdout.write(`ratios: worker/local ${(a / b).toFixed(2)}x the time, worker/ssh ${(a / c).toFixed(2)}x the time\n`);
    const out = path.join(__dirname, 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, `zfs-stream-${Date.now()}.json`), JSON.stringify({ bytes, reps: REPS, times, medianMs: med }, null, 2));
  } finally {
    pool.close();
    await lab.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
