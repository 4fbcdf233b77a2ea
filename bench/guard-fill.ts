// Benchmark: the auto-grow guard against a writer at the disk's full speed (issue 13), one run.
// On a readonly-data host repaired by fixReadonlyData (with its guard), the scenario's fill test
// writes files of 1/40 of the target size (100 MiB at full size, 12.5 MiB at the lab's 1/8) from
// the kernel's random source, back to back, until the VG is out of space. It passes only if the
// first failed write is ENOSPC with no free extent left in the VG. Prints the write rate, the result,
// the guard's extensions (targets, grow times, the fill rate it saw) and its report.
// Usage (root): npx tsx bench/guard-fill.ts              lab scale (1/8: a 512 MiB volume, 4 x 225 MiB disks)
//               BENCH_FULL_SIZE=1 npx tsx bench/guard-fill.ts   the incident's size (4 GiB, 4 x 1800 MB)
// Starts the dev server if it is down; uses its own lab folder and takes its host down at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { closeSharedPool } from '../activities/ssh/shared-pool';
import { labDown, labUp } from '../lab/lab';
import { scenarioContext } from '../lab/scenario-context';
import { fillTest, HOST, readonlyDataSizes } from '../lab/scenarios/readonly-data';
import { ensureTemporalDevServer, stopTemporalDevServer } from '../lab/temporal-dev-server';
import { connectClient } from '../workers/connection';
import { createRunbooksWorker } from '../workers/runbooks-worker';
import type { AuditLog } from '../common/audit';
import type { GuardStatus } from '../workflows/autoGrowGuard';
import exampleInput from '../runbooks/fixReadonlyData/examples/lab.json';

const FULL = process.env.BENCH_FULL_SIZE === '1';
const sizes = readonlyDataSizes({ fullSize: FULL });
const log = (l: string) => process.stderr.write(`${l}\n`);
const quiet = () => undefined;
const MiB = 1024 * 1024;
const GUARD_ID = `autogrow/${HOST.name}/vg0/data0`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('this benchmark needs root (lab hosts)');
  // Run inside /work/bin/isolated (or anywhere with port 7233 free): a server it starts, it stops.
  const dev = await ensureTemporalDevServer(quiet);
  const labRoot = mkdtempSync(path.join(os.tmpdir(), 'bench-guard-fill-'));
  process.env.RUNBOOK_LAB_DIR = labRoot;
  process.env.RUNBOOK_INVENTORY = path.join(labRoot, 'inventory.json');
  const taskQueue = `bench-guard-fill-${process.pid}`;
  let t = Date.now();
  await labUp({ scenarios: ['readonly-data'], rebuild: true, fullSize: FULL, log: quiet });
  log(
    `readonly-data ${FULL ? 'at full size' : `at 1/${sizes.scale} scale`} built in ${((Date.now() - t) / 1000).toFixed(1)} s: disks of ${sizes.diskBytes / MiB} MiB, target ${sizes.targetSize}, fill files of ${(sizes.fillFileBytes / MiB).toFixed(1)} MiB`,
  );
  const client = await connectClient();
  const worker: Worker = await createRunbooksWorker({ taskQueue });
  const running = worker.run();
  try {
    const input = FULL
      ? { ...exampleInput, diskSizeMiB: sizes.diskBytes / MiB, targetSizeMiB: sizes.targetBytes / MiB, guard: { ...exampleInput.guard, stepMiB: sizes.growStepBytes / MiB } }
      : exampleInput;
    t = Date.now();
    const fix = await client.workflow.start('fixReadonlyData', {
      taskQueue,
      workflowId: `bench/guard-fill/${Date.now()}`,
      args: [{ ...input, probe: { enabled: false }, approve: ['rebuild-offset-pvs', 'release-deleted-files'] }],
    });
    // A long poll on the result can end with a transient gRPC error on a busy machine: poll again.
    for (let tries = 0; ; tries++) {
      try {
        await fix.result();
        break;
      } catch (err) {
        if (tries >= 20 || (err as Error).name !== 'ServiceError') throw err;
        log(`  (waiting for the repair: ${(err as Error).message}: ${String((err as { cause?: Error }).cause?.message ?? '')})`);
      }
    }
    log(
      `fixReadonlyData repaired it in ${((Date.now() - t) / 1000).toFixed(1)} s and started the guard (threshold ${input.guard.thresholdPercent}%, step ${input.guard.stepMiB} MiB, poll ${input.guard.pollMs} ms)`,
    );
    const guard = client.workflow.getHandle(GUARD_ID);
    for (let i = 0; i < 100; i++) {
      const d = await guard.describe();
      if ((d.raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'watchVolume' && a.lastHeartbeatTime)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const fill = await fillTest(scenarioContext(HOST.name, quiet), { fullSize: FULL }, { untilVgFull: true, timeoutMs: 30 * 60_000 });
    const reachedGoal = fill.log.find((l) => Number(/filesystem (\d+) MiB/.exec(l)?.[1] ?? 0) * MiB >= sizes.fillGoalBytes);
    log(`fill test at disk speed until the VG is out of space: ${fill.ok ? 'PASS' : 'FAIL'}: ${fill.detail}`);
    log(
      `  write rate: ${fill.writeMBps} MB/s (${(fill.writtenBytes / MiB).toFixed(0)} MiB in ${fill.seconds} s); the seed's goal (${sizes.fillGoalBytes / MiB} MiB) reached at: ${reachedGoal ?? 'never'}`,
    );
    // Let the window that grew it close (once the writes have stopped), then read the guard's own record.
    await new Promise((r) => setTimeout(r, 8000));
    const audit = await guard.query<AuditLog>('audit');
    const status = await guard.query<GuardStatus>('guardStatus');
    const ext = audit.steps.flatMap((s) => s.commands).filter((c) => c.command.startsWith('lvextend'));
    log(`  guard: ${status.extensions} extension(s), ${status.grownMiB} MiB grown, peak fill rate seen ${status.peakFillMBps} MB/s`);
    for (const c of ext) log(`    ${c.command}  (exit ${c.exitCode}, ${c.durationMs} ms)`);
    for (const s of audit.steps.filter((x) => x.name === 'watch' && x.summary)) log(`    window: ${s.summary}`);
    for (const s of audit.steps.filter((x) => x.name === 'cannot-extend')) log(`  report: ${s.summary}`);
    await guard.terminate('bench done');
    process.exitCode = fill.ok ? 0 : 1;
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    closeSharedPool();
    await client.connection.close();
    await labDown({ log: quiet });
    rmSync(labRoot, { recursive: true, force: true });
    if (dev.started) await stopTemporalDevServer(quiet);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
