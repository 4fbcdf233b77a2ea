import {
  changeFromAccounting,
  destroyStaleProbesCommand,
  MAX_PROBES_PER_SCRIPT,
  parseStaleProbesGone,
  parseSweepProbeLeft,
  staleProbes,
  sweepProbeCleanupCommand,
  sweepProbeCommand,
  txgSyncCommand,
} from '../activities/zfs-replication/sweep-check';
import { copiesFromObjects } from '../activities/zfs-replication/copy-state';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  classifyReceiveFailure,
  destroySnapshotCommand,
  holdCommand,
  incrementSummaryCommand,
  isEmptyIncrementalStream,
  LOWEST_COMMON_ZFS_FEATURES,
  newestCommonSnapshot,
  newestSnapshotCommonToAll,
  parseReplicationSnapshotTime,
  parseSnapshotListParsable,
  parseStreamSummary,
  parseZfsFeatureProbe,
  parseZfsGet,
  parseZfsGetRows,
  parseZfsListNames,
  projectDatasets,
  receiveCommand,
  relateReplica,
  replicationSnapshotName,
  replicationSnapshotShortName,
  sendCommand,
  setPropertiesCommand,
  snapshotCommand,
  snapshotNameSchema,
  snapshotsOf,
  zfsGetCommand,
  zfsListNamesCommand,
  ZfsOutputError,
  type SnapshotRef,
  type ZfsFeatures,
} from '../activities/zfs';

// The pure ZFS layer against REAL zfs-fuse 0.7 output captured by lab/zfs/spike.sh
// (test/fixtures/zfs/*.json: command, exit code, stdout, stderr verbatim), and against OpenZFS
// formats written by hand from OpenZFS's source and the reference (test/fixtures/zfs/openzfs/,
// each marked with its provenance). Fixtures can be re-captured; the tests assert relations (same
// guid on both sides, which snapshot is the base), not the random guids themselves.

const fixtureSchema = z.object({ name: z.string(), command: z.string(), exitCode: z.number(), stdout: z.string(), stderr: z.string() });
const dir = path.join(__dirname, 'fixtures', 'zfs');
const fx = (name: string) => fixtureSchema.parse(JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')));
const openzfs = (name: string) => fx(`openzfs/${name}`);

const U1 = 'projects/0df21bd2-3a26-4c59-ac0b-cdbb293c4036';
const U2 = 'projects/3702601d-9fbc-4e4e-b7ab-c10a79e34d3b';

describe('zfs get -Hp -o name,property,value,source (zfs-fuse, captured)', () => {
  test('a recursive get of the pool gives typed records for the pool, projects and their snapshots', () => {
    const f = fx('get-tree-source');
    expect(f.exitCode).toBe(0);
    const objs = parseZfsGet(f.stdout);
    expect(objs.map((o) => o.name)).toEqual(['projects', U1, `${U1}@rb-2026-11-21T09-15-00Z`, U2, `${U2}@rb-2026-11-21T09-15-00Z`]);
    const [pool, p1, s1] = objs;
    expect(pool).toMatchObject({ kind: 'filesystem', quota: 0, mounted: true, mountpoint: '/projects', canmount: 'on', createtxg: 1 });
    expect(p1).toMatchObject({ kind: 'filesystem', dataset: U1, shortName: null, quota: 1073741824, mounted: true, readonly: false, mountpoint: `/${U1}` });
    expect(p1.sources).toMatchObject({ quota: 'local', atime: 'local', mountpoint: 'inherited from projects' });
    expect(p1.raw.atime).toBe('off');
    expect(p1.guid).toMatch(/^\d{1,20}$/);
    // A guid above 2^53 must survive exactly: that is why it stays a string.
    expect(objs.some((o) => o.guid !== null && BigInt(o.guid) > BigInt(Number.MAX_SAFE_INTEGER))).toBe(true);
    expect(s1).toMatchObject({ kind: 'snapshot', dataset: U1, shortName: 'rb-2026-11-21T09-15-00Z', quota: null, mounted: null, mountpoint: null, canmount: null, userrefs: 0 });
    expect(s1.createtxg).toBeGreaterThan(p1.createtxg as number);
    expect(s1.creation).toBeGreaterThanOrEqual(p1.creation as number);
    // The user property set on the snapshot is there with its source; unset ones (value and source `-`) are not.
    expect(s1.userProperties).toEqual({ 'runbook:last-received': { value: '2026-11-21T09:15:00Z', source: 'local' } });
    expect(pool.userProperties).toEqual({});
    expect(p1.userProperties).toEqual({});
  });

  test('properties received with send -p keep their `received` source', () => {
    const [o] = parseZfsGet(fx('get-replica-props-received').stdout);
    expect(o).toMatchObject({ quota: 536870912, mounted: false });
    expect(o.sources.quota).toBe('received');
    expect(o.userProperties['runbook:owner']).toEqual({ value: 'alice', source: 'received' });
  });

  test('`zfs get all` of a project parses (untyped properties stay raw)', () => {
    const [o] = parseZfsGet(fx('get-all-project').stdout);
    expect(o.name).toBe(U1);
    expect(o.raw.compressratio).toBe('1.00x');
    expect(o.raw.version).toBe('4');
    expect(o.quota).toBe(1073741824);
    expect(Object.keys(o.raw).length).toBeGreaterThan(40);
  });

  test('a held snapshot shows its hold in userrefs (zfs holds itself is broken on zfs-fuse)', () => {
    expect(parseZfsGet(fx('get-userrefs-held').stdout)[0].userrefs).toBe(1);
    const holds = fx('holds-broken');
    expect(holds.exitCode).toBe(255);
    expect(holds.stdout).toContain('pyzfs.py not found');
  });

  test('the forms zfs-fuse refuses are refused, with the texts the feature probe looks for', () => {
    expect(fx('get-t-rejected').stderr).toMatch(/^invalid option 't'/);
    expect(fx('get-written-rejected').stderr).toMatch(/^bad property list: invalid property 'written'/);
    expect(fx('get-written-at-rejected').stderr).toMatch(/invalid property 'written@rb-/);
    expect(fx('get-resume-token-rejected').stderr).toMatch(/invalid property 'receive_resume_token'/);
    expect(fx('list-p-rejected').stderr).toMatch(/^invalid option 'p'/);
    expect(fx('list-snapshots-no-depth-rejected').stderr).toMatch(/operation not applicable to datasets of this type/);
    expect(fx('snapshot-many-rejected').stderr).toMatch(/^too many arguments/);
    for (const f of ['c', 'L', 'e', 'w', 'n', 'P']) expect(fx(`send-${f}-rejected`).stderr).toMatch(new RegExp(`^invalid option '${f}'`));
    for (const f of ['o', 'x', 's', 'A']) expect(fx(`recv-${f}-rejected`).stderr).toMatch(new RegExp(`^invalid option '${f}'`));
    expect(fx('bookmark-unrecognized').stderr).toMatch(/^unrecognized command 'bookmark'/);
    expect(fx('diff-unrecognized').stderr).toMatch(/^unrecognized command 'diff'/);
    expect(fx('dot-zfs-absent').exitCode).not.toBe(0);
  });

  test('a value with a tab (possible in a user property) stays whole; malformed lines are refused with the line', () => {
    const rows = parseZfsGetRows(`${U1}\trunbook:note\ta\tb\tlocal\n`);
    expect(rows).toEqual([{ name: U1, property: 'runbook:note', value: 'a\tb', source: 'local' }]);
    expect(() => parseZfsGetRows('projects\tguid\t123\n')).toThrow(ZfsOutputError);
    expect(() => parseZfsGetRows('projects\tguid\t123\n')).toThrow(/line 1 .*expected 4 tab-separated fields/);
    expect(() => parseZfsGetRows('pro jects\tguid\t1\t-\n')).toThrow(/not a valid ZFS name/);
  });

  test('humanized numbers (zfs get without -p) are refused, not misread', () => {
    expect(() => parseZfsGet(`${U1}\tused\t3.02M\t-\n`)).toThrow(/used is not an exact integer \(was -p left out\?\)/);
    expect(() => parseZfsGet(`${U1}@s\tguid\t13.8E\t-\n`)).toThrow(/guid is not a decimal integer/);
    // quota prints `none` without -p; that is unambiguous, so it is accepted as 0.
    expect(parseZfsGet(`${U1}\tquota\tnone\tdefault\n`)[0].quota).toBe(0);
  });
});

describe('choosing the incremental base by guid (zfs-fuse captures from two hosts)', () => {
  const PROPS = 'guid,createtxg,creation';
  test('after a full receive, source and replica share the snapshot by guid, with different createtxg', () => {
    const src = snapshotsOf(parseZfsGet(fx('get-source-after-full').stdout), U1);
    const dst = snapshotsOf(parseZfsGet(fx('get-replica-after-full').stdout), U1);
    expect(src.map((s) => s.shortName)).toEqual(['rb-2026-11-21T09-15-00Z']);
    expect(dst[0].guid).toBe(src[0].guid);
    expect(dst[0].createtxg).not.toBe(src[0].createtxg);
    const rel = relateReplica(src, dst);
    expect(rel.kind).toBe('up-to-date');
    expect(fx('get-source-after-full').command).toContain(`-d 1 -o name,property,value,source ${PROPS}`);
  });

  test('a replica with an operator snapshot after the base is diverged; the base and what to send are named', () => {
    const src = snapshotsOf(parseZfsGet(fx('get-source-diverged').stdout), U1);
    const dst = snapshotsOf(parseZfsGet(fx('get-replica-diverged').stdout), U1);
    const rel = relateReplica(src, dst);
    expect(rel.kind).toBe('diverged');
    if (rel.kind !== 'diverged') return;
    expect(rel.base.source.shortName).toBe('rb-2026-11-21T10-00-00Z');
    expect(rel.base.target.guid).toBe(rel.base.source.guid);
    expect(rel.targetOnly.map((s) => s.shortName)).toEqual(['manual-by-operator']);
    expect(rel.toSend.map((s) => s.shortName)).toEqual(['rb-2026-11-21T11-00-00Z']);
    // And zfs agrees: the receive onto it was refused with exactly this reason.
    expect(classifyReceiveFailure(fx('recv-incremental-source-mismatch').stderr).kind).toBe('incremental-base-mismatch');
  });

  const snap = (name: string, guid: string, createtxg: number): SnapshotRef => ({ name: `p/x@${name}`, shortName: name, guid, createtxg, creation: null });

  test('names are no proof: same name with another guid is not common; a renamed snapshot with the same guid is', () => {
    const src = [snap('a', '1', 10), snap('b', '2', 20), snap('c', '3', 30)];
    expect(relateReplica(src, [snap('a', '99', 5), snap('b', '98', 6)])).toMatchObject({ kind: 'no-common-snapshot' });
    const renamed = relateReplica(src, [snap('a', '1', 5), snap('bee', '2', 6)]);
    expect(renamed).toMatchObject({ kind: 'behind' });
    if (renamed.kind === 'behind') {
      expect(renamed.base.target.shortName).toBe('bee');
      expect(renamed.base.source.shortName).toBe('b');
      expect(renamed.toSend.map((s) => s.shortName)).toEqual(['c']);
    }
  });

  test('a replica missing its newest base falls back to the older common snapshot; none left means a full stream', () => {
    const src = [snap('s1', '1', 10), snap('s2', '2', 20), snap('s3', '3', 30)];
    const missingNewest = relateReplica(src, [snap('s1', '1', 4)]);
    expect(missingNewest).toMatchObject({ kind: 'behind' });
    if (missingNewest.kind === 'behind') expect(missingNewest.toSend.map((s) => s.shortName)).toEqual(['s2', 's3']);
    expect(relateReplica(src, [])).toEqual({ kind: 'no-snapshots-on-target' });
    expect(newestCommonSnapshot(src, [snap('x', '77', 1)])).toBeNull();
  });

  test('order comes from createtxg, not input order or creation time', () => {
    const src = [snap('late', '2', 20), snap('early', '1', 10)];
    const rel = relateReplica(src, [snap('early', '1', 3)]);
    expect(rel).toMatchObject({ kind: 'behind' });
    if (rel.kind === 'behind') expect(rel.toSend.map((s) => s.shortName)).toEqual(['late']);
  });

  test('the snapshot every replica still shares is the oldest of the per-replica bases', () => {
    const src = [snap('s1', '1', 10), snap('s2', '2', 20), snap('s3', '3', 30)];
    expect(
      newestSnapshotCommonToAll(src, [
        [snap('s1', '1', 1), snap('s3', '3', 2)],
        [snap('s1', '1', 1), snap('s2', '2', 2)],
      ])?.shortName,
    ).toBe('s2');
    expect(newestSnapshotCommonToAll(src, [[snap('s3', '3', 2)], []])).toBeNull();
  });

  test('a side listing one guid twice is refused (two datasets mixed up)', () => {
    expect(() => relateReplica([snap('a', '1', 1), snap('b', '1', 2)], [])).toThrow(/guid 1 twice/);
  });

  test('after `send -R -i ... | recv -F`, the replica lost the snapshot the source had destroyed', () => {
    const dst = snapshotsOf(parseZfsGet(fx('get-after-R-force').stdout), U1).map((s) => s.shortName);
    expect(dst).not.toContain('rb-2026-11-21T09-15-00Z');
    expect(dst[dst.length - 1]).toBe('rb-2026-11-21T13-00-00Z');
    expect(fx('recv-R-force-destroys-missing').stdout).toContain(`attempting destroy ${U1}@rb-2026-11-21T09-15-00Z`);
  });
});

describe('OpenZFS formats (hand-written from source and reference)', () => {
  test('zfs get lists bookmarks and written@; the bookmark keeps its snapshot guid', () => {
    const objs = parseZfsGet(openzfs('get-project-source').stdout);
    const ds = 'tank/projects/0df21bd2-3a26-4c59-ac0b-cdbb293c4036';
    const fs = objs.find((o) => o.name === ds);
    expect(fs).toMatchObject({ written: 8192, writtenSince: { 'rb-2026-11-21T09-15-00Z': 12288 }, receiveResumeToken: null });
    const bm = objs.find((o) => o.kind === 'bookmark');
    expect(bm).toMatchObject({ dataset: ds, shortName: 'rb-2026-11-21T09-15-00Z', used: null });
    expect(bm?.guid).toBe(objs.find((o) => o.name === `${ds}@rb-2026-11-21T09-15-00Z`)?.guid);
    // snapshotsOf ignores bookmarks: they are a base on the source only.
    expect(snapshotsOf(objs, ds).map((s) => s.shortName)).toEqual(['rb-2026-11-21T09-15-00Z', 'rb-2026-11-21T10-00-00Z']);
    const snap0 = objs.find((o) => o.name === `${ds}@rb-2026-11-21T09-15-00Z`);
    expect(snap0?.writtenSince['rb-2026-11-21T09-15-00Z']).toBe(0);
  });

  test('a replica with a resume token, mountpoint=none, readonly, received quota and a ledger property', () => {
    const objs = parseZfsGet(openzfs('get-project-replica').stdout);
    const r = objs[0];
    expect(r).toMatchObject({ mountpoint: 'none', canmount: 'noauto', readonly: true, mounted: false, quota: 1073741824 });
    expect(r.receiveResumeToken).toMatch(/^1-[0-9a-f]+-[0-9a-f]+-/);
    expect(r.sources.quota).toBe('received');
    expect(r.userProperties['runbook:last-received'].value).toContain('from compute1');
    expect(objs[1].receiveResumeToken).toBeNull();
  });

  test('`zfs list -H -p -o name,guid,createtxg` is read exactly; zfs-fuse humanized list output is refused', () => {
    const rows = parseSnapshotListParsable(openzfs('list-snapshots-parsable').stdout);
    expect(rows[0]).toEqual({ name: 'tank/projects/0df21bd2-3a26-4c59-ac0b-cdbb293c4036@rb-2026-11-21T09-15-00Z', guid: '16909421282255573250', createtxg: 30 });
    const humanized = fx('list-snapshots-humanized');
    expect(humanized.stdout).toMatch(/\t\d+(\.\d+)?E\t/); // zfs-fuse prints guids like 14.7E even with -H
    expect(() =>
      parseSnapshotListParsable(
        humanized.stdout
          .split('\n')
          .map((l) => l.split('\t').slice(0, 3).join('\t'))
          .join('\n'),
      ),
    ).toThrow(/humanized/);
  });
});

describe('zfs list -H -o name', () => {
  test('names, and the project datasets among them', () => {
    const names = parseZfsListNames(fx('list-filesystems').stdout);
    expect(names).toEqual(['projects', U1, U2]);
    expect(projectDatasets([...names, 'projects/lab-check', `${U1}/nested`, 'projects/not-a-uuid'], 'projects')).toEqual([U1, U2]);
    expect(parseZfsListNames(fx('list-snapshots-names').stdout)).toEqual([`${U1}@rb-2026-11-21T09-15-00Z`]);
    expect(() => parseZfsListNames(fx('list-snapshots-humanized').stdout)).toThrow(/more than one column/);
  });

  test('commands always give a depth (zfs-fuse refuses -t snapshot without one)', () => {
    expect(zfsListNamesCommand('projects', { types: ['filesystem'], depth: 1 }).text).toBe('zfs list -H -o name -t filesystem -d 1 projects');
    expect(zfsListNamesCommand(U1, { types: ['snapshot'], depth: 1, sortBy: 'createtxg' }).text).toBe(`zfs list -H -o name -t snapshot -s createtxg -d 1 ${U1}`);
    expect(zfsListNamesCommand('projects', { types: ['filesystem'] }).text).toBe('zfs list -H -o name -t filesystem -r projects');
    expect(() => zfsListNamesCommand('projects; rm -rf /', { types: ['filesystem'] })).toThrow();
  });
});

describe('feature probe', () => {
  test('zfs-fuse (captured): the lowest common subset, with evidence', () => {
    const f = fx('feature-probe');
    expect(f.exitCode).toBe(0);
    const features = parseZfsFeatureProbe(f.stdout);
    expect(features).toMatchObject({
      implementation: 'zfs-fuse',
      version: null,
      maxLegacyPoolVersion: 23,
      poolVersion: 23,
      writtenProperty: false,
      listParsable: false,
      recvUnmounted: true,
      recvPropertyOverride: false,
      resumableReceive: false,
      holds: true,
      holdsList: false,
      bookmarks: false,
      sendCompressed: false,
      sendRaw: false,
      sendLargeBlocks: false,
      sendEstimate: false,
      snapshotMany: false,
      zstreamdump: '/usr/sbin/zstreamdump',
    });
    expect(features.evidence['recv-property-override']).toBe("exit 2: invalid option 'o'");
    expect(features.evidence['pool-version']).toMatch(/^exit 0: projects\s+version\s+23/);
    // What the runbook assumes before probing must never claim more than zfs-fuse has.
    for (const [k, v] of Object.entries(LOWEST_COMMON_ZFS_FEATURES)) if (v === true) expect(features[k as keyof ZfsFeatures]).toBe(true);
  });

  test('OpenZFS 2.1 (hand-written): written, list -p, recv -o/-x, resume, bookmarks, send -c/-w/-L/-nP, several snapshots at once', () => {
    const features = parseZfsFeatureProbe(openzfs('feature-probe').stdout);
    expect(features).toMatchObject({
      implementation: 'openzfs',
      version: 'zfs-2.1.11-1',
      maxLegacyPoolVersion: null,
      poolVersion: null,
      writtenProperty: true,
      listParsable: true,
      recvUnmounted: true,
      recvPropertyOverride: true,
      resumableReceive: true,
      holds: true,
      holdsList: true,
      bookmarks: true,
      sendCompressed: true,
      sendRaw: true,
      sendLargeBlocks: true,
      sendEstimate: true,
      snapshotMany: true,
      zstreamdump: '/usr/sbin/zstreamdump',
    });
  });

  test('resumable receive needs the pool feature, not just the flags', () => {
    const out = openzfs('feature-probe').stdout.replace('feature@extensible_dataset  active', 'feature@extensible_dataset  disabled');
    expect(parseZfsFeatureProbe(out).resumableReceive).toBe(false);
  });

  test('a truncated probe is an error, not a guess', () => {
    expect(() => parseZfsFeatureProbe('@@probe zfs-version 2\nunrecognized command\n')).toThrow(/missing probes/);
    expect(() => parseZfsFeatureProbe('garbage\n')).toThrow(/before the first probe header/);
  });
});

describe('zstreamdump: is an increment empty?', () => {
  test('zfs-fuse: an unchanged increment is BEGIN+END, 624 bytes; a real one is not', () => {
    const empty = parseStreamSummary(fx('zstreamdump-empty-incremental').stdout);
    expect(empty).toMatchObject({ totalRecords: 2, streamBytes: 624, payloadBytes: 0 });
    expect(isEmptyIncrementalStream(empty)).toBe(true);
    expect(fx('send-empty-incremental-bytes').stdout.trim()).toBe('624');
    const changed = parseStreamSummary(fx('zstreamdump-incremental').stdout);
    expect(changed.records.DRR_WRITE).toBeGreaterThan(0);
    expect(isEmptyIncrementalStream(changed)).toBe(false);
  });

  test('OpenZFS `zstream dump` format (bytes per record type, payload size)', () => {
    const s = parseStreamSummary(openzfs('zstream-dump-empty-incremental').stdout);
    expect(s).toMatchObject({ totalRecords: 2, streamBytes: 624, payloadBytes: 0, records: { DRR_BEGIN: 1, DRR_END: 1, DRR_WRITE_BYREF: 0 } });
    expect(isEmptyIncrementalStream(s)).toBe(true);
  });

  test('no SUMMARY (a failed send) is an error, never "empty"', () => {
    expect(() => parseStreamSummary('')).toThrow(/no SUMMARY/);
  });
});

describe('zfs recv failures (captured stderr) → what they mean', () => {
  const cases: Array<[string, string, string | null, boolean]> = [
    ['recv-target-modified', 'target-modified', U1, false],
    ['recv-incremental-source-mismatch', 'incremental-base-mismatch', U1, false],
    ['recv-same-increment-again', 'incremental-base-mismatch', U1, false],
    ['recv-force-older-base-fails', 'incremental-base-mismatch', U1, false],
    ['recv-full-onto-existing', 'target-exists', U1, false],
    ['recv-full-onto-existing-without-snapshots', 'target-exists', 'projects/empty-target', false],
    ['recv-full-force-onto-existing-with-snapshots', 'target-has-snapshots', `${U1}@rb-2026-11-21T11-00-00Z`, false],
    ['recv-truncated-full', 'stream-truncated', null, true],
    ['recv-truncated-incremental', 'stream-truncated', null, true],
    ['recv-quota-exceeded', 'out-of-space', null, false],
    ['recv-o-rejected', 'unsupported-option', null, false],
    ['destroy-held-busy', 'busy', null, true],
  ];
  test.each(cases)('%s → %s', (name, kind, subject, retryable) => {
    const f = fx(name);
    expect(f.exitCode).not.toBe(0);
    const c = classifyReceiveFailure(f.stderr);
    expect(c.kind).toBe(kind);
    if (subject !== null) expect(c.subject).toBe(subject);
    expect(c.retryable).toBe(retryable);
    expect(c.message).not.toContain('\n');
  });

  test('OpenZFS: partial receive state and a vanished resume source', () => {
    expect(classifyReceiveFailure(openzfs('recv-partial-state').stderr)).toMatchObject({ kind: 'partial-receive-state', subject: 'backup/projects/0df21bd2-3a26-4c59-ac0b-cdbb293c4036' });
    expect(classifyReceiveFailure(openzfs('send-resume-source-gone').stderr)).toMatchObject({ kind: 'resume-source-gone' });
    expect(classifyReceiveFailure(openzfs('recv-space-quota-exceeded').stderr).kind).toBe('out-of-space');
    expect(classifyReceiveFailure('something new\n').kind).toBe('unknown');
  });

  test('successful receives print what they did', () => {
    expect(fx('recv-full-verbose').stdout).toMatch(/^receiving full stream of .*@rb-2026-11-21T09-15-00Z into /);
    expect(fx('recv-incremental-verbose').stdout).toMatch(/^receiving incremental stream of /);
    expect(fx('recv-incremental-after-retry').exitCode).toBe(0);
  });
});

describe('snapshot names', () => {
  test('rb-<ISO-8601 UTC, basic format>, round-trips, and is a valid snapshot name', () => {
    const at = new Date('2026-11-21T09:15:00.789Z');
    expect(replicationSnapshotShortName(at)).toBe('rb-20261121T091500Z');
    expect(replicationSnapshotName(U1, at)).toBe(`${U1}@rb-20261121T091500Z`);
    expect(parseReplicationSnapshotTime(`${U1}@rb-20261121T091500Z`)?.toISOString()).toBe('2026-11-21T09:15:00.000Z');
    expect(snapshotNameSchema.safeParse(replicationSnapshotName(U1, at)).success).toBe(true);
    expect(fx('snapshot-first').command).toContain('@rb-2026-11-21T09-15-00Z');
    expect(fx('snapshot-first').exitCode).toBe(0);
  });

  test('zfs-fuse accepts colons too (captured), but other snapshots are not ours', () => {
    expect(fx('snapshot-colon-accepted').exitCode).toBe(0);
    expect(parseReplicationSnapshotTime('2026-11-21T09:15:00Z')).toBeNull();
    expect(parseReplicationSnapshotTime('manual-by-operator')).toBeNull();
    expect(parseReplicationSnapshotTime('rb-20260231T091500Z')).toBeNull();
    // The extended format with dashes for colons (the fixtures' older captures) is not ISO-8601.
    expect(parseReplicationSnapshotTime('rb-2026-11-21T09-15-00Z')).toBeNull();
    expect(() => replicationSnapshotName('projects/x y', new Date())).toThrow();
  });
});

describe('commands for zfs-fuse and for OpenZFS', () => {
  const zfsFuse = parseZfsFeatureProbe(fx('feature-probe').stdout);
  const openZfs = parseZfsFeatureProbe(openzfs('feature-probe').stdout);
  const S = `${U1}@rb-2026-11-21T10-00-00Z`;

  test('zfs get with a depth, in the one form both accept', () => {
    expect(zfsGetCommand(['guid', 'createtxg', 'runbook:last-received'], U1, { kind: 'depth', depth: 1 }).text).toBe(
      `zfs get -Hp -d 1 -o name,property,value,source guid,createtxg,runbook:last-received ${U1}`,
    );
    expect(() => zfsGetCommand(['guid;reboot'], U1)).toThrow();
  });

  test('send: only flags the host has', () => {
    expect(sendCommand({ snapshot: S, from: 'rb-2026-11-21T09-15-00Z', compressed: true }, zfsFuse).text).toBe(`zfs send -i @rb-2026-11-21T09-15-00Z ${S}`);
    expect(sendCommand({ snapshot: S, from: `${U1}@rb-2026-11-21T09-15-00Z`, compressed: true, intermediates: true }, openZfs).text).toBe(`zfs send -c -I @rb-2026-11-21T09-15-00Z ${S}`);
    expect(sendCommand({ snapshot: S, properties: true }, zfsFuse).text).toBe(`zfs send -p ${S}`);
    expect(() => sendCommand({ snapshot: S, from: 'projects/other@x' }, zfsFuse)).toThrow(/not a snapshot of/);
  });

  test('receive: -o/-x on OpenZFS; on zfs-fuse the same properties as commands after the receive, set before inherit', () => {
    const opts = { target: U1, set: { canmount: 'noauto', readonly: 'on' }, exclude: ['mountpoint'] };
    expect(receiveCommand(opts, openZfs)).toEqual({
      receive: { text: `zfs recv -u -o canmount=noauto -o readonly=on -x mountpoint ${U1}`, display: `zfs recv -u -o canmount=noauto -o readonly=on -x mountpoint ${U1}` },
      after: null,
    });
    const fuse = receiveCommand(opts, zfsFuse);
    expect(fuse.receive.text).toBe(`zfs recv -u ${U1}`);
    expect(fuse.after?.text).toBe(`zfs set canmount=noauto ${U1} && zfs set readonly=on ${U1} && zfs inherit mountpoint ${U1}`);
    expect(receiveCommand({ target: U1, force: true }, zfsFuse)).toMatchObject({ receive: { text: `zfs recv -u -F ${U1}` }, after: null });
    // Captured: zfs inherit refuses quota, so excluding it is refused up front.
    expect(fx('inherit-quota-refused').stderr).toMatch(/'quota' property cannot be inherited/);
    expect(() => receiveCommand({ target: U1, exclude: ['quota'] }, zfsFuse)).toThrow(/cannot be excluded/);
    expect(() => receiveCommand({ target: U1 }, { ...zfsFuse, recvUnmounted: false })).toThrow(/recv -u/);
  });

  test('set: one property per zfs set (captured: zfs-fuse reads a second k=v as a dataset)', () => {
    expect(fx('set-two-properties-refused').stderr).toMatch(/cannot open 'readonly=on': invalid dataset name/);
    expect(setPropertiesCommand(U1, { quota: '1073741824', 'runbook:last-received': 'rb-2026-11-21T10-00-00Z from compute1' }).text).toBe(
      `zfs set quota=1073741824 ${U1} && zfs set 'runbook:last-received=rb-2026-11-21T10-00-00Z from compute1' ${U1}`,
    );
    expect(() => setPropertiesCommand(U1, { 'runbook:x': 'a\nb' })).toThrow(/newline or tab/);
    expect(() => setPropertiesCommand(U1, { sharenfs: 'on' })).toThrow();
  });

  test('snapshot, hold, destroy, and the zfs-fuse change probe', () => {
    expect(snapshotCommand(S, { 'runbook:by': 'replicateProject' }).text).toBe(`zfs snapshot -o runbook:by=replicateProject ${S}`);
    expect(holdCommand('repl:compute2', S).text).toBe(`zfs hold repl:compute2 ${S}`);
    expect(destroySnapshotCommand(S, { deferred: true }).text).toBe(`zfs destroy -d ${S}`);
    expect(() => destroySnapshotCommand(U1)).toThrow();
    expect(incrementSummaryCommand(S, 'rb-2026-11-21T09-15-00Z', '/usr/sbin/zstreamdump').text).toBe(`set -o pipefail; zfs send -i @rb-2026-11-21T09-15-00Z ${S} | /usr/sbin/zstreamdump`);
  });
});

describe('the sweep change probe script', () => {
  const items = Array.from({ length: 7 }, (_, k) => ({ dataset: `projects/0df21bd2-3a26-4c59-ac0b-cdbb293c403${k}`, from: 'rb-20261121T091500Z' }));

  test('one lane: every probe in order, no subshells', () => {
    const c = sweepProbeCommand(items, 'sweep-probe-20261203T090000Z');
    expect(c.text).not.toContain(') &');
    expect(c.text.split('\n').filter((l) => l.startsWith('p '))).toHaveLength(7);
  });

  test('lanes: each probe in exactly one lane, all lanes waited for, one short result line per probe', () => {
    const c = sweepProbeCommand(items, 'sweep-probe-20261203T090000Z', 3);
    expect(c.text.match(/^\) &$/gm)).toHaveLength(3);
    expect(c.text.trim().endsWith('wait')).toBe(true);
    for (const it of items) expect(c.text.split(`p ${it.dataset} ${it.dataset}@sweep-probe-20261203T090000Z @rb-20261121T091500Z`).length - 1).toBe(1);
    expect(c.display).toBe('7 change probes in 3 lanes (snapshot @sweep-probe-20261203T090000Z, increment bytes)');
    // Left to one `zfs destroy -r` afterwards ('after'), or destroyed in the lane ('each'), once each.
    expect(c.text).not.toContain('zfs destroy');
    const each = sweepProbeCommand(items, 'sweep-probe-20261203T090000Z', 3, 'each');
    expect(each.text).toContain('zfs destroy "$2"');
    expect(parseSweepProbeLeft(`@@sweep-probe ${items[0].dataset} 624\n@@sweep-probe-left ${items[1].dataset}\n`)).toEqual([items[1].dataset]);
    // More lanes than probes: one lane each.
    expect(sweepProbeCommand(items.slice(0, 2), 'sweep-probe-20261203T090000Z', 6).text.match(/^\) &$/gm)).toHaveLength(2);
    expect(() => sweepProbeCommand(items, 'sweep-probe-20261203T090000Z', 0)).toThrow(/lanes/);
  });

  test('cleanup: one zfs destroy -r of the probe over the pool; if that fails, the pool listed once and each probe destroyed', () => {
    const c = sweepProbeCleanupCommand('projects', 'sweep-probe-20261203T090000Z');
    expect(c.text.split('\n')[0]).toBe('zfs destroy -r projects@sweep-probe-20261203T090000Z 2>/dev/null && exit 0');
    expect(c.text).toContain('zfs list -H -o name -t snapshot -r projects | grep -F @sweep-probe-20261203T090000Z | while read -r s; do');
    expect(() => sweepProbeCleanupCommand('projects', 'rb bad')).toThrow();
  });

  test("leftover probes: another scan's probe over an hour old is stale; this scan's own, a younger one and runbook snapshots are not", () => {
    const snap = (shortName: string) => ({ name: `projects/p@${shortName}`, shortName, guid: '1', createtxg: 1, creation: 0, userrefs: 0 });
    const copy = {
      dataset: 'projects/p',
      snapshots: ['rb-20261121T091500Z', 'sweep-probe-20261203T070000Z', 'sweep-probe-20261203T083000Z', 'sweep-probe-20261203T090000Z', 'sweep-probe-x'].map(snap),
    };
    expect(staleProbes(copy, 'sweep-probe-20261203T090000Z', new Date('2026-12-03T09:05:00Z'))).toEqual(['projects/p@sweep-probe-20261203T070000Z']);
    const c = destroyStaleProbesCommand(['projects/p@sweep-probe-20261203T070000Z']);
    expect(c.text.split('\n').at(-1)).toBe('d projects/p@sweep-probe-20261203T070000Z');
    expect(() => destroyStaleProbesCommand(['projects/p@x; rm -rf /'])).toThrow();
    expect([...parseStaleProbesGone('@@stale-probe-gone projects/p@sweep-probe-20261203T070000Z\nnoise\n')]).toEqual(['projects/p@sweep-probe-20261203T070000Z']);
  });

  test('a script holds at most MAX_PROBES_PER_SCRIPT probes and stays far below the 128 KiB of one argument', () => {
    const many = Array.from({ length: MAX_PROBES_PER_SCRIPT }, (_, k) => ({ dataset: `projects/0df21bd2-3a26-4c59-ac0b-${String(k).padStart(12, '0')}`, from: 'rb-20261121T091500Z' }));
    for (const destroy of ['each', 'after'] as const) expect(sweepProbeCommand(many, 'sweep-probe-20261203T090000Z', 6, destroy).text.length).toBeLessThan(64 * 1024);
    expect(() => sweepProbeCommand([...many, many[0]], 'sweep-probe-20261203T090000Z', 6)).toThrow(/at most/);
  });
});

// The space accounting of a source, as zfs-fuse printed it in lab/zfs/README.md's experiment (zfs
// get -Hp used,usedbysnapshots,referenced after each kind of change and a forced txg sync).
describe('changeFromAccounting: whether a source changed since its newest snapshot, without a probe', () => {
  const read = (rows: Array<[string, string, number] | [string, string, number, string]>) => {
    const text = rows.map(([name, prop, v, source]) => `${name}\t${prop}\t${v}\t${source ?? '-'}`).join('\n');
    const withTypes = [...new Set(rows.map((r) => r[0]))]
      .map((n, k) => `${n}\ttype\t${n.includes('@') ? 'snapshot' : 'filesystem'}\t-\n${n}\tguid\t${k + 1}\t-\n${n}\tcreatetxg\t${k + 1}\t-`)
      .join('\n');
    return copiesFromObjects('h', parseZfsGet(`${withTypes}\n${text}\n`), ['projects/a']).get('projects/a')!;
  };
  test('one snapshot, nothing written since: unchanged; after a same-size overwrite (synced): changed', () => {
    const before = read([
      ['projects/a', 'usedbysnapshots', 0],
      ['projects/a@s1', 'used', 0],
      ['projects/a@s1', 'referenced', 4321280],
    ]);
    expect(before.usedBySnapshots).toBe(0);
    expect(before.snapshots[0]).toMatchObject({ used: 0, referenced: 4321280 });
    expect(changeFromAccounting(before)).toEqual({ kind: 'unchanged' });
    const after = read([
      ['projects/a', 'usedbysnapshots', 86016],
      ['projects/a@s1', 'used', 86016],
      ['projects/a@s1', 'referenced', 4321280],
    ]);
    expect(changeFromAccounting(after)).toEqual({ kind: 'changed', why: 'changed since @s1 (86016 bytes only the snapshot still holds)' });
  });
  test('two identical snapshots, then a chmod: neither holds a byte alone, but the snapshots hold more than their own: a probe decides', () => {
    const c = read([
      ['projects/a', 'usedbysnapshots', 81920],
      ['projects/a@s1', 'used', 0],
      ['projects/a@s1', 'referenced', 2220032],
      ['projects/a@s2', 'used', 0],
      ['projects/a@s2', 'referenced', 2220032],
    ]);
    expect(changeFromAccounting(c)).toEqual({ kind: 'probe', why: 'snapshots share 81920 freed bytes' });
  });
  test('older snapshots share freed bytes but the newest differs from the one before it: its own `used` tells', () => {
    const rows: Array<[string, string, number]> = [
      ['projects/a', 'usedbysnapshots', 262144],
      ['projects/a@s1', 'used', 86016],
      ['projects/a@s1', 'referenced', 4321280],
      ['projects/a@s2', 'used', 81920],
      ['projects/a@s2', 'referenced', 4321280],
      ['projects/a@s3', 'used', 0],
      ['projects/a@s3', 'referenced', 4317184],
    ];
    expect(changeFromAccounting(read(rows))).toEqual({ kind: 'unchanged' });
    // The same with equal sizes: nothing proves the newest is newer than the one before it.
    const sameSize = rows.map((r): [string, string, number] => (r[1] === 'referenced' ? [r[0], r[1], 4321280] : r));
    expect(changeFromAccounting(read(sameSize))).toMatchObject({ kind: 'probe' });
    // ...unless replicateProject kept @s3 for a change after a snapshot no newer than @s2 (createtxg 3 here).
    expect(changeFromAccounting(read([...sameSize, ['projects/a@s3', 'durable-runbooks:changed-after-txg', 3, 'local']]))).toEqual({ kind: 'unchanged' });
    expect(read([...sameSize, ['projects/a@s3', 'durable-runbooks:changed-after-txg', 3, 'local']]).snapshots[2].changedAfterTxg).toBe(3);
    // A change after a snapshot older than @s2 says nothing about @s2 and @s3; a received mark counts another pool's txgs.
    expect(changeFromAccounting(read([...sameSize, ['projects/a@s3', 'durable-runbooks:changed-after-txg', 2, 'local']]))).toMatchObject({ kind: 'probe' });
    expect(changeFromAccounting(read([...sameSize, ['projects/a@s3', 'durable-runbooks:changed-after-txg', 3, 'received']]))).toMatchObject({ kind: 'probe' });
  });
  test('accounting not read (an older worker, an OpenZFS host asked for written instead), or read before a leftover probe was destroyed: a probe', () => {
    const c = read([
      ['projects/a', 'referenced', 1],
      ['projects/a@s1', 'referenced', 1],
    ]);
    expect(changeFromAccounting(c)).toEqual({ kind: 'probe', why: 'space accounting not read' });
    expect(changeFromAccounting({ snapshots: [], usedBySnapshots: 0 })).toEqual({ kind: 'probe', why: 'no snapshot' });
    const stale = read([
      ['projects/a', 'usedbysnapshots', 0],
      ['projects/a@s1', 'used', 0],
    ]);
    expect(changeFromAccounting({ ...stale, usedBySnapshots: null })).toMatchObject({ kind: 'probe' });
  });
  test('the txg sync is a zfs inherit of a property nobody sets, on a validated pool name', () => {
    expect(txgSyncCommand('projects').text).toBe('zfs inherit durable-runbooks:sweep-sync projects');
    expect(() => txgSyncCommand('projects; reboot')).toThrow();
  });
});
