import type { RunbookResult } from '../workflows/engine/runbook';
import type { FixReadonlyDataResult } from '../workflows/fixReadonlyData';
import { ReadonlyDataLab, SIZES } from './helpers/readonly-data-lab';
import { waitForStepStart } from './helpers/history-watch';
import { closeTestClient, testClient } from './helpers/temporal';

// The worker running fixReadonlyData is killed with SIGKILL at each step boundary in turn, one run
// per boundary, each on a freshly broken host: the moment the workflow task that begins the next
// step is in the history (its first activity just scheduled, maybe already running on the host),
// the worker's whole process group dies; a new worker takes over. Each run must still repair the
// host, and no step may be applied twice: every LVM change appears once in the host's own command
// log, the service was restarted once, one disk image was added, data0 is exactly its target.
//
// Time: about 20 s a boundary (a new worker bundles the workflows in ~5 s; the dead worker's
// activity is noticed after its 5 s heartbeat timeout, its workflow task after the sticky queue's
// 10 s). The scenario check runs after every run, with its fill test: a writer at disk speed
// filling /data back to back (a few seconds at this scale), which the guard the run started must
// keep ahead of with no failed write, whichever boundary the worker died at.

const lab = new ReadonlyDataLab();

beforeAll(() => lab.setUp(), 300_000);
afterAll(async () => {
  await lab.tearDown();
  await closeTestClient();
}, 120_000);

const ORDER = [
  'diagnose',
  'remount-rw',
  'make-pvs-allocatable',
  'resize-pvs',
  'rebuild-offset-pvs',
  'release-deleted-files',
  'add-disks',
  'extend-volume',
  'start-auto-grow-guard',
  'confirm-repaired',
];
const BOUNDARIES = ORDER.slice(0, -1).map((after, i) => ({ after, next: ORDER[i + 1] }));

test.each(BOUNDARIES)(
  'SIGKILL between $after and $next: the run completes, the host passes its check, no step applied twice',
  async ({ next }) => {
    await lab.rebuild();
    if (!lab.worker || lab.worker.child.exitCode !== null || lab.worker.child.signalCode !== null) await lab.startWorker();
    const handle = await lab.start(lab.input({ approve: ['rebuild-offset-pvs', 'release-deleted-files'] }), `test/fixReadonlyData/crash-${next}-${Date.now()}`);

    await waitForStepStart(handle, next);
    await lab.worker!.stop('SIGKILL');
    const killedAt = Date.now();
    await lab.startWorker();
    const result = (await handle.result()) as RunbookResult<FixReadonlyDataResult>;
    expect(result.outcome).toBe('succeeded');
    const hit = result.audit.steps.find((s) => s.name === next)!;
    process.stderr.write(
      `killed as ${next} began: ${hit.attempts.length} attempt(s) of it (${hit.attempts[0].error?.type ?? 'first attempt not lost'}); the run finished ${Date.now() - killedAt} ms after the kill\n`,
    );

    // The engine: every step before the boundary ran once; the one after it at least once.
    const steps = result.audit.steps.filter((s) => s.kind !== 'compensate');
    expect(steps.map((s) => s.name)).toEqual(['resolve-hosts', ...ORDER]);
    for (const s of steps.slice(
      0,
      steps.findIndex((x) => x.name === next),
    ))
      expect([s.name, s.attempts.length]).toEqual([s.name, 1]);
    for (const s of steps) expect([s.name, s.status]).toEqual([s.name, 'completed']);

    // The host: each LVM change once (the command log is the host's, not the runbook's), one restart,
    // one new disk, data0 exactly its target (an extension applied twice would show), one guard.
    const changes = lab.lvmChanges();
    expect(changes.filter((c, i) => changes.indexOf(c) !== i)).toEqual([]);
    expect(changes.filter((c) => c.startsWith('lvextend'))).toEqual([`lvextend -L ${SIZES.targetBytes / 1024 / 1024}m --resizefs vg0/data0`]);
    expect(lab.serviceRestarts()).toBe(1);
    expect((await lab.host('ls /media/*.img')).stdout.trim().split('\n')).toEqual(['/media/disk0.img', '/media/disk1.img', '/media/disk2.img', '/media/disk3.img']);
    expect(lab.lvExtents() * SIZES.extentBytes).toBe(SIZES.targetBytes);
    expect(lab.vgProblems()).toEqual([]);
    // The guard's id allows one running execution; this run's (started after the run began) is it.
    const guard = await (await testClient()).workflow.getHandle(result.value.guard!.workflowId).describe();
    expect(guard.status.name).toBe('RUNNING');
    expect(guard.startTime.getTime()).toBeGreaterThanOrEqual((await handle.describe()).startTime.getTime());

    await lab.waitForGuardWatching();
    const report = await lab.check(true);
    process.stderr.write(`fill test after the kill before ${next}: ${report.checks.at(-1)?.detail}\n`);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
  },
  300_000,
);
