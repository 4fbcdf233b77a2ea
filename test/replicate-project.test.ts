import type { WorkflowHandle } from '@temporalio/client';
import type { ReplicateProjectResult } from '../workflows/replicateProject';
import type { RunbookResult } from '../workflows/engine/runbook';
import { approveUpdate } from '../workflows/engine/messages';
import type { ProjectManifest, ProjectsManifest } from '../lab/scenarios/zfs-projects';
import { LEDGER } from '../activities/zfs-replication/ledger';
import { closeTestClient, failureWithin, resultWithin, scheduledActivityTypes, waitForApproval } from './helpers/temporal';
import { createProject, snapshotsOn, startReplicationLab, zfsProperty, type ReplicationLab } from './helpers/replication-lab';

// replicateProject against real sshd lab hosts with real zfs-fuse pools, judged by the scenario's
// independent check (sha256 of every file of the snapshot on the source and on each replica, read
// through clones), not by the runbook's own verify.

let lab: ReplicationLab;
let manifest: ProjectsManifest;
const ISO_SNAPSHOT = /^rb-\d{8}T\d{6}Z$/;
/** One replicateProject run takes 1-5 s here; a run that has not ended in this long is stuck, and says where. */
const RUN_MS = 60_000;
const result = (handle: WorkflowHandle) => resultWithin<Result>(handle, RUN_MS);
const failure = (handle: WorkflowHandle) => failureWithin(handle, RUN_MS);

beforeAll(async () => {
  lab = await startReplicationLab('replicate-project', 161);
  manifest = await lab.generate({ count: 12, seed: 'replicate-project', divergedWrite: 1, divergedSnapshot: 1, missingBaseOlderCommon: 1, missingBaseNoCommon: 1 });
}, 120_000);

// A test that failed or timed out leaves no run behind to change the hosts under the next one.
afterEach(async () => {
  await lab?.terminateOpenRuns('the test that started this run has ended');
}, 30_000);

afterAll(async () => {
  await lab?.stop();
  await closeTestClient();
}, 60_000);

type Result = RunbookResult<ReplicateProjectResult>;
const placement = (p: ProjectManifest) => ({ id: p.id, source: p.source, replicas: p.replicas.map((r) => r.host) });
const withReplica = (state: string) => manifest.projects.find((p) => p.replicas.some((r) => r.state === state)) as ProjectManifest;
const sendCommands = (r: Result['audit']) =>
  r.steps
    .filter((s) => s.name === 'send')
    .flatMap((s) => s.commands.map((c) => c.command))
    .filter((c) => c.startsWith('zfs send'));

describe('a new project', () => {
  let id: string;
  let first: Result;

  test('first replication to two replicas: full streams; the replicas equal the source, unmounted, with its quota and the ledger', async () => {
    id = await createProject(lab, 'compute1', { quotaBytes: 300 * 2 ** 20 });
    const handle = await lab.start('replicateProject', { project: id, source: 'compute1', replicas: ['compute2', 'compute3'] }, `replicate/${id}`);
    first = await result(handle);
    expect(first.value.outcome).toBe('replicated');
    expect(first.value.snapshot?.name).toMatch(ISO_SNAPSHOT);
    expect(first.value.snapshot?.created).toBe(true);
    const sends = sendCommands(first.audit);
    expect(sends).toHaveLength(2);
    for (const c of sends) expect(c).toMatch(new RegExp(`^zfs send +projects/${id}@${first.value.snapshot!.name}$`)); // full: no -i/-I
    expect(first.value.replicas.map((r) => [r.host, r.result, r.stream?.kind])).toEqual([
      ['compute2', 'sent', 'full'],
      ['compute3', 'sent', 'full'],
    ]);

    const check = await lab.check([{ id, source: 'compute1', replicas: ['compute2', 'compute3'] }]);
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
    expect(check.replicas.every((r) => r.contentEqual === true && r.mounted === false && r.replicaQuota === 300 * 2 ** 20)).toBe(true);

    // The ledger, read with plain zfs on each replica: what, which guid, when, from where.
    for (const host of ['compute2', 'compute3']) {
      const ds = `projects/${id}`;
      expect(await zfsProperty(lab, host, ds, LEDGER.lastSnapshot)).toEqual({ value: first.value.snapshot!.name, source: 'local' });
      expect((await zfsProperty(lab, host, ds, LEDGER.lastGuid)).value).toBe(first.value.snapshot!.guid);
      expect((await zfsProperty(lab, host, ds, LEDGER.receivedFrom)).value).toBe('compute1');
      expect((await zfsProperty(lab, host, ds, LEDGER.role)).value).toBe('replica');
      const at = Date.parse((await zfsProperty(lab, host, ds, LEDGER.receivedAt)).value);
      expect(Math.abs(at - Date.now())).toBeLessThan(120_000);
      expect((await zfsProperty(lab, host, ds, 'canmount')).value).toBe('noauto');
      expect((await zfsProperty(lab, host, ds, 'readonly')).value).toBe('on');
      expect(first.value.replicas.find((r) => r.host === host)?.ledger?.[LEDGER.lastGuid]).toBe(first.value.snapshot!.guid);
    }
    // The source holds each replica's base, so no retention (ours or anyone's) can destroy it.
    expect((await zfsProperty(lab, 'compute1', `projects/${id}@${first.value.snapshot!.name}`, 'userrefs')).value).toBe('2');
  });

  test('changes, then another run: an incremental stream from the previous snapshot; the replicas match again', async () => {
    await lab.sh('compute1', `echo changed >> /projects/${id}/README && head -c 200000 /dev/urandom > /projects/${id}/src/new.bin && rm /projects/${id}/data/b.csv`);
    const second = await result(await lab.start('replicateProject', { project: id, source: 'compute1', replicas: ['compute2', 'compute3'] }, `replicate/${id}`));
    expect(second.value.changed).toBe(true);
    expect(second.value.snapshot?.name).not.toBe(first.value.snapshot?.name);
    const sends = sendCommands(second.audit);
    expect(sends).toHaveLength(2);
    for (const c of sends) expect(c).toBe(`zfs send -I @${first.value.snapshot!.name} projects/${id}@${second.value.snapshot!.name}`);
    expect(second.value.bytesSent).toBeGreaterThan(200_000);
    expect(second.value.bytesSent).toBeLessThan(2 * 1024 * 1024); // an increment, not the whole project again
    const check = await lab.check([{ id, source: 'compute1', replicas: ['compute2', 'compute3'] }]);
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
    // The replicas' holds moved to the new base.
    expect((await zfsProperty(lab, 'compute1', `projects/${id}@${second.value.snapshot!.name}`, 'userrefs')).value).toBe('2');
    expect((await zfsProperty(lab, 'compute1', `projects/${id}@${first.value.snapshot!.name}`, 'userrefs')).value).toBe('0');
  });

  test('no change: no new snapshot, no stream, and a handful of round trips per host', async () => {
    const before = await snapshotsOn(lab, 'compute1', `projects/${id}`);
    const handle = await lab.start('replicateProject', { project: id, source: 'compute1', replicas: ['compute2', 'compute3'] }, `replicate/${id}`);
    const third = await result(handle);
    expect(third.value.outcome).toBe('unchanged');
    expect(third.value.changed).toBe(false);
    expect(third.value.bytesSent).toBe(0);
    expect(await snapshotsOn(lab, 'compute1', `projects/${id}`)).toEqual(before);
    const types = await scheduledActivityTypes(handle);
    expect(types).not.toContain('zfsSendSnapshot');
    // Probe once per host, inspect once per copy, plus the source's one change probe: O(1) per host.
    expect(types.filter((t) => t === 'zfsProbeFeatures')).toHaveLength(3);
    expect(third.value.roundTrips).toEqual({ compute1: 3, compute2: 2, compute3: 2 });
  });

  test('plan mode schedules only read-only activities and shows the exact commands', async () => {
    await lab.sh('compute1', `echo planned >> /projects/${id}/README`);
    const handle = await lab.start('replicateProject', { project: id, source: 'compute1', replicas: ['compute2', 'compute3'], mode: 'plan' });
    const planned = await result(handle);
    expect(planned.outcome).toBe('planned');
    expect(new Set(await scheduledActivityTypes(handle))).toEqual(new Set(['describeHosts', 'zfsProbeFeatures', 'zfsInspectCopy']));
    const commands = planned.planned.flatMap((p) => p.commands).join('\n');
    expect(commands).toContain(`zfs send -I @`);
    expect(commands).toContain(`zfs recv -u projects/${id}`);
  });
});

describe('replicas the generator broke', () => {
  test('a diverged replica (a foreign snapshot) is refused with its snapshot named, and nothing on it is destroyed; the other replica is updated', async () => {
    const p = withReplica('diverged-snapshot');
    const bad = p.replicas.find((r) => r.state === 'diverged-snapshot')!.host;
    const good = p.replicas.find((r) => r.host !== bad)!.host;
    const before = await snapshotsOn(lab, bad, p.dataset);
    const refused = await failure(await lab.start('replicateProject', { project: p.id, source: p.source, replicas: p.replicas.map((r) => r.host) }, `replicate/${p.id}`));
    expect(refused.message).toContain(`REFUSED ${p.dataset} on ${bad} has snapshots the source does not have`);
    expect(refused.message).toContain('@manual-on-replica');
    expect(refused.message).toContain(`approve step rollback-${bad}`);
    expect(await snapshotsOn(lab, bad, p.dataset)).toEqual(before);
    const check = await lab.check([{ id: p.id, source: p.source, replicas: [good] }]);
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
  });

  test('with rollback allowed, the run waits for approval of the rollback, then brings the replica back in line', async () => {
    const p = withReplica('diverged-snapshot');
    const bad = p.replicas.find((r) => r.state === 'diverged-snapshot')!.host;
    const handle = await lab.start('replicateProject', { project: p.id, source: p.source, replicas: p.replicas.map((r) => r.host), allowRollback: true }, `replicate/${p.id}`);
    const pending = await waitForApproval(handle, `rollback-${bad}`);
    expect(pending.description).toContain('@manual-on-replica');
    expect((await snapshotsOn(lab, bad, p.dataset)).map((s) => s.name)).toContain('manual-on-replica'); // nothing before the approval
    await handle.executeUpdate(approveUpdate, { args: [{ step: `rollback-${bad}`, decision: 'approve', approver: 'test', comment: 'replica only' }] });
    const approved = await result(handle);
    expect(approved.value.replicas.find((r) => r.host === bad)).toMatchObject({ result: 'sent', rolledBack: { destroyed: ['manual-on-replica'] } });
    expect((await snapshotsOn(lab, bad, p.dataset)).map((s) => s.name)).not.toContain('manual-on-replica');
    const check = await lab.check([placement(p)]);
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
  });

  test('a replica written to after its receive is refused with the change named; rolled back only when allowed and approved', async () => {
    const p = withReplica('diverged-write');
    const bad = p.replicas.find((r) => r.state === 'diverged-write')!.host;
    const refs = async () => (await zfsProperty(lab, bad, p.dataset, 'referenced')).value;
    const before = { snapshots: await snapshotsOn(lab, bad, p.dataset), referenced: await refs() };
    const refused = await failure(await lab.start('replicateProject', { project: p.id, source: p.source, replicas: p.replicas.map((r) => r.host) }, `replicate/${p.id}`));
    expect(refused.message).toContain(`REFUSED ${p.dataset} on ${bad} was changed after its newest common snapshot`);
    expect(refused.message).toContain('has been modified since most recent snapshot');
    expect({ snapshots: await snapshotsOn(lab, bad, p.dataset), referenced: await refs() }).toEqual(before);

    const ok = await result(
      await lab.start('replicateProject', { project: p.id, source: p.source, replicas: p.replicas.map((r) => r.host), allowRollback: true, approve: [`rollback-${bad}`] }, `replicate/${p.id}`),
    );
    const rolled = ok.audit.steps.find((s) => s.name === `rollback-${bad}`)!;
    expect(rolled.approval).toMatchObject({ decision: 'pre-approved' });
    expect(rolled.commands[0].command).toContain(`zfs rollback -r ${p.dataset}@`);
    const check = await lab.check([placement(p)]);
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
  });

  test('a replica that lost its newest snapshot gets the older common one, chosen by guid, as its base', async () => {
    const p = withReplica('missing-base-older-common');
    const bad = p.replicas.find((r) => r.state === 'missing-base-older-common')!;
    // It still holds @first (same guid as the source's), not @second, which it lost.
    const common = bad.newestCommon!;
    expect(common).not.toBe(p.lastReplicated);
    const r = await result(
      await lab.start('replicateProject', { project: p.id, source: p.source, replicas: p.replicas.map((x) => x.host), allowRollback: true, approve: [`rollback-${bad.host}`] }, `replicate/${p.id}`),
    );
    const toBad = r.audit.steps
      .filter((s) => s.name === 'send' && s.host === bad.host)
      .flatMap((s) => s.commands.map((c) => c.command))
      .filter((c) => c.startsWith('zfs send'));
    expect(toBad.length).toBeGreaterThan(0);
    for (const c of toBad) expect(c).toContain(`-I @${common} `);
    const check = await lab.check([placement(p)]);
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
  });

  test('a replica with nothing in common is replaced by a full stream, only when allowed and approved', async () => {
    const p = withReplica('missing-base-no-common');
    const bad = p.replicas.find((r) => r.state === 'missing-base-no-common')!.host;
    const refused = await failure(await lab.start('replicateProject', { project: p.id, source: p.source, replicas: p.replicas.map((r) => r.host) }, `replicate/${p.id}`));
    expect(refused.message).toContain(`approve step replace-${bad}`);
    const r = await result(
      await lab.start('replicateProject', { project: p.id, source: p.source, replicas: p.replicas.map((x) => x.host), allowRollback: true, approve: [`replace-${bad}`] }, `replicate/${p.id}`),
    );
    expect(r.value.replicas.find((x) => x.host === bad)).toMatchObject({ result: 'sent', replaced: true, stream: { kind: 'full' } });
    const check = await lab.check([placement(p)]);
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
  });
});

test('retention keeps the newest K runbook snapshots, but never a base a replica still needs', async () => {
  const id = await createProject(lab, 'compute2');
  const run = async (replicas: string[]) => result(await lab.start('replicateProject', { project: id, source: 'compute2', replicas, keepSnapshots: 2 }, `replicate/${id}`));
  const first = await run(['compute1', 'compute3']);
  // compute3 falls behind: the next runs replicate to compute1 only.
  for (let i = 0; i < 3; i++) {
    // No pause for the one-second resolution of snapshot names: a run whose name is taken waits for the next second itself.
    await lab.sh('compute2', `echo ${i} >> /projects/${id}/README`);
    await run(['compute1']);
  }
  const names = (await snapshotsOn(lab, 'compute2', `projects/${id}`)).map((s) => s.name);
  // The two newest, plus compute3's base (the first snapshot), held for it and protected.
  expect(names).toHaveLength(3);
  expect(names[0]).toBe(first.value.snapshot!.name);
  expect((await snapshotsOn(lab, 'compute1', `projects/${id}`)).length).toBe(2);
  // compute3 can still be brought up to date incrementally from its base.
  const catchUp = await run(['compute1', 'compute3']);
  expect(catchUp.value.replicas.find((r) => r.host === 'compute3')?.stream).toMatchObject({ kind: 'incremental', from: first.value.snapshot!.name });
  expect((await snapshotsOn(lab, 'compute2', `projects/${id}`)).map((s) => s.name)).not.toContain(first.value.snapshot!.name);
  const check = await lab.check([{ id, source: 'compute2', replicas: ['compute1', 'compute3'] }]);
  expect(check.checks.filter((c) => !c.ok)).toEqual([]);
});

test('bad input fails at once with every problem listed', async () => {
  const bad = await failure(await lab.start('replicateProject', { project: 'not-a-uuid', source: 'compute1', replicas: ['compute1'] }));
  expect(bad.message).toContain('project: a lower-case UUID');
  expect(bad.message).toContain('the source compute1 cannot also be a replica');
});
