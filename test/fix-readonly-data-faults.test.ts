import { clearFaults, writeFaults } from '../lab/emulators/lvm';
import { auditQuery } from '../workflows/engine/messages';
import type { RunbookResult } from '../workflows/engine/runbook';
import type { FixReadonlyDataResult } from '../workflows/fixReadonlyData';
import { ReadonlyDataLab } from './helpers/readonly-data-lab';
import { waitForStepStart } from './helpers/history-watch';
import { closeTestClient, runFailure } from './helpers/temporal';

// Things going wrong in the middle of fixReadonlyData: a pvmove killed half-way (the retry carries
// it on), a pvmove that keeps failing (the step gives up and its cleanup settles the VG), a cancel
// in the middle of the pvmove (the cleanup settles it), a failure after add-disks (its compensation
// takes the new disk out again). Each ends with the VG consistent by LVM's own rules, no extent of
// data0 lost, every object matching its checksum, /data writable and the service answering.

const lab = new ReadonlyDataLab();
const GATES = ['rebuild-offset-pvs', 'release-deleted-files'];
// No guard here (these tests are about the repair), and no fill test.
const input = (extra: Record<string, unknown> = {}) => lab.input({ approve: GATES, guard: { enabled: false }, ...extra });

beforeAll(() => lab.setUp(), 300_000);
beforeEach(() => lab.rebuild(), 120_000);
afterEach(() => clearFaults(lab.paths.lvmState));
afterAll(async () => {
  await lab.tearDown();
  await closeTestClient();
}, 120_000);

/** The host after a run that went wrong: consistent and intact, whatever the runbook says. */
async function expectConsistentAndIntact(lvExtentsBefore: number): Promise<void> {
  expect(lab.vgProblems()).toEqual([]);
  expect(lab.lvExtents()).toBeGreaterThanOrEqual(lvExtentsBefore);
  expect(await lab.objectsIntact()).toEqual({ ok: true, detail: '' });
  // No pvmove left running on the host (a cancelled one is stopped, not orphaned).
  expect((await lab.host("pgrep -f '[l]vm-emu-run.cjs pvmove' || true")).stdout.trim()).toBe('');
  const report = await lab.check(false);
  const ok = Object.fromEntries(report.checks.map((c) => [c.name, c.ok]));
  expect(ok['/data is mounted read-write and a write succeeds']).toBe(true);
  expect(ok['every object in /data/objects matches its checksum']).toBe(true);
  expect(ok['the object service answers http://127.0.0.21:8000/']).toBe(true);
}

test('a pvmove killed half-way through step 5 is carried on by the retry: the run repairs the host', async () => {
  const before = lab.lvExtents();
  // The emulated pvmove dies (SIGKILL, as a crashed host would) after 1 of the 2 extents, once.
  writeFaults({ pvmove: { failAfterExtents: 1, mode: 'kill', times: 1 }, pvmoveMsPerExtent: 200 }, lab.paths.lvmState);
  const handle = await lab.start(input());
  const result = (await handle.result()) as RunbookResult<FixReadonlyDataResult>;
  expect(result.outcome).toBe('succeeded');
  const rebuild = result.audit.steps.find((s) => s.name === 'rebuild-offset-pvs')!;
  expect(rebuild.attempts.length).toBe(2);
  expect(rebuild.attempts[0].error?.message).toMatch(/pvmove of \/dev\/loop\d+ .* failed \(exit (137|SIGKILL)\)/);
  // The second attempt carried the interrupted move on (pvmove with no PV) before anything else.
  expect(lab.lvmCommands().filter((c) => c.startsWith('pvmove'))).toEqual(['pvmove -i 1', `pvmove -i 1 ${lab.record.disks[1].device}`, 'pvmove -i 1']);
  await expectConsistentAndIntact(before);
  const report = await lab.check(false);
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
}, 180_000);

test('a pvmove that keeps failing: step 5 gives up, its cleanup settles the VG (move aborted, PV still in it), nothing is lost', async () => {
  const offsetPv = lab.record.disks[1].device;
  // More extents on the PV to empty, so the failures land in the middle of the move.
  expect((await lab.host(`lvextend -l +20 vg0/data0 ${offsetPv}`)).code).toBe(0);
  const before = lab.lvExtents();
  writeFaults({ pvmove: { failAfterExtents: 2, mode: 'error', times: 1000 }, pvmoveMsPerExtent: 20 }, lab.paths.lvmState);
  const handle = await lab.start(input());
  const failure = await runFailure(handle);
  expect(failure.message).toMatch(/fixReadonlyData failed at step rebuild-offset-pvs: pvmove of .* failed \(exit 5\): .*ABORTING: Mirror percentage check failed/);
  const audit = await handle.query(auditQuery);
  const names = audit.steps.map((s) => [s.name, s.status]);
  expect(names).toContainEqual(['rebuild-offset-pvs', 'failed']);
  expect(names).toContainEqual(['settle-offset-pvs', 'completed']);
  const settle = audit.steps.find((s) => s.name === 'settle-offset-pvs')!;
  expect(settle.summary).toMatch(/aborted it, moved extents stay where they are/);
  // Part of the move happened, part did not, and the PV never left the VG.
  const state = lab.lvmState();
  const pv = state.pvs.find((p) => p.device === offsetPv)!;
  expect(pv.vg).toBe('vg0');
  const onPv = state.vgs[0].lvs[0].segments.filter((s) => s.pv === pv.uuid).reduce((n, s) => n + s.len, 0);
  expect(onPv).toBeGreaterThan(0);
  expect(onPv).toBeLessThan(22);
  expect(lab.lvExtents()).toBe(before);
  await expectConsistentAndIntact(before);
}, 180_000);

test('cancelling during the pvmove stops it on the host, the cleanup settles the VG, and the run ends cancelled', async () => {
  const before = lab.lvExtents();
  writeFaults({ pvmoveMsPerExtent: 1500 }, lab.paths.lvmState);
  const handle = await lab.start(input());
  await waitForStepStart(handle, 'rebuild-offset-pvs');
  // Cancel once the move is under way on the host (the emulator records it in its state).
  for (let i = 0; i < 200 && !lab.lvmState().pvmove; i++) await new Promise((r) => setTimeout(r, 50));
  expect(lab.lvmState().pvmove).not.toBeNull();
  await handle.cancel();
  const failure = await runFailure(handle);
  expect(failure.name).toBe('CancelledFailure');
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  const audit = await handle.query(auditQuery);
  expect(audit.outcome).toBe('cancelled');
  const byName = Object.fromEntries(audit.steps.map((s) => [s.name, s]));
  expect(byName['rebuild-offset-pvs'].status).toBe('cancelled');
  expect(byName['settle-offset-pvs'].status).toBe('completed');
  // The cleanup found the move interrupted and carried it on to the end.
  expect(byName['settle-offset-pvs'].commands.find((c) => c.command === 'pvmove -i 1')?.stdoutTail).toMatch(/Moved: 100\.00%/);
  // Steps after the cancel never ran.
  expect(audit.steps.some((s) => s.name === 'release-deleted-files' || s.name === 'add-disks')).toBe(false);
  expect(lab.lvmState().pvs.find((p) => p.device === lab.record.disks[1].device)?.vg).toBe('vg0');
  await expectConsistentAndIntact(before);
}, 180_000);

test('a failure after add-disks runs its compensation: the disk it added is taken out again', async () => {
  const before = lab.lvExtents();
  // lvextend is broken on this host (only step 8 uses it): step 8 fails after its retries.
  expect((await lab.host('chmod -x /usr/local/sbin/lvextend')).code).toBe(0);
  const handle = await lab.start(input());
  const failure = await runFailure(handle);
  expect(failure.message).toMatch(/fixReadonlyData failed at step extend-volume/);
  const audit = (failure.details?.[0] ?? (await handle.query(auditQuery))) as RunbookResult<unknown>['audit'];
  const undo = audit.steps.filter((s) => s.kind === 'compensate');
  expect(undo.map((s) => [s.compensates, s.status])).toEqual([['add-disks', 'completed']]);
  // The new disk is gone: not in the VG, no PV label, no loop device, no image.
  const state = lab.lvmState();
  expect(state.vgs[0].pvs).toHaveLength(3);
  expect((await lab.host('ls /media/*.img')).stdout.trim().split('\n')).toEqual(['/media/disk0.img', '/media/disk1.img', '/media/disk2.img']);
  const added = /\/media\/disk3\.img as (\/dev\/loop\d+)/.exec(audit.steps.find((s) => s.name === 'add-disks')?.summary ?? '')?.[1];
  expect(added).toBeDefined();
  expect((await lab.host(`losetup -l -n -O NAME,BACK-FILE | awk '$1 == "${added}" && $2 == "/media/disk3.img"'`)).stdout.trim()).toBe('');
  expect(lab.lvmChanges().filter((c) => /^(vgreduce|pvremove) /.test(c))).toHaveLength(3); // step 5's vgreduce, then the undo's vgreduce and pvremove
  await expectConsistentAndIntact(before);
}, 180_000);
