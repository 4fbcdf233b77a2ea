// Benchmark: the readonly-data incident (seed 002), measured side by side in one run.
//   A. Object-service downtime over a whole repair: fixReadonlyData's apply run (its own probe asks
//      http://<host>:8000/ every 50 ms) versus the operators' manual procedure (the seed's commands,
//      scaled, with its `kill ${pid}; sleep 5`), probed the same way from here. Freshly broken host
//      for each run.
//   B. The auto-grow guard: on a repaired host, the scenario's fill test at rising write rates. A
//      watcher on the host samples statvfs every 20 ms; the guard's reaction is the time from usage
//      crossing the threshold to the filesystem being bigger. The highest rate with no failed write
//      is the fill rate it sustains.
// Usage: tsx bench/readonly-data-downtime.ts   (root; starts the dev server if it is down; uses its
// own lab folder and takes its host down at the end). BENCH_ROUNDS (3), BENCH_RATES (12.5,25,50,100,0;
// 0 = back to back at disk speed) tune it. The guard's own figures at disk speed, at lab scale and at
// full size: bench/guard-fill.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { answers } from '../activities/objectService/http';
import type { ProbeTotals } from '../activities/objectService/probe';
import { closeSharedPool } from '../activities/ssh/shared-pool';
import { execInHost, labDown, labUp } from '../lab/lab';
import { scenarioContext } from '../lab/scenario-context';
import { fillTest, HOST, lvmSizeArg, OBJECT_SERVICE_PORT, readBuildRecord, readonlyDataSizes } from '../lab/scenarios/readonly-data';
import { hostDir } from '../lab/paths';
import { bash } from '../activities/ssh/command';
import { ensureTemporalDevServer } from '../lab/temporal-dev-server';
import { connectClient } from '../workers/connection';
import { createRunbooksWorker } from '../workers/runbooks-worker';
import type { RunbookResult } from '../workflows/engine/runbook';
import type { FixReadonlyDataResult } from '../workflows/fixReadonlyData';
import exampleInput from '../runbooks/fixReadonlyData/examples/lab.json';
import { fmtMs, median } from './stats';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RATES = (process.env.BENCH_RATES ?? '12.5,25,50,100,0').split(',').map(Number);
const sizes = readonlyDataSizes({ fullSize: false });
const log = (l: string) => process.stderr.write(`${l}\n`);
const quiet = () => undefined;

async function freshHost(): Promise<void> {
  await labUp({ scenarios: ['readonly-data'], rebuild: true, log: quiet });
}

/** The same probe as the runbook's, from this process: every 50 ms, until stopped. */
function probe(url: string, intervalMs = 50): { stop: () => Promise<{ requests: number; failed: number; downtimeMs: number }> } {
  let running = true;
  const totals = { requests: 0, failed: 0, downtimeMs: 0 };
  const done = (async () => {
    let outageStart: number | null = null;
    while (running) {
      const t0 = Date.now();
      const r = await answers(url, 500);
      totals.requests++;
      if (r.ok && outageStart !== null) {
        totals.downtimeMs += t0 - outageStart;
        outageStart = null;
      } else if (!r.ok) {
        totals.failed++;
        outageStart ??= t0;
      }
      await new Promise((res) => setTimeout(res, Math.max(0, intervalMs - (Date.now() - t0))));
    }
    if (outageStart !== null) totals.downtimeMs += Date.now() - outageStart;
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return totals;
    },
  };
}

/** The seed's "Commands to replicate", at the lab's scale and with its device names. */
async function manualProcedure(): Promise<number> {
  const rec = readBuildRecord(hostDir(HOST.name))!;
  const [d0, d1, d2] = rec.disks.map((d) => d.device);
  const script = `set -e
pvchange --allocatable y ${d0}
mount -o rw,remount /data
pvresize ${d2}
pvmove --alloc anywhere ${d1}:0-${sizes.offsetPvUsedExtents - 1}
vgreduce -A y vg0 ${d1}
pvcreate ${d1}
vgextend vg0 ${d1}
pid=$(ps aux | grep server | awk 'NR==1{print $2}')
kill \${pid}
sleep 5
fallocate -l ${sizes.diskBytes} /media/disk3.img
d3=$(losetup --find --show /media/disk3.img)
pvcreate "$d3"
vgextend vg0 "$d3"
lvextend -L ${sizes.targetSize} /dev/mapper/vg0-data0 -A y --resizefs`;
  const t0 = Date.now();
  const r = await execInHost(HOST.name, script, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`the manual procedure failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
  return Date.now() - t0;
}

async function runbook(client: Awaited<ReturnType<typeof connectClient>>, taskQueue: string, input: Record<string, unknown>): Promise<RunbookResult<FixReadonlyDataResult>> {
  return (await client.workflow.execute('fixReadonlyData', {
    taskQueue,
    workflowId: `bench/fixReadonlyData/${Date.now()}`,
    args: [{ ...exampleInput, approve: ['rebuild-offset-pvs', 'release-deleted-files'], ...input }],
  })) as RunbookResult<FixReadonlyDataResult>;
}

/** statvfs of /data every 20 ms inside the host, one JSON line per change of size or Use%. */
const WATCH = `
import json, math, os, sys, time
end = time.monotonic() + float(sys.argv[1]); last = None
while time.monotonic() < end and not os.path.exists('/run/bench-watch-stop'):
    st = os.statvfs('/data'); size = st.f_blocks * st.f_frsize; used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize; pct = math.ceil(used * 100 / (used + avail))
    if (size, pct) != last:
        print(json.dumps({"t": time.time(), "size": size, "pct": pct}), flush=True); last = (size, pct)
    time.sleep(0.02)
`;

function reactions(lines: Array<{ t: number; size: number; pct: number }>, threshold: number): number[] {
  const out: number[] = [];
  let crossedAt: number | null = null;
  let size = lines[0]?.size ?? 0;
  for (const l of lines) {
    if (l.size > size) {
      if (crossedAt !== null) out.push((l.t - crossedAt) * 1000);
      crossedAt = null;
      size = l.size;
    }
    if (l.pct >= threshold && crossedAt === null) crossedAt = l.t;
  }
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('this benchmark needs root (lab hosts)');
  await ensureTemporalDevServer(quiet);
  const labRoot = mkdtempSync(path.join(os.tmpdir(), 'bench-readonly-data-'));
  process.env.RUNBOOK_LAB_DIR = labRoot;
  process.env.RUNBOOK_INVENTORY = path.join(labRoot, 'inventory.json');
  const taskQueue = `bench-readonly-data-${process.pid}`;
  await freshHost(); // the inventory must exist before the worker's first SSH connection
  const client = await connectClient();
  const worker: Worker = await createRunbooksWorker({ taskQueue });
  const running = worker.run();
  const url = `http://${HOST.address}:${OBJECT_SERVICE_PORT}/`;
  try {
    if (ROUNDS > 0) log(`A. object-service downtime over a whole repair (${ROUNDS} rounds, freshly broken host each time)`);
    const ours: number[] = [];
    const manual: number[] = [];
    const oursTotals: ProbeTotals[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await freshHost();
      const r = await runbook(client, taskQueue, { guard: { enabled: false } });
      const d = r.value.downtime!;
      ours.push(d.downtimeMs);
      oursTotals.push(d);
      await freshHost();
      const p = probe(url);
      const took = await manualProcedure();
      const m = await p.stop();
      manual.push(m.downtimeMs);
      log(
        `  round ${round}: fixReadonlyData ${fmtMs(d.downtimeMs)} (${d.failed}/${d.requests} failed) | manual procedure ${fmtMs(m.downtimeMs)} (${m.failed}/${m.requests} failed, took ${(took / 1000).toFixed(1)} s)`,
      );
    }
    if (ROUNDS > 0) log(`  median downtime: fixReadonlyData ${fmtMs(median(ours))}, manual ${fmtMs(median(manual))}; goal < 1 s`);

    log(
      `B. auto-grow guard (threshold ${exampleInput.guard.thresholdPercent}%, step ${lvmSizeArg(sizes.growStepBytes)}, watcher polling every ${exampleInput.guard.pollMs} ms): fill test at rising rates`,
    );
    const sustained: number[] = [];
    for (const rate of RATES) {
      await freshHost();
      await runbook(client, taskQueue, { probe: { enabled: false }, guard: exampleInput.guard });
      const seconds = Math.ceil((sizes.fillGoalBytes / ((rate || 20) * 1e6)) * 3) + 30;
      await execInHost(HOST.name, 'rm -f /run/bench-watch-stop');
      const watching = execInHost(HOST.name, bash`timeout ${seconds} /usr/bin/python3 -c ${WATCH} ${seconds}`, { timeoutMs: (seconds + 30) * 1000 });
      const fill = await fillTest(scenarioContext(HOST.name, quiet), { fullSize: false }, { rateMBps: rate });
      await execInHost(HOST.name, 'touch /run/bench-watch-stop');
      const watch = await watching;
      const samples = watch.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { t: number; size: number; pct: number });
      const reacts = reactions(samples, exampleInput.guard.thresholdPercent);
      const guardAudit = await client.workflow
        .getHandle(`autogrow/${HOST.name}/vg0/data0`)
        .query<{ steps: Array<{ name: string; commands: Array<{ command: string; durationMs: number }> }> }>('audit');
      const inGuard = guardAudit.steps
        .flatMap((s) => s.commands)
        .filter((c) => c.command.startsWith('lvextend'))
        .map((c) => c.durationMs);
      await client.workflow.getHandle(`autogrow/${HOST.name}/vg0/data0`).terminate('bench round done');
      if (fill.ok) sustained.push(rate);
      log(
        `  ${rate || 'disk speed'} ${rate ? 'MB/s' : `(${fill.writeMBps} MB/s)`}: ${fill.ok ? 'no failed write' : `FAILED: ${fill.detail}`}; ${fill.files} files in ${fill.seconds.toFixed(1)} s; ` +
          `${reacts.length} extensions, threshold crossed -> filesystem grown: median ${reacts.length ? fmtMs(median(reacts)) : '-'}, max ${reacts.length ? fmtMs(Math.max(...reacts)) : '-'}; ` +
          `lvextend + grow (guard's own, windows recorded so far): median ${inGuard.length ? fmtMs(median(inGuard)) : '-'}`,
      );
    }
    log(`  sustained fill rate without a failed write: ${sustained.length ? `${Math.max(...sustained)} MB/s` : 'none of the rates tried'} (the scenario's default is ${sizes.fillRateMBps} MB/s)`);
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    closeSharedPool();
    await client.connection.close();
    await labDown({ log: quiet });
    rmSync(labRoot, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
