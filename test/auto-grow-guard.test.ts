import { WorkflowExecutionAlreadyStartedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { MiB } from '../activities/lvm/commands';
import type { AuditLog } from '../common/audit';
import { auditQuery } from '../workflows/engine/messages';
import { guardStatusQuery, type GuardStatus } from '../workflows/autoGrowGuard';
import { autoGrowGuardEntry } from '../runbooks/autoGrowGuard/entry';
import { GUARD_ID, ReadonlyDataLab } from './helpers/readonly-data-lab';
import { closeTestClient, testClient } from './helpers/temporal';

// The auto-grow guard on a repaired readonly-data host (fixReadonlyData with its own guard off):
// usage is pushed over the threshold with fallocate, and the guard must extend the LV by a step to
// an absolute size, refuse to pass its ceiling or the VG's free extents and say so once, survive
// continue-as-new with its audit, and be the only guard of its volume.

const lab = new ReadonlyDataLab();
const lvmExtends = () => lab.lvmCommands().filter((c) => c.startsWith('lvextend'));

beforeAll(async () => {
  await lab.setUp();
  const fix = await lab.start(lab.input({ approve: ['rebuild-offset-pvs', 'release-deleted-files'], guard: { enabled: false }, probe: { enabled: false } }));
  await fix.result();
}, 300_000);
afterAll(async () => {
  await lab.tearDown();
  await closeTestClient();
}, 120_000);

async function startGuard(extra: Record<string, unknown>): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const input = { host: 'object-store', vg: 'vg0', lv: 'data0', mountPoint: '/data', thresholdPercent: 80, stepMiB: 63, intervalSeconds: 0.3, ...extra };
  expect(autoGrowGuardEntry.workflowId!(input)).toBe(GUARD_ID);
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

test('over the threshold, it extends by one step to an absolute size, grows the filesystem online and audits it; a second guard for the volume is refused', async () => {
  expect(lvMiB()).toBe(512);
  const handle = await startGuard({});
  await waitFor('a first sample', () => handle.query(guardStatusQuery), (s) => s.samples > 0);
  expect(lvmExtends()).toHaveLength(1); // fixReadonlyData's own step 8 only
  const crossed = Date.now();
  await fillTo(85);
  const audit = await waitFor('an extension', () => handle.query(auditQuery), (a) => a.steps.some((s) => s.name === 'extend' && s.status === 'completed'));
  process.stderr.write(`guard reaction (fill over the threshold -> extension recorded): ${Date.now() - crossed} ms\n`);
  expect(lvMiB()).toBe(576); // 512 + 63 rounded up to 4 MiB extents
  expect(lvmExtends().slice(1)).toEqual(['lvextend -L 576m --resizefs vg0/data0']);
  const ext = audit.steps.find((s) => s.name === 'extend')!;
  expect(ext.summary).toMatch(/8\d% used \(threshold 80%\): 512 -> 576 MiB; vg0\/data0 512 -> 576 MiB, xfs filesystem 512 -> 576 MiB/);
  expect(ext.commands.map((c) => c.command)).toContain('lvextend -L 576m --resizefs vg0/data0');
  const df = await lab.host("df -B1 --output=pcent /data | tail -1 | tr -dc 0-9");
  expect(Number(df.stdout)).toBeLessThan(80);

  // One guard per volume: its id is the lock.
  await expect(startGuard({})).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  await handle.terminate('next test');
}, 120_000);

test('at its ceiling it says so once and stops extending, keeps sampling, and continue-as-new keeps its audit', async () => {
  const before = lvMiB();
  const ceiling = before + 64;
  const handle = await startGuard({ ceilingMiB: ceiling, intervalSeconds: 0.2, samplesPerRun: 10 });
  await fillTo(85);
  await waitFor('an extension to the ceiling', async () => lvMiB(), (v) => v === ceiling);
  await fillTo(90);
  const audit: AuditLog = await waitFor('a refusal', () => handle.query(auditQuery), (a) => a.steps.some((s) => s.name === 'cannot-extend'));
  const refusal = audit.steps.find((s) => s.name === 'cannot-extend')!;
  expect(refusal.summary).toMatch(new RegExp(`already at its ceiling of ${ceiling} MiB: not extending`));
  // Many samples later (and at least one continue-as-new): still one refusal, no lvextend past the ceiling.
  const status: GuardStatus = await waitFor('two continue-as-new', () => handle.query(guardStatusQuery), (s) => s.generation >= 2, 60_000);
  expect(status.blocked?.reason).toBe(refusal.summary);
  const later = await handle.query(auditQuery);
  expect(later.steps.filter((s) => s.name === 'cannot-extend')).toHaveLength(1);
  expect(later.steps.filter((s) => s.name === 'extend').map((s) => s.summary?.split(';')[0])).toEqual([expect.stringMatching(new RegExp(`${before} -> ${ceiling} MiB$`))]);
  expect(lvMiB()).toBe(ceiling);
  expect(lvmExtends().at(-1)).toBe(`lvextend -L ${ceiling}m --resizefs vg0/data0`);
  // The history of the current run is small: it was continued as new every 10 samples.
  const d = await handle.describe();
  expect(d.runId).not.toBe(handle.firstExecutionRunId);
  expect(d.historyLength).toBeLessThan(200);
  await handle.terminate('next test');
}, 120_000);

test('when the VG runs out it extends as far as the free extents go, then reports it once', async () => {
  const vg = lab.lvmState().vgs[0];
  const vgMiB = lab.lvmState().pvs.filter((p) => vg.pvs.includes(p.uuid)).reduce((n, p) => n + p.peCount, 0) * 4;
  const handle = await startGuard({ stepMiB: 2000 });
  await fillTo(85);
  const filled = await waitFor('the VG filled', () => handle.query(auditQuery), (a) => a.steps.some((s) => s.name === 'extend' && s.status === 'completed'));
  expect(lvMiB()).toBe(vgMiB);
  const ext = filled.steps.find((s) => s.name === 'extend')!;
  expect(ext.summary).toMatch(/capped by the VG's free extents/);
  await fillTo(90);
  const audit = await waitFor('a refusal', () => handle.query(auditQuery), (a) => a.steps.some((s) => s.name === 'cannot-extend'));
  expect(audit.steps.find((s) => s.name === 'cannot-extend')!.summary).toMatch(/the VG has 0 free extents: cannot extend; add a disk to the VG/);
  await new Promise((r) => setTimeout(r, 3000));
  expect((await handle.query(auditQuery)).steps.filter((s) => s.name === 'cannot-extend')).toHaveLength(1);
  expect(lvmExtends().at(-1)).toBe(`lvextend -L ${vgMiB}m --resizefs vg0/data0`);
  await handle.terminate('done');
}, 120_000);
