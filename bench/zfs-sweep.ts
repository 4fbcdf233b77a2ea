// Benchmark: a sweep over N projects where nothing changed (the common case: 18,000 projects, most
// idle), side by side in one run:
//   A. replicateProjects on the real Temporal dev server and zfs-fuse lab hosts, after a first sweep
//      brought every project in line: wall time, and SSH round trips per project (from the audits);
//   B. syncoid (Debian's sanoid package) over a sample of the same projects, one after another as it
//      runs (it has no concurrency of its own), extrapolated to N. syncoid always takes a new snapshot
//      and sends it; it has no "skip if unchanged" (the maintainers declined it, sanoid#824).
// syncoid 2.1.0 does not run on zfs-fuse as shipped: it lists snapshots with `zfs get -t snapshot`
// (zfs-fuse's zfs get has no -t) and its fallback for a remote host is broken (it puts the ssh prefix
// in twice: "root@host: command not found"). B therefore runs with a shim `zfs` first on each lab
// host's PATH that drops `-t snapshot` and keeps the snapshot rows; the result says so.
// Usage: sudo npx tsx bench/zfs-sweep.ts [projects]   (or env BENCH_PROJECTS, default 1000;
//        BENCH_SYNCOID_SAMPLE, default 0 (skips syncoid; 40 was the earlier comparison); BENCH_BATCH,
//        the sweeps' batchSize (children per run); BENCH_COMPARE_LANES=1 also runs the no-change sweep
//        with the change probes one after another per host; BENCH_COMPARE_DESTROY=1 also runs it with
//        the probes destroyed by one zfs destroy -r per host and chunk instead of each in its lane;
//        BENCH_SWEEP_REPS, default 3: no-change sweeps after the machine went quiet, median reported;
//        BENCH_COMPARE_READ=1 alternates each with one whose first run reads the copies chunk by chunk)
// Prints the no-change sweep's cost per project and where it goes (bench/sweep-breakdown.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateProjects } from '../lab/scenarios/zfs-projects';
import { ensureTemporalDevServer, stopTemporalDevServer } from '../lab/temporal-dev-server';
import { connectClient } from '../workers/connection';
import { createRunbooksWorker } from '../workers/runbooks-worker';
import type { RunbookResult } from '../workflows/engine/runbook';
import type { SweepResult } from '../workflows/replicateProjects';
import { median } from './stats';
import { formatBreakdown, runChain, sweepBreakdown } from './sweep-breakdown';
import { generateInlineProjects } from './zfs-inline-projects';
import { startBenchLab } from './zfs-lab';

const N = Number(process.argv[2] ?? process.env.BENCH_PROJECTS ?? 1000);
const SAMPLE = Number(process.env.BENCH_SYNCOID_SAMPLE ?? 0);

function cpuTimes(): { idle: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // iowait is not idle: a machine waiting on its disk (zfs-fuse writing back the generated projects)
  // is not quiet. That alone does not make the measurement quiet: see the replicateProjects README.
  return { idle: f[3], total: f.reduce((a, b) => a + b, 0) };
}

/**
 * Wait until the machine is quiet: its CPUs at least 85% idle (neither busy nor waiting on I/O) over
 * 2 s, and its 1-minute load average at most 2 (at most 5 minutes). The idle CPUs alone were not
 * enough: right after generating 18,000 projects they were 99% idle at a load average of 8.7, and
 * that sweep took 85.8 s where the next two took 56.2 and 58.4 s (zfs-fuse still writing back).
 */
async function settle(): Promise<{ waitedMs: number; idlePct: number; load1: number }> {
  const t0 = Date.now();
  for (;;) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, 2000));
    const b = cpuTimes();
    const idlePct = (100 * (b.idle - a.idle)) / Math.max(1, b.total - a.total);
    const load1 = os.loadavg()[0];
    if ((idlePct >= 85 && load1 <= 2) || Date.now() - t0 > 300_000) return { waitedMs: Date.now() - t0, idlePct, load1 };
  }
}
const HOSTS = ['compute1', 'compute2', 'compute3'];

const ZFS_SHIM = `#!/bin/bash
# Benchmark shim (bench/zfs-sweep.ts): zfs-fuse's \`zfs get\` has no -t, which syncoid 2.1.0 passes.
if [ "$1" = get ]; then
  out=(); skip=0; snaps=0
  for a in "$@"; do
    if [ $skip = 1 ]; then skip=0; [[ $a == snapshot ]] && snaps=1; continue; fi
    if [ "$a" = -t ]; then skip=1; continue; fi
    out+=("$a")
  done
  if [ $snaps = 1 ]; then /usr/sbin/zfs "\${out[@]}" | awk -F'\\t' 'index($1, "@")'; exit "\${PIPESTATUS[0]}"; fi
  exec /usr/sbin/zfs "\${out[@]}"
fi
exec /usr/sbin/zfs "$@"
`;

async function main(): Promise<void> {
  // A server this run started is stopped at the end (RUNBOOK_DATA_DIR keeps its state apart from a test run's).
  const server = await ensureTemporalDevServer(() => undefined);
  const lab = await startBenchLab('bench-zfs-sweep', 194, 16 * 2 ** 30);
  const client = await connectClient();
  const taskQueue = `bench-zfs-sweep-${process.pid}`;
  const worker = await createRunbooksWorker({ taskQueue });
  const running = worker.run();
  const sweep = async (input: Record<string, unknown>) => {
    const started = Date.now();
    const handle = await client.workflow.start('replicateProjects', { taskQueue, workflowId: `bench/zfs-sweep/${Date.now()}`, args: [{ hosts: HOSTS, ...input }] });
    const r = (await handle.result()) as RunbookResult<SweepResult>;
    const ms = Date.now() - started;
    const breakdown = sweepBreakdown(await runChain(client, handle.workflowId, handle.firstExecutionRunId));
    return { ms, r: r.value, breakdown };
  };
  try {
    // BENCH_INLINE=1: projects made already in line (bench/zfs-inline-projects.ts), no first sweep:
    // the way to measure at thousands of projects. Otherwise the lab generator's projects in every
    // state, brought in line by a first sweep of children (which also exercises the batches).
    const inline = process.env.BENCH_INLINE === '1';
    process.stdout.write(`generating ${N} projects${inline ? ' (in line already)' : ''}...\n`);
    const t0 = Date.now();
    const manifest = inline
      ? null
      : await generateProjects(
          HOSTS.map((h) => lab.ctx[h]),
          { count: N, seed: 'bench-zfs-sweep' },
        );
    const inlineMade = inline
      ? await generateInlineProjects(
          HOSTS.map((h) => lab.ctx[h]),
          N,
        )
      : null;
    process.stdout.write(`  ${((Date.now() - t0) / 1000).toFixed(1)} s ${JSON.stringify(manifest?.timingsMs ?? inlineMade?.timingsMs)}\n`);

    const gates = HOSTS.flatMap((h) => [`rollback-${h}`, `replace-${h}`]);
    const first = inline ? null : await sweep({ concurrency: 16, perHostConcurrency: 12, batchSize: 250, maxFailures: N, allowRollback: true, childApprove: gates });
    if (first)
      process.stdout.write(
        `first sweep (brings every project in line): ${(first.ms / 1000).toFixed(1)} s, ${first.r.runs} runs, ${JSON.stringify(first.r.totals)}\n${formatBreakdown(first.breakdown, N)}\n`,
      );

    // The sweep reads every project once per run and schedules children only for the ones that need
    // work, at most batchSize per run: a no-change sweep is one run whatever N is.
    const batch = { batchSize: Number(process.env.BENCH_BATCH ?? 500) };
    let serial: Awaited<ReturnType<typeof sweep>> | null = null;
    if (process.env.BENCH_COMPARE_LANES === '1') {
      // The same no-change sweep with the change probes one after another per host, for comparison.
      process.env.RUNBOOK_SWEEP_PROBE_LANES = '1';
      serial = await sweep({ concurrency: 8, ...batch });
      process.stdout.write(
        `no-change sweep, probes 1 lane per host: ${(serial.ms / 1000).toFixed(1)} s for ${N} projects (${(serial.ms / N).toFixed(1)} ms/project)\n${formatBreakdown(serial.breakdown, N)}\n`,
      );
      delete process.env.RUNBOOK_SWEEP_PROBE_LANES;
    }
    const load = () =>
      os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' ');
    let after: Awaited<ReturnType<typeof sweep>> | null = null;
    if (process.env.BENCH_COMPARE_DESTROY === '1') {
      // The same no-change sweep with the probes left to one `zfs destroy -r` per host per chunk.
      process.env.RUNBOOK_SWEEP_PROBE_DESTROY = 'after';
      process.stdout.write(`load average before: ${load()}\n`);
      after = await sweep({ concurrency: 8, ...batch });
      process.stdout.write(
        `no-change sweep, probes destroyed by one zfs destroy -r per host and chunk: ${(after.ms / 1000).toFixed(1)} s for ${N} projects (${(after.ms / N).toFixed(1)} ms/project), ${JSON.stringify(after.r.totals)}\n${formatBreakdown(after.breakdown, N)}\n`,
      );
      delete process.env.RUNBOOK_SWEEP_PROBE_DESTROY;
    }
    // Generating thousands of projects leaves zfs-fuse flushing for a while: measure on a quiet
    // machine, then take the median of BENCH_SWEEP_REPS sweeps (each printed).
    const settled = await settle();
    process.stdout.write(
      `waited ${(settled.waitedMs / 1000).toFixed(0)} s for the machine to go quiet (CPU ${settled.idlePct.toFixed(0)}% idle over 2 s, load average ${settled.load1.toFixed(1)}); load average before the no-change sweep: ${load()}\n`,
    );
    const reps = Math.max(1, Number(process.env.BENCH_SWEEP_REPS ?? 3));
    const idles: Array<Awaited<ReturnType<typeof sweep>>> = [];
    // BENCH_COMPARE_READ=1: each rep also sweeps with the copies read as a sweep's later runs read
    // them (listing, then chunks by name), alternating, so both see the same machine.
    const compareRead = process.env.BENCH_COMPARE_READ === '1';
    const chunked: Array<Awaited<ReturnType<typeof sweep>>> = [];
    for (let k = 0; k < reps; k++) {
      const one = await sweep({ concurrency: 8, ...batch });
      process.stdout.write(`  no-change sweep ${k + 1}/${reps}: ${(one.ms / 1000).toFixed(2)} s (${(one.ms / N).toFixed(2)} ms/project)\n`);
      idles.push(one);
      if (compareRead) {
        process.env.RUNBOOK_SWEEP_READ = 'chunks';
        const other = await sweep({ concurrency: 8, ...batch });
        delete process.env.RUNBOOK_SWEEP_READ;
        process.stdout.write(`  the same, copies read by listing + chunks: ${(other.ms / 1000).toFixed(2)} s (${(other.ms / N).toFixed(2)} ms/project)\n`);
        chunked.push(other);
      }
    }
    const chunkedMedian = chunked.length ? [...chunked].sort((x, y) => x.ms - y.ms)[chunked.length >> 1] : null;
    const idle = [...idles].sort((x, y) => x.ms - y.ms)[idles.length >> 1];
    const perProject = idle.r.totals.roundTrips / N;
    process.stdout.write(
      `no-change sweep: ${(idle.ms / 1000).toFixed(1)} s for ${N} projects (${(idle.ms / N).toFixed(1)} ms/project), ${idle.r.totals.roundTrips} SSH round trips (${perProject.toFixed(3)}/project), ${JSON.stringify(idle.r.totals)}\n`,
    );
    process.stdout.write(`where the no-change sweep's time goes (load average after: ${load()}):\n${formatBreakdown(idle.breakdown, N)}\n`);
    if (chunkedMedian) {
      process.stdout.write(
        `side by side (median of ${reps} each): pool-wide read ${(idle.ms / 1000).toFixed(1)} s, listing + chunks ${(chunkedMedian.ms / 1000).toFixed(1)} s: ${(chunkedMedian.ms / idle.ms).toFixed(2)}x faster\nwhere listing + chunks spends it:\n${formatBreakdown(chunkedMedian.breakdown, N)}\n`,
      );
    }
    const perProjectMs = idle.ms / N;
    process.stdout.write(
      N >= 18000
        ? `measured at ${N} projects: ${(idle.ms / 1000).toFixed(1)} s (goal: 18,000 in 60 s, 3.3 ms/project)\n`
        : `extrapolated to 18,000 projects at this cost per project: ${((perProjectMs * 18000) / 1000).toFixed(0)} s (goal: 60 s, 3.3 ms/project)\n`,
    );

    // syncoid on a sample of the same projects, each from its source to its first replica.
    let syncoid: { runs: number; ok: number; medianMs: number; totalMs: number; note: string } | null = null;
    if (SAMPLE === 0) {
      process.stdout.write('syncoid: skipped (BENCH_SYNCOID_SAMPLE=0)\n');
    } else if (!manifest) {
      process.stdout.write('syncoid: not with BENCH_INLINE\n');
    } else if (existsSync('/usr/sbin/syncoid')) {
      for (const h of HOSTS) writeFileSync(path.join(lab.labDir, 'hosts', h, 'bin', 'zfs'), ZFS_SHIM, { mode: 0o755 });
      const key = path.join(lab.labDir, 'keys', 'operator');
      const sample = manifest.projects.filter((_, i) => i % Math.max(1, Math.floor(N / SAMPLE)) === 0).slice(0, SAMPLE);
      const times: number[] = [];
      let ok = 0;
      for (const p of sample) {
        const target = lab.addresses[p.replicas[0].host];
        const started = Date.now();
        const r = await lab.ctx[p.source].exec(
          `PATH=/usr/local/sbin:$PATH syncoid --no-privilege-elevation --sshkey=${key} --sshoption=StrictHostKeyChecking=no --sshoption=UserKnownHostsFile=/dev/null --sshoption=LogLevel=ERROR ${p.dataset} root@${target}:${p.dataset}`,
          { timeoutMs: 120_000 },
        );
        times.push(Date.now() - started);
        if (r.code === 0) ok++;
        else process.stdout.write(`  syncoid ${p.id}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}\n`);
      }
      const total = times.reduce((a, b) => a + b, 0);
      syncoid = { runs: sample.length, ok, medianMs: median(times), totalMs: total, note: 'with a `zfs get -t` shim: syncoid 2.1.0 does not run on zfs-fuse as shipped' };
      process.stdout.write(
        `syncoid (shimmed), ${sample.length} of the projects one after another: ${ok} ok, median ${median(times)} ms/project -> ~${((median(times) * N) / 1000).toFixed(0)} s for ${N}\n`,
      );
    } else {
      process.stdout.write('syncoid: not installed (apt-get install sanoid)\n');
    }

    process.stdout.write(`\nratio: syncoid time per project / no-change sweep time per project = ${syncoid ? (syncoid.medianMs / (idle.ms / N)).toFixed(1) : 'n/a'}x\n`);
    const out = path.join(__dirname, 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      path.join(out, `zfs-sweep-${Date.now()}.json`),
      JSON.stringify(
        {
          projects: N,
          inline,
          after,
          generateMs: manifest?.timingsMs ?? inlineMade?.timingsMs,
          first,
          serial,
          idle,
          idleMs: idles.map((x) => x.ms),
          chunkedMs: chunked.map((x) => x.ms),
          chunked: chunkedMedian,
          settled,
          syncoid,
        },
        null,
        2,
      ),
    );
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    await client.connection.close();
    await lab.stop();
    if (server.started) await stopTemporalDevServer();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
