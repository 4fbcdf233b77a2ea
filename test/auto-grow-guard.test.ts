import { WorkflowExecutionAlreadyStartedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { MiB } from '../activities/lvm/commands';
import { clearFaults, writeFaults } from '../lab/emulators/lvm';
import { fillTest, HOST } from '../lab/scenarios/readonly-data';
import { scenarioContext } from '../lab/scenario-context';
import type { AuditLog } from '../common/audit';
import type { RunbookResult } from '../workflows/engine/runbook';
import { auditQuery } from '../workflows/engine/messages';
import { guardStatusQuery, type GuardPlan, type GuardStatus } from '../workflows/autoGrowGuard';
import { fromDefinition } from '../runbooks/catalog';
import { autoGrowGuardDefinition } from '../runbooks/autoGrowGuard/definition';
import { GUARD_ID, ReadonlyDataLab } from './helpers/readonly-data-lab';
import { closeTestClient, scheduledActivityTypes, testClient } from './helpers/temporal';

// The auto-grow guard on a repaired readonly-data host (fixReadonlyData with its own guard off). It
// runs on the engine: plan mode schedules only reads; its watcher extends the LV to absolute sizes,
// refuses to pass its ceiling or the VG's free extents and says so once, keeps its audit across
// continue-as-new, and is the only guard of its volume. The last test is the one that matters: a
// writer at the disk's full speed fills /data back to back until the VG is out of space, and not
// one write fails before that.

const lab = new ReadonlyDataLab();
const lvmExtends = () => lab.lvmCommands().filter((c) => c.startsWith('lvextend'));
const entry = fromDefinition(autoGrowGuardDefinition);

beforeAll(async () => {
  await lab.setUp();
  const fix = await lab.start(lab.input({ approve: ['rebuild-offset-pvs', 'release-deleted-files'], guard: { enabled: false }, probe: { enabled: false } }));
  await fix.result();
}, 300_000);
afterEach(() => clearFaults(lab.paths.lvmState));
afterAll(async () => {
  await lab.tearDown();
  await closeTestClient();
}, 120_000);

async function startGuard(extra: Record<string, unknown>): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const input = { host: 'object-store', vg: 'vg0', lv: 'data0', mountPoint: '/data', thresholdPercent: 80, stepMiB: 63, ...extra };
  expect(entry.workflowId!(input)).toBe(GUARD_ID);
  return (await testClient()).workflow.start('autoGrowGuard', { taskQueue: lab.taskQueue, workflowId: GUARD_ID, args: [input] });
}

/** Write one file that brings /data to `percent` used (df's Use%). */
async function fillTo(percent: number): Promise<void> {
  const r = await lab.host(
    `set -e; read used avail < <(df -B1 --output=used,avail /data | tail -1)
need=$(( (used + avail) * ${percent} / 100 - used + 4 * 1048576 ))
mkdir -p /data/guard-test; [ "$need" -gt 0 ] && fallocate -l "$need" /data/guard-test/fill-$(date +%s%N); df --output=pcent /data | tail -1`,
  );
  expect(r.code).toBe(0);
}

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read().catch(() => undefined as T);
    if (last !== undefined && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 1000)}`);
}

const lvMiB = () => (lab.lvExtents() * 4 * MiB) / MiB;
const extendCommands = (a: AuditLog) => a.steps.flatMap((s) => s.commands.map((c) => c.command)).filter((c) => c.startsWith('lvextend'));

test('plan mode reads the volume and returns the watcher and the next extension, scheduling nothing that changes the host', async () => {
  const client = await testClient();
  const handle = await client.workflow.start('autoGrowGuard', {
    taskQueue: lab.taskQueue,
    workflowId: `${GUARD_ID}/plan-${Date.now()}`,
    args: [{ host: 'object-store', stepMiB: 63, mode: 'plan' }],
  });
  const result = (await handle.result()) as RunbookResult<GuardPlan>;
  expect(result.outcome).toBe('planned');
  expect(result.planned.map((p) => p.step)).toEqual(['watch']);
  expect(result.planned[0].commands).toEqual([expect.stringMatching(/^end=\$\(\(SECONDS \+ 300\)\); while .*stat -f -c '%S %b %f %a' \/data/), 'lvextend -L 576m --resizefs vg0/data0']);
  expect(await scheduledActivityTypes(handle)).toEqual(['describeHosts', 'sampleVolume']);
  expect(lvMiB()).toBe(512);
}, 60_000);

test('at its ceiling it says so once and stops extending, keeps watching, and continue-as-new keeps its audit; a second guard for the volume is refused', async () => {
  const before = lvMiB();
  const ceiling = before + 64;
  const handle = await startGuard({ ceilingMiB: ceiling, windowSeconds: 2, windowsPerRun: 2 });
  await lab.waitForGuardWatching();
  await expect(startGuard({})).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  const crossed = Date.now();
  await fillTo(85);
  await waitFor(
    'an extension to the ceiling',
    async () => lvMiB(),
    (v) => v === ceiling,
  );
  process.stderr.write(`guard reaction (fill over the threshold -> LV extended): ${Date.now() - crossed} ms\n`);
  await fillTo(90);
  const audit: AuditLog = await waitFor(
    'a refusal',
    () => handle.query(auditQuery),
    (a) => a.steps.some((s) => s.name === 'cannot-extend'),
  );
  const refusal = audit.steps.find((s) => s.name === 'cannot-extend')!;
  expect(refusal.summary).toMatch(new RegExp(`already at its ceiling of ${ceiling} MiB: not extending`));
  // Many windows later (and at least two continue-as-new): still one refusal, no lvextend past the ceiling.
  const status: GuardStatus = await waitFor(
    'two continue-as-new',
    () => handle.query(guardStatusQuery),
    (s) => s.generation >= 2,
    60_000,
  );
  expect(status.blocked?.reason).toBe(refusal.summary);
  expect(status.extensions).toBe(1);
  const later = await handle.query(auditQuery);
  expect(later.startedAt).toBe(audit.startedAt);
  expect(later.steps.filter((s) => s.name === 'cannot-extend')).toHaveLength(1);
  expect(extendCommands(later)).toEqual([`lvextend -L ${ceiling}m --resizefs vg0/data0`]);
  expect(lvMiB()).toBe(ceiling);
  expect(lvmExtends().at(-1)).toBe(`lvextend -L ${ceiling}m --resizefs vg0/data0`);
  const d = await handle.describe();
  expect(d.runId).not.toBe(handle.firstExecutionRunId);
  expect(d.historyLength).toBeLessThan(200);
  await handle.terminate('next test');
  await lab.host('rm -rf /data/guard-test');
}, 120_000);

test('an lvextend that grows the LV but fails its filesystem resize: the watcher reads the volume, runs the same absolute target again (which only grows the filesystem) and keeps watching', async () => {
  const seen = lvmExtends().length;
  const lvBefore = lvMiB();
  const fsMiB = async () => Number((await lab.host('df -BM --output=size /data | tail -1')).stdout.trim().replace(/M$/, ''));
  const fsBefore = await fsMiB();
  writeFaults({ lvextendResize: { times: 1 } }, lab.paths.lvmState);
  // Short windows: each watch step ends and puts its commands in the audit within seconds. The
  // ceiling keeps this one extension small: sized from a fill rate measured off one fallocate, it
  // took the whole VG on one machine and left the last test nothing to extend into.
  const handle = await startGuard({ windowSeconds: 2, ceilingMiB: lvBefore + 64 });
  await lab.waitForGuardWatching();
  await fillTo(85);
  // Without the second run the LV would be bigger and /data as full as before: df counts the
  // filesystem without its own overhead, so it grows by what the LV grew.
  const target = await waitFor(
    'the LV extended',
    async () => lvMiB(),
    (v) => v > lvBefore,
  );
  await waitFor('/data to grow with the LV', fsMiB, (v) => v >= fsBefore + (target - lvBefore));
  const audit = await waitFor(
    'both lvextends in the audit',
    () => handle.query(auditQuery),
    (a) => extendCommands(a).length >= 2,
  );
  const lvextends = audit.steps.flatMap((st) => st.commands).filter((c) => c.command.startsWith('lvextend'));
  expect(lvextends.map((c) => [c.command, c.exitCode])).toEqual([
    [`lvextend -L ${target}m --resizefs vg0/data0`, 5],
    [`lvextend -L ${target}m --resizefs vg0/data0`, 0],
  ]);
  expect(lvmExtends().slice(seen)).toEqual([`lvextend -L ${target}m --resizefs vg0/data0`, `lvextend -L ${target}m --resizefs vg0/data0`]);
  expect(audit.steps.filter((st) => st.status === 'failed')).toEqual([]);
  expect((await handle.query(guardStatusQuery)).extensions).toBe(1);
  await handle.terminate('next test');
  await lab.host('rm -rf /data/guard-test');
}, 120_000);

test("a writer at the disk's full speed fills /data back to back: no write fails until the VG is out of space, then one clear report", async () => {
  const from = lvMiB();
  const vgMiB = () => {
    const vg = lab.lvmState().vgs[0];
    return (
      lab
        .lvmState()
        .pvs.filter((p) => vg.pvs.includes(p.uuid))
        .reduce((n, p) => n + p.peCount, 0) * 4
    );
  };
  // The tests before this one must have left the VG room to extend into, or nothing here is tested.
  expect(vgMiB() - from).toBeGreaterThanOrEqual(128);
  const handle = await startGuard({});
  await lab.waitForGuardWatching();
  const fill = await fillTest(
    scenarioContext(HOST.name, () => undefined),
    { fullSize: false },
    { untilVgFull: true },
  );
  process.stderr.write(`fill at disk speed until the VG is full: ${fill.detail}\n`);
  expect(fill.failure?.errno).toBe('ENOSPC');
  expect(fill.ok).toBe(true);
  expect(lvMiB()).toBe(vgMiB());
  const audit = await waitFor(
    'the report',
    () => handle.query(auditQuery),
    (a) => a.steps.some((s) => s.name === 'cannot-extend') && a.steps.some((s) => s.name === 'watch' && s.status === 'completed' && extendCommands({ ...a, steps: [s] }).length > 0),
  );
  const reports = audit.steps.filter((s) => s.name === 'cannot-extend');
  expect(reports).toHaveLength(1);
  expect(reports[0].summary).toMatch(/the VG has 0 free extents: cannot extend; add a disk to the VG/);
  // Absolute targets, each larger than the last: nothing applied twice.
  const targets = lvmExtends()
    .filter((c) => !lab.lvmCommands().slice(0, 2).includes(c))
    .map((c) => Number(/-L (\d+)m/.exec(c)![1]));
  expect(targets.length).toBeGreaterThan(0);
  for (const c of lvmExtends()) expect(c).toMatch(/^lvextend -L \d+m --resizefs vg0\/data0$/);
  expect(targets.filter((t) => t > from)).toEqual([...new Set(targets.filter((t) => t > from))].sort((a, b) => a - b));
  await new Promise((r) => setTimeout(r, 2000));
  expect((await handle.query(auditQuery)).steps.filter((s) => s.name === 'cannot-extend')).toHaveLength(1);
  await handle.terminate('done');
}, 180_000);
