// Benchmark: does a sweep's pool-wide read (inspectPoolCommand: `zfs get -Hp -d 2` over every copy
// and its snapshots) cost more when the copies are mounted, as a host's sources are? If zfs-fuse
// answered `mounted` by scanning the mount table, each lookup would grow with the number of mounts. The
// sweep benchmark (bench/zfs-sweep.ts) keeps its sources unmounted, because zfs-fuse mounts at most
// 1,000 filesystems per daemon (see lab/zfs/README.md); this one measures the same read, side by
// side in one run, unmounted, mounted and unmounted again, on N datasets with one snapshot each on
// one lab host (default 999: with the pool's root, zfs-fuse's limit).
// Usage: sudo npx tsx bench/zfs-mounted-read.ts [N]   (env BENCH_REPS, default 3)
import { inspectPoolCommand } from '../activities/zfs-replication/pool-copies';
import { median } from './stats';
import { must, startBenchLab } from './zfs-lab';

const N = Number(process.argv[2] ?? 999);
const REPS = Number(process.env.BENCH_REPS ?? 3);

async function main(): Promise<void> {
  if (!Number.isInteger(N) || N < 1 || N > 999) throw new Error(`N must be 1..999 (zfs-fuse mounts at most 1,000 filesystems, the pool's root among them), not ${process.argv[2]}`);
  const lab = await startBenchLab('bench-zfs-mounted-read', 201);
  try {
    const host = lab.ctx.compute1;
    const datasets = `$(seq -f 'projects/p%g' 1 ${N})`;
    const read = inspectPoolCommand('projects', false).text;
    const timeReads = async (what: string): Promise<number> => {
      const ms: number[] = [];
      for (let i = 0; i < REPS; i++) {
        const t = performance.now();
        await must(host, `${read} >/dev/null`);
        ms.push(performance.now() - t);
      }
      const m = median(ms);
      process.stdout.write(`  ${what.padEnd(18)} ${ms.map((x) => (x / 1000).toFixed(2)).join(' / ')} s, median ${(m / 1000).toFixed(2)} s (${(m / N).toFixed(2)} ms/dataset)\n`);
      return m;
    };
    const mounts = async () => Number((await must(host, "grep -c ' fuse' /proc/mounts || true")).trim());

    process.stdout.write(`creating ${N} datasets (canmount=noauto) with one snapshot each on compute1...\n`);
    await must(host, `for d in ${datasets}; do zfs create -o canmount=noauto "$d"; done && zfs snapshot -r projects@s1`);
    const before = await timeReads('unmounted');
    await must(host, `for d in ${datasets}; do zfs mount "$d"; done`);
    process.stdout.write(`  (${await mounts()} zfs-fuse mounts on the host, the pool's root included)\n`);
    const mounted = await timeReads('mounted');
    // zfs-fuse sometimes answers "dataset is busy" right after a read (lab/zfs/README.md): retry.
    await must(host, `for d in ${datasets}; do for t in 1 2 3 4 5; do zfs unmount "$d" && break; sleep 0.2; done; done`);
    const after = await timeReads('unmounted again');
    process.stdout.write(`\nmounted / unmounted: ${(mounted / ((before + after) / 2)).toFixed(2)}x the time (below 1: mounts do not slow the read)\n`);
  } finally {
    await lab.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
