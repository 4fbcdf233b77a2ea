import type { RunbookResult } from '../workflows/engine/runbook';
import type { FixReadonlyDataResult } from '../workflows/fixReadonlyData';
import { approveUpdate, pendingApprovalQuery } from '../workflows/engine/messages';
import { MiB } from '../activities/lvm/commands';
import { HOST } from '../lab/scenarios/readonly-data';
import { exampleInput, ReadonlyDataLab, SIZES } from './helpers/readonly-data-lab';
import { closeTestClient, scheduledActivityTypes } from './helpers/temporal';

// fixReadonlyData against the readonly-data lab host (seed 002): plan mode on the broken host, then
// an apply run with an operator approving the two gated steps, judged by the scenario's own check,
// fill test included (which only passes while the auto-grow guard the run started keeps up).

const lab = new ReadonlyDataLab();

beforeAll(() => lab.setUp(), 300_000);
afterAll(async () => {
  await lab.tearDown();
  await closeTestClient();
}, 120_000);

// Activities that only read. A plan run that schedules anything else is a defect.
const READ_ONLY = new Set(['describeHosts', 'diagnoseStorage']);

test('the catalog example matches the scaled lab', () => {
  const i = exampleInput() as { host: string; diskSizeMiB: number; targetSizeMiB: number; guard: { stepMiB: number } };
  expect(i.host).toBe(HOST.name);
  expect(i.diskSizeMiB * MiB).toBe(SIZES.diskBytes);
  expect(i.targetSizeMiB * MiB).toBe(SIZES.targetBytes);
  expect(i.guard.stepMiB * MiB).toBe(SIZES.growStepBytes);
});

test('plan mode on the broken host lists every finding with its exact commands and changes nothing', async () => {
  const before = await lab.fingerprint();
  const [loop0, loop1, loop2] = lab.record.disks.map((d) => d.device);
  const handle = await lab.start(lab.input({ mode: 'plan' }));
  const result = (await handle.result()) as RunbookResult<FixReadonlyDataResult>;
  expect(result.outcome).toBe('planned');

  const byKind = Object.fromEntries(result.value.findings.map((f) => [f.kind, f]));
  expect(Object.keys(byKind).sort()).toEqual(
    ['auto-grow-guard', 'deleted-files-held', 'lv-below-target', 'pv-data-offset', 'pv-not-allocatable', 'pv-smaller-than-device', 'read-only-mount', 'too-few-pvs'].sort(),
  );
  expect(byKind['read-only-mount'].commands[0]).toBe('mount -o remount,rw /data');
  expect(byKind['pv-not-allocatable'].commands).toEqual([`pvchange --allocatable y ${loop0}`]);
  expect(byKind['pv-smaller-than-device'].commands).toEqual([`pvresize ${loop2}`]);
  expect(byKind['pv-data-offset'].commands).toEqual(['pvmove -i 1', `pvmove -i 1 ${loop1}`, `vgreduce vg0 ${loop1}`, `pvcreate ${loop1}`, `vgextend vg0 ${loop1}`]);
  expect(byKind['deleted-files-held'].evidence).toContain('/media/.tempfile (deleted)');
  expect(byKind['deleted-files-held'].commands[0]).toContain('kill -TERM $pid');
  expect(byKind['too-few-pvs'].commands[0]).toBe(`fallocate -l ${SIZES.diskBytes} /media/disk3.img`);
  expect(byKind['lv-below-target'].commands).toEqual([`lvextend -L ${SIZES.targetBytes / MiB}m --resizefs vg0/data0`]);
  expect(byKind['auto-grow-guard'].commands[0]).toContain('--id autogrow/object-store/vg0/data0');

  // The engine's plan: every mutating step with the same commands, the gated ones marked.
  expect(result.planned.map((p) => p.step)).toEqual([
    'remount-rw',
    'make-pvs-allocatable',
    'resize-pvs',
    'rebuild-offset-pvs',
    'release-deleted-files',
    'add-disks',
    'extend-volume',
    'start-auto-grow-guard',
  ]);
  expect(result.planned.filter((p) => p.description.includes('needs approval')).map((p) => p.step)).toEqual(['rebuild-offset-pvs', 'release-deleted-files']);

  // Nothing but reads was scheduled, and the host is exactly as it was.
  const types = await scheduledActivityTypes(handle);
  expect(types.filter((t) => !READ_ONLY.has(t))).toEqual([]);
  expect(types).toContain('diagnoseStorage');
  const after = await lab.fingerprint();
  expect(after.parts).toEqual(before.parts);
  expect(after.digest).toBe(before.digest);
  expect(lab.lvmChanges()).toEqual([]);
});

test('apply, with an operator approving the gated steps, repairs the host: the scenario check passes, fill test included', async () => {
  const handle = await lab.start(lab.input());
  const approve = async (step: string) => {
    for (let i = 0; i < 300; i++) {
      const pending = await handle.query(pendingApprovalQuery).catch(() => null);
      if (pending?.step === step) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return handle.executeUpdate(approveUpdate, { args: [{ step, decision: 'approve', approver: 'test-operator', comment: 'seen the plan' }] });
  };
  await approve('rebuild-offset-pvs');
  await approve('release-deleted-files');
  const result = (await handle.result()) as RunbookResult<FixReadonlyDataResult>;
  expect(result.outcome).toBe('succeeded');
  expect(result.value.remaining).toEqual([]);
  const steps = Object.fromEntries(result.audit.steps.map((s) => [s.name, s]));
  expect(steps['rebuild-offset-pvs'].approval).toMatchObject({ decision: 'approved', approver: 'test-operator' });
  expect(steps['release-deleted-files'].approval).toMatchObject({ decision: 'approved', approver: 'test-operator' });
  for (const s of result.audit.steps) expect([s.name, s.status]).toEqual([s.name, 'completed']);

  // The downtime figure: the probe asked every 50 ms through the whole run; only the restart may cost.
  const d = result.value.downtime!;
  expect(d.requests).toBeGreaterThan(20);
  expect(d.ok + d.failed).toBe(d.requests);
  expect(d.downtimeMs).toBeLessThan(1000);
  process.stderr.write(`fixReadonlyData downtime: ${d.downtimeMs} ms (${d.failed} of ${d.requests} requests failed, longest outage ${d.longestOutageMs} ms)\n`);

  // Every LVM change ran exactly once on the host.
  const changes = lab.lvmChanges();
  expect(new Set(changes).size).toBe(changes.length);
  expect(lab.serviceRestarts()).toBe(1);

  // The guard runs, one per volume, and the scenario's own check passes with its fill test.
  expect(result.value.guard).toEqual({ workflowId: 'autogrow/object-store/vg0/data0', alreadyRunning: false });
  await lab.waitForGuardWatching();
  const report = await lab.check(true);
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  expect(report.ok).toBe(true);
  // The guard's audit: the watch window that grew /data is recorded once the writes stop (2 s quiet).
  const guardHandle = await lab.guardHandle();
  let extendCommands: string[] = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && extendCommands.length === 0; await new Promise((r) => setTimeout(r, 200))) {
    const guardAudit = await guardHandle.query<{ steps: Array<{ name: string; status: string; commands: Array<{ command: string }> }> }>('audit');
    extendCommands = guardAudit.steps
      .filter((s) => s.name === 'watch' && s.status === 'completed')
      .flatMap((s) => s.commands.map((c) => c.command))
      .filter((c) => c.startsWith('lvextend'));
  }
  expect(extendCommands.length).toBeGreaterThan(0);
  // Absolute targets only: lvextend -L <n>m, never +500M.
  for (const c of extendCommands) expect(c).toMatch(/^lvextend -L \d+m --resizefs vg0\/data0$/);
}, 400_000);
