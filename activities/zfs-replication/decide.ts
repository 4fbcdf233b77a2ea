import { relateReplica } from '../zfs/common-snapshot';
import { parseReplicationSnapshotTime } from '../zfs/names';
import { quotaValue } from './commands';
import { newestSnapshot, type CopySnapshot, type CopyState } from './copy-state';
import { LEDGER } from './ledger';

// What replicateProject does to each replica, decided in the workflow from the inspected copies. Pure
// and deterministic: the same inspection always gives the same plan, so plan mode, the audit and a
// replay agree. Base selection is by guid (relateReplica), never by name.

export type ReplicaAction =
  /** Holds the target snapshot already, unmounted and unmodified: at most its properties are fixed. */
  | { kind: 'in-sync' }
  /** Send: full (`from` null, the replica does not exist) or incremental from the newest common snapshot. */
  | { kind: 'send'; from: string | null; firstReceive: boolean }
  /**
   * The replica has state the source does not: later snapshots, changes since the common snapshot, or
   * it is mounted (serving, e.g. an old source that came back). Only a rollback to `to` (its copy of
   * the newest common snapshot) brings it in line, which destroys `later` and discards the changes.
   */
  | { kind: 'rollback'; to: string; base: string; later: string[]; reason: string }
  /** Shares no snapshot with the source: only destroying it and sending a full stream brings it back. */
  | { kind: 'replace'; reason: string; snapshots: string[] };

function names(snaps: ReadonlyArray<{ shortName: string }>): string {
  return snaps.map((s) => `@${s.shortName}`).join(', ');
}

/**
 * The action for one replica, given the source's snapshots and the snapshot the replicas must end at.
 * `target` may be a snapshot the source is about to take (plan mode), so it need not be in `source`.
 */
export function replicaAction(source: CopyState, replica: CopyState, target: CopySnapshot): ReplicaAction {
  if (!replica.exists) return { kind: 'send', from: null, firstReceive: true };
  if (replica.snapshots.length === 0) {
    return {
      kind: 'replace',
      reason: `${replica.dataset} on ${replica.host} exists but has no snapshot at all, so nothing ties its data to the source; a full stream would overwrite it`,
      snapshots: [],
    };
  }
  const sourceSnaps = source.snapshots.some((s) => s.guid === target.guid) ? source.snapshots : [...source.snapshots, target];
  const rel = relateReplica(sourceSnaps, replica.snapshots);
  if (rel.kind === 'no-snapshots-on-target') return { kind: 'send', from: null, firstReceive: true };
  if (rel.kind === 'no-common-snapshot') {
    return {
      kind: 'replace',
      reason: `${replica.dataset} on ${replica.host} shares no snapshot with the source by guid; it has ${names(replica.snapshots)}, which a full stream would destroy`,
      snapshots: replica.snapshots.map((s) => s.shortName),
    };
  }
  const base = rel.base;
  if (rel.kind === 'diverged') {
    return {
      kind: 'rollback',
      to: base.target.shortName,
      base: base.source.shortName,
      later: rel.targetOnly.map((s) => s.shortName),
      reason: `${replica.dataset} on ${replica.host} has snapshots the source does not have after the newest common snapshot @${base.target.shortName}: ${names(rel.targetOnly)}`,
    };
  }
  if (replica.mounted || replica.ledger.role === 'source') {
    const why = replica.mounted ? 'is mounted' : "is marked as the project's source";
    const since = replica.ledger.promotedAt ? ` (promoted at ${replica.ledger.promotedAt})` : '';
    return {
      kind: 'rollback',
      to: base.target.shortName,
      base: base.source.shortName,
      later: [],
      reason: `${replica.dataset} on ${replica.host} ${why}${since}: it may be serving the project and hold changes made after @${base.target.shortName}`,
    };
  }
  if (replica.written !== null && replica.written > 0) {
    return {
      kind: 'rollback',
      to: base.target.shortName,
      base: base.source.shortName,
      later: [],
      reason: `${replica.dataset} on ${replica.host} was modified after its newest snapshot @${base.target.shortName} (written=${replica.written} bytes)`,
    };
  }
  if (base.source.guid === target.guid) return { kind: 'in-sync' };
  return { kind: 'send', from: base.source.shortName, firstReceive: false };
}

/** What recv's refusal (found only when receiving, on zfs-fuse which has no `written`) means. */
export function rollbackAfterRefusal(source: CopyState, replica: CopyState, target: CopySnapshot, message: string): ReplicaAction {
  const sourceSnaps = source.snapshots.some((s) => s.guid === target.guid) ? source.snapshots : [...source.snapshots, target];
  const rel = relateReplica(sourceSnaps, replica.snapshots);
  if (!('base' in rel))
    return {
      kind: 'replace',
      reason: `${replica.dataset} on ${replica.host} refused the stream (${message}) and shares no snapshot with the source`,
      snapshots: replica.snapshots.map((s) => s.shortName),
    };
  const later = rel.kind === 'diverged' ? rel.targetOnly.map((s) => s.shortName) : [];
  const lost =
    replica.ledger.lastSnapshot && !replica.snapshots.some((s) => s.guid === replica.ledger.lastGuid)
      ? `; its ledger says it last received @${replica.ledger.lastSnapshot}, which it no longer has, so the change is probably that snapshot's data`
      : '';
  return {
    kind: 'rollback',
    to: rel.base.target.shortName,
    base: rel.base.source.shortName,
    later,
    reason: `${replica.dataset} on ${replica.host} was changed after its newest common snapshot @${rel.base.target.shortName} (zfs recv: ${message})${lost}`,
  };
}

/**
 * Properties a replica must have: unmountable, read-only, the source's quota. Only the ones that
 * differ, so an up-to-date replica costs no write at all.
 */
export function replicaPropertyFixes(source: CopyState, replica: CopyState | null): Record<string, string> {
  const fixes: Record<string, string> = {};
  if (!replica || replica.canmount !== 'noauto') fixes.canmount = 'noauto';
  if (!replica || replica.readonly !== true) fixes.readonly = 'on';
  const quota = source.quota ?? 0;
  if (!replica || (replica.quota ?? 0) !== quota) fixes.quota = quotaValue(quota);
  return fixes;
}

/** True when the replica's ledger already records `target`, from this source, as its last received snapshot. */
export function ledgerCurrent(replica: CopyState, target: CopySnapshot, sourceHost: string): boolean {
  const l = replica.ledger;
  return l.lastGuid === target.guid && l.role === 'replica' && l.receivedAt !== undefined && l.receivedFrom === sourceHost;
}

export interface RetentionInput {
  /** The copy's snapshots after this run, oldest first. */
  snapshots: ReadonlyArray<Pick<CopySnapshot, 'shortName' | 'guid' | 'userrefs'>>;
  keep: number;
  /** Guids that must stay: the newest common snapshot with each replica (the bases later sends start from). */
  protectedGuids: ReadonlySet<string>;
}

/**
 * Snapshots to destroy: runbook snapshots (rb-<ISO time>) beyond the newest `keep`, except the newest
 * snapshot of all, every protected base, and held ones (ZFS would refuse them anyway). Operators'
 * own snapshots are never touched.
 */
export function snapshotsToPrune(r: RetentionInput): string[] {
  const ours = r.snapshots.filter((s) => parseReplicationSnapshotTime(s.shortName) !== null);
  const newest = r.snapshots.at(-1);
  const keepSet = new Set(ours.slice(-r.keep).map((s) => s.guid));
  return ours.filter((s) => !keepSet.has(s.guid) && s.guid !== newest?.guid && !r.protectedGuids.has(s.guid) && s.userrefs === 0).map((s) => s.shortName);
}

/**
 * A replica's snapshots once it has received `target` from `base` with -I: its own up to the base
 * (later ones went with a rollback), then the source's after the base up to the target.
 */
export function replicaSnapshotsAfter(source: CopyState, replica: CopyState, action: ReplicaAction, target: CopySnapshot): Array<Pick<CopySnapshot, 'shortName' | 'guid' | 'userrefs'>> {
  const sourceSnaps = source.snapshots.some((s) => s.guid === target.guid) ? source.snapshots : [...source.snapshots, target];
  const upTo = (list: readonly CopySnapshot[], guid: string) => list.slice(0, list.findIndex((s) => s.guid === guid) + 1);
  if (action.kind === 'in-sync') return replica.snapshots;
  if (action.kind === 'replace' || (action.kind === 'send' && action.from === null)) return [{ shortName: target.shortName, guid: target.guid, userrefs: 0 }];
  const baseName = action.kind === 'send' ? action.from : action.base;
  const sourceBase = sourceSnaps.find((s) => s.shortName === baseName);
  if (!sourceBase) return replica.snapshots;
  const kept = upTo(replica.snapshots, sourceBase.guid);
  const after = sourceSnaps.slice(sourceSnaps.findIndex((s) => s.guid === sourceBase.guid) + 1, sourceSnaps.findIndex((s) => s.guid === target.guid) + 1);
  return [...kept, ...after.map((s) => ({ shortName: s.shortName, guid: s.guid, userrefs: 0 }))];
}

export { newestSnapshot, LEDGER };
