import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { startSshd, stopSshd } from '../lab/lab';
import { LEDGER } from '../activities/zfs-replication/ledger';
import { rankCandidates } from '../activities/zfs-replication/move';
import { promoteCommand, unpromoteCommand } from '../activities/zfs-replication/commands';
import type { AuditLog } from '../common/audit';
import type { CopySnapshot, CopyState } from '../activities/zfs-replication/copy-state';
import type { RunbookResult } from '../workflows/engine/runbook';
import { approveUpdate } from '../workflows/engine/messages';
import type { MoveProjectResult } from '../workflows/moveProject';
import type { ReplicateProjectResult } from '../workflows/replicateProject';
import type { ProjectManifest } from '../lab/scenarios/zfs-projects';
import { closeTestClient, failureWithin, resultWithin, waitForApproval, waitForAudit } from './helpers/temporal';
import { snapshotsOn, startReplicationLab, zfsProperty, type ReplicationLab } from './helpers/replication-lab';

// moveProject with the source's sshd stopped: the replica with the newest snapshot takes over, the
// move says what it lost, the other replica follows the new source, and the old source, when it
// answers again, becomes a replica only after approval of the rollback that discards its changes.

let lab: ReplicationLab;
let p: ProjectManifest;
let others: ProjectManifest[];

beforeAll(async () => {
  lab = await startReplicationLab('move-project', 170);
  const m = await lab.generate({ count: 6, seed: 'move-project' });
  p = m.projects.find((x) => x.source === 'compute1')!;
  others = m.projects.filter((x) => x !== p);
}, 120_000);

// A test that failed or timed out leaves no run behind to change the hosts under the next one.
afterEach(async () => {
  await lab?.terminateOpenRuns('the test that started this run has ended');
}, 30_000);

/** A run takes seconds here; one that has not ended in this long is stuck, and says where. */
const RUN_MS = 60_000;

afterAll(async () => {
  await startSshd('compute1').catch(() => undefined);
  await lab?.stop();
  await closeTestClient();
}, 60_000);

test('the source host is unreachable: the newest replica is promoted, the loss reported, the old source rejoins after approval', async () => {
  const replicas = p.replicas.map((r) => r.host);
  const replicate = async (to: string[]) =>
    (await resultWithin<RunbookResult<ReplicateProjectResult>>(await lab.start('replicateProject', { project: p.id, source: 'compute1', replicas: to }, `replicate/${p.id}`), RUN_MS)).value;
  await replicate(replicas);
  // A change reaches only compute2, so compute2 holds the newest snapshot; then one more change
  // that nothing replicates: the move must report it lost.
  await lab.sh('compute1', `echo only-on-compute2 > /projects/${p.id}/newer.txt`);
  const newer = await replicate(['compute2']);
  await lab.sh('compute1', `echo lost > /projects/${p.id}/lost.txt`);
  await stopSshd('compute1');

  const handle = await lab.start('moveProject', { project: p.id, from: 'compute1', candidates: ['compute3', 'compute2'], waitForOldSource: '5m', pollInterval: '1s' }, `replicate/${p.id}`);
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'wait-for-old-source' && s.status === 'running'), RUN_MS);

  // Promoted: compute2 serves the project from its newest snapshot, and says so in its ledger.
  expect(await zfsProperty(lab, 'compute2', p.dataset, 'mounted')).toMatchObject({ value: 'yes' });
  expect(await zfsProperty(lab, 'compute2', p.dataset, 'readonly')).toMatchObject({ value: 'off' });
  expect((await zfsProperty(lab, 'compute2', p.dataset, LEDGER.role)).value).toBe('source');
  expect((await zfsProperty(lab, 'compute2', p.dataset, LEDGER.promotedFrom)).value).toBe('compute1');
  expect((await zfsProperty(lab, 'compute2', p.dataset, LEDGER.promotedSnapshot)).value).toBe(newer.snapshot!.name);
  // compute3 followed the new source.
  expect((await snapshotsOn(lab, 'compute3', p.dataset)).at(-1)?.guid).toBe(newer.snapshot!.guid);
  expect((await zfsProperty(lab, 'compute3', p.dataset, LEDGER.receivedFrom)).value).toBe('compute2');
  // The project's lock is held by the move: no replication of it can start meanwhile.
  await expect(lab.start('replicateProject', { project: p.id, source: 'compute2', replicas: ['compute3'] }, `replicate/${p.id}`)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);

  // The old source answers again: it waits for approval, its unreplicated change still there.
  await startSshd('compute1');
  const pending = await waitForApproval(handle, 'rollback-compute1', RUN_MS);
  expect(pending.description).toContain(`ROLL BACK ${p.dataset} on compute1 to @${newer.snapshot!.name}`);
  expect(await lab.sh('compute1', `cat /projects/${p.id}/lost.txt`)).toBe('lost\n');
  await handle.executeUpdate(approveUpdate, { args: [{ step: 'rollback-compute1', decision: 'approve', approver: 'test', comment: 'compute2 serves it now' }] });

  const result = (await resultWithin<RunbookResult<MoveProjectResult>>(handle, RUN_MS)).value;
  expect(result).toMatchObject({ from: 'compute1', to: 'compute2', reason: 'source-unreachable', snapshot: { name: newer.snapshot!.name, guid: newer.snapshot!.guid } });
  expect(result.candidates.map((c) => [c.host, c.eligible])).toEqual([
    ['compute2', true],
    ['compute3', true],
  ]);
  expect(result.lost).toContain(`everything written to ${p.dataset} on compute1 after @${newer.snapshot!.name}`);
  expect(result.oldSource).toMatchObject({ host: 'compute1', state: 'replica' });

  // Independently: compute2 is the source, compute1 and compute3 are its replicas, same files.
  const check = await lab.check([{ id: p.id, source: 'compute2', replicas: ['compute1', 'compute3'] }]);
  expect(check.checks.filter((c) => !c.ok)).toEqual([]);
  expect((await zfsProperty(lab, 'compute1', p.dataset, LEDGER.role)).value).toBe('replica');
  expect((await zfsProperty(lab, 'compute1', p.dataset, 'canmount')).value).toBe('noauto');
}, 300_000);

async function replicateAll(project: ProjectManifest): Promise<ReplicateProjectResult> {
  const handle = await lab.start('replicateProject', { project: project.id, source: project.source, replicas: project.replicas.map((r) => r.host) }, `replicate/${project.id}`);
  return (await resultWithin<RunbookResult<ReplicateProjectResult>>(handle, RUN_MS)).value;
}

/** A requested move of `q` to `target` that must fail: its message and the audit log it carries. */
async function failedMove(q: ProjectManifest, target: string): Promise<{ message: string; audit: AuditLog }> {
  const handle = await lab.start('moveProject', { project: q.id, from: q.source, candidates: q.replicas.map((r) => r.host), to: target }, `replicate/${q.id}`);
  const failure = await failureWithin(handle, RUN_MS);
  return { message: failure.message, audit: failure.details?.[0] as AuditLog };
}

test('on request, with the source reachable: fenced, synced one last time, promoted, demoted; nothing is lost', async () => {
  const q = others[0];
  const [first, second] = q.replicas.map((r) => r.host);
  await replicateAll(q);
  // Written after the last replication: only the move's final sync can carry it.
  await lab.sh(q.source, `echo written-just-before-the-move > /projects/${q.id}/last-minute.txt`);

  const handle = await lab.start('moveProject', { project: q.id, from: q.source, candidates: [first, second], to: second }, `replicate/${q.id}`);
  const r = await resultWithin<RunbookResult<MoveProjectResult>>(handle, RUN_MS);
  const result = r.value;
  expect(result).toMatchObject({ from: q.source, to: second, reason: 'requested', lost: null, oldSource: { host: q.source, state: 'replica' } });
  expect(result.finalSync?.snapshot?.created).toBe(true);
  expect(result.finalSync?.replicas).toMatchObject([{ host: second, result: 'sent', stream: { kind: 'incremental' } }]);
  expect(result.snapshot.guid).toBe(result.finalSync!.snapshot!.guid);
  // The remaining replica followed the new source.
  expect(result.replicas).toMatchObject({ source: second, replicas: [{ host: first }] });

  // The steps, in order, and the point of no return right after the demotion.
  const names = r.audit.steps.map((s) => s.name);
  expect(names.indexOf('fence-source')).toBeLessThan(names.indexOf('send'));
  expect(names.indexOf('send')).toBeLessThan(names.indexOf('promote'));
  expect(names.indexOf('promote')).toBeLessThan(names.indexOf('demote-old-source'));
  expect(names.indexOf('commit')).toBe(names.indexOf('demote-old-source') + 1);
  expect(r.audit.steps.find((s) => s.name === 'commit')?.summary).toContain('undo-fence-source, undo-promote');

  // The new source serves the last-minute write; the old one is a fenced, read-only replica.
  expect(await lab.sh(second, `cat /projects/${q.id}/last-minute.txt`)).toBe('written-just-before-the-move\n');
  expect((await zfsProperty(lab, second, q.dataset, LEDGER.role)).value).toBe('source');
  expect((await zfsProperty(lab, second, q.dataset, 'readonly')).value).toBe('off');
  expect((await zfsProperty(lab, q.source, q.dataset, 'mounted')).value).toBe('no');
  expect((await zfsProperty(lab, q.source, q.dataset, 'readonly')).value).toBe('on');
  expect((await zfsProperty(lab, q.source, q.dataset, LEDGER.role)).value).toBe('replica');
  // Independently: same files on every copy, replicas unmounted at the new source's newest snapshot.
  const check = await lab.check([{ id: q.id, source: second, replicas: [q.source, first] }]);
  expect(check.checks.filter((c) => !c.ok)).toEqual([]);

  // And the next replication runs from the new source without complaint.
  await lab.sh(second, `echo after-the-move > /projects/${q.id}/after.txt`);
  const next = (
    await resultWithin<RunbookResult<ReplicateProjectResult>>(await lab.start('replicateProject', { project: q.id, source: second, replicas: [q.source, first] }, `replicate/${q.id}`), RUN_MS)
  ).value;
  expect(next.replicas.map((x) => [x.host, x.result, x.stream?.kind])).toEqual([
    [q.source, 'sent', 'incremental'],
    [first, 'sent', 'incremental'],
  ]);
}, 300_000);

test('on request, a final sync that is refused undoes the fence: the source serves again and nothing is destroyed', async () => {
  const q = others[1];
  const target = q.replicas[0].host;
  await replicateAll(q);
  await lab.sh(q.source, `echo still-here > /projects/${q.id}/kept.txt`);
  // The chosen replica diverged: someone took a snapshot on it by hand.
  await lab.sh(target, `zfs snapshot ${q.dataset}@by-hand-on-replica`);

  const { message, audit } = await failedMove(q, target);
  expect(message).toContain('@by-hand-on-replica');
  expect(audit.steps.map((s) => s.name)).not.toContain('promote');
  expect(audit.steps.filter((s) => s.kind === 'compensate').map((s) => [s.name, s.status])).toEqual([['undo-fence-source', 'completed']]);

  // The source serves again, writable, with its latest write; the replica keeps its snapshot.
  expect((await zfsProperty(lab, q.source, q.dataset, 'mounted')).value).toBe('yes');
  expect((await zfsProperty(lab, q.source, q.dataset, 'canmount')).value).toBe('on');
  expect(await lab.sh(q.source, `cat /projects/${q.id}/kept.txt`)).toBe('still-here\n');
  expect((await snapshotsOn(lab, target, q.dataset)).map((s) => s.name)).toContain('by-hand-on-replica');
  expect((await zfsProperty(lab, target, q.dataset, 'mounted')).value).toBe('no');
  expect((await zfsProperty(lab, target, q.dataset, LEDGER.role)).value).toBe('replica');
}, 300_000);

test('on request, a demotion that fails undoes the promotion, then the fence: the old source serves again, alone', async () => {
  const q = others[3];
  const target = q.replicas[0].host;
  await replicateAll(q);
  // The old source's zfs refuses to make this dataset read-only (and only that), as a failing disk
  // or a policy might: the wrapper is bind-mounted over zfs inside that host's own mount namespace.
  const wrapper = `${lab.labDir}/zfs-refuses-readonly`;
  await lab.sh(
    q.source,
    [
      `cp /usr/sbin/zfs ${lab.labDir}/zfs.real`,
      `printf '%s\\n' '#!/bin/sh' 'if [ "$1" = set ] && [ "$2" = readonly=on ] && [ "$3" = "${q.dataset}" ]; then echo "cannot set property for '"'"'$3'"'"': permission denied" >&2; exit 1; fi' 'exec ${lab.labDir}/zfs.real "$@"' > ${wrapper}`,
      `chmod +x ${wrapper}`,
      `mount --bind ${wrapper} /usr/sbin/zfs`,
    ].join(' && '),
  );
  try {
    const { message, audit } = await failedMove(q, target);
    expect(message).toContain('at step demote-old-source');
    expect(message).not.toContain('MANUAL ACTION NEEDED');
    expect(audit.steps.map((s) => s.name)).not.toContain('commit');
    // Newest first: the promotion, then the fence.
    expect(audit.steps.filter((s) => s.kind === 'compensate').map((s) => [s.name, s.status])).toEqual([
      ['undo-promote', 'completed'],
      ['undo-fence-source', 'completed'],
    ]);
  } finally {
    await lab.sh(q.source, `umount /usr/sbin/zfs`);
  }
  // One writable copy: the old source, mounted and serving; the chosen replica is a replica again.
  expect((await zfsProperty(lab, q.source, q.dataset, 'mounted')).value).toBe('yes');
  expect((await zfsProperty(lab, q.source, q.dataset, 'readonly')).value).toBe('off');
  expect((await zfsProperty(lab, target, q.dataset, 'mounted')).value).toBe('no');
  expect((await zfsProperty(lab, target, q.dataset, 'readonly')).value).toBe('on');
  expect((await zfsProperty(lab, target, q.dataset, LEDGER.role)).value).toBe('replica');
  expect((await zfsProperty(lab, target, q.dataset, LEDGER.promotedFrom)).source).not.toBe('local');
  // The final sync's snapshot is now the replica's recorded last receive, so the next run finds it in sync.
  const again = await replicateAll(q);
  expect(again.replicas.find((r) => r.host === target)?.result).toBe('in-sync');
  const check = await lab.check([{ id: q.id, source: q.source, replicas: q.replicas.map((r) => r.host) }]);
  expect(check.checks.filter((c) => !c.ok)).toEqual([]);
}, 300_000);

test('undoing a promotion (the compensation of a requested move) leaves an unmounted, read-only replica with its ledger', async () => {
  const q = others[2];
  const replica = q.replicas[0].host;
  const done = await replicateAll(q);
  const before = { snapshot: await zfsProperty(lab, replica, q.dataset, LEDGER.lastSnapshot), guid: await zfsProperty(lab, replica, q.dataset, LEDGER.lastGuid) };
  expect(before.guid.value).toBe(done.snapshot!.guid);
  const promoted = { [LEDGER.role]: 'source', [LEDGER.promotedAt]: '2026-11-21T12:00:00.000Z', [LEDGER.promotedFrom]: q.source, [LEDGER.promotedSnapshot]: done.snapshot!.name };
  await lab.sh(replica, promoteCommand(q.dataset, promoted).text);
  expect((await zfsProperty(lab, replica, q.dataset, 'mounted')).value).toBe('yes');

  const received = { [LEDGER.lastSnapshot]: before.snapshot.value, [LEDGER.lastGuid]: before.guid.value, [LEDGER.receivedAt]: '2026-11-21T11:00:00.000Z', [LEDGER.receivedFrom]: q.source };
  await lab.sh(replica, unpromoteCommand(q.dataset, received).text);
  // Twice: a compensation may be retried.
  await lab.sh(replica, unpromoteCommand(q.dataset, received).text);
  expect((await zfsProperty(lab, replica, q.dataset, 'mounted')).value).toBe('no');
  expect((await zfsProperty(lab, replica, q.dataset, 'readonly')).value).toBe('on');
  expect((await zfsProperty(lab, replica, q.dataset, 'canmount')).value).toBe('noauto');
  expect((await zfsProperty(lab, replica, q.dataset, LEDGER.role)).value).toBe('replica');
  expect((await zfsProperty(lab, replica, q.dataset, LEDGER.lastGuid)).value).toBe(before.guid.value);
  expect((await zfsProperty(lab, replica, q.dataset, LEDGER.promotedFrom)).source).not.toBe('local');
  // The runbook agrees it is an in-sync replica again.
  const again = await replicateAll(q);
  expect(again.outcome).toBe('unchanged');
}, 300_000);

describe('choosing the replica (pure)', () => {
  const snap = (shortName: string, guid: string, creation: number): CopySnapshot => ({ name: `projects/x@${shortName}`, shortName, guid, createtxg: creation, creation, userrefs: 0 });
  const copy = (host: string, snapshots: CopySnapshot[], ledgerGuid?: string): CopyState => ({
    host,
    dataset: 'projects/x',
    exists: true,
    mounted: false,
    canmount: 'noauto',
    readonly: true,
    mountpoint: '/projects/x',
    quota: 0,
    referenced: 0,
    written: null,
    snapshots,
    ledger: ledgerGuid ? { lastGuid: ledgerGuid } : {},
  });
  const a = snap('rb-20261121T100000Z', '1', 100);
  const b = snap('rb-20261121T110000Z', '2', 200);

  test('equally up to date: the least loaded wins', () => {
    const ranked = rankCandidates(null, [
      { host: 'compute2', copy: copy('compute2', [a, b]), serves: 40 },
      { host: 'compute3', copy: copy('compute3', [a, b]), serves: 12 },
    ]);
    expect(ranked.map((r) => r.host)).toEqual(['compute3', 'compute2']);
  });

  test('newer wins over less loaded; a snapshot taken by hand on a replica counts for nothing; unreachable ones last', () => {
    const manual = snap('manual-on-replica', '9', 900);
    const ranked = rankCandidates(null, [
      { host: 'compute4', copy: null, serves: null, error: 'connect ECONNREFUSED' },
      { host: 'compute3', copy: copy('compute3', [a, manual]), serves: 1 },
      { host: 'compute2', copy: copy('compute2', [a, b], '2'), serves: 99 },
    ]);
    expect(ranked.map((r) => [r.host, r.eligible, r.newest?.shortName ?? null])).toEqual([
      ['compute2', true, b.shortName],
      ['compute3', true, a.shortName],
      ['compute4', false, null],
    ]);
  });
});
