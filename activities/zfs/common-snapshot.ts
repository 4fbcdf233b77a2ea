import type { SnapshotRef } from './get';

// Which snapshot an incremental send can start from, decided by GUID and createtxg only, as zrepl
// does (internal/replication/logic/diff): a snapshot's guid never changes and a received snapshot
// keeps the sender's guid (zfsprops(7)), while names are no proof (a re-created dataset reuses them)
// and `creation` ties within a second. Each side is ordered by its own createtxg: a received
// snapshot gets the receiver's txg.

export type ReplicaRelation =
  /** The target has no snapshots (or does not exist): only a full stream can seed it. */
  | { kind: 'no-snapshots-on-target' }
  /** The target has snapshots but shares none with the source: a full stream would have to replace it. Refuse unless told otherwise. */
  | { kind: 'no-common-snapshot'; targetSnapshots: SnapshotRef[] }
  /** The newest common snapshot is the newest on both sides: nothing to send (unless the source changed since: ask `written@base` or probe). */
  | { kind: 'up-to-date'; base: CommonBase }
  /** The target's newest snapshot is common and the source has newer ones: send an incremental from `base`. */
  | { kind: 'behind'; base: CommonBase; toSend: SnapshotRef[] }
  /**
   * The target has snapshots after the newest common one (a foreign or manual snapshot, or a partial
   * history). A receive from `base` would need a rollback that destroys `targetOnly`, so the runbook
   * refuses unless a rollback was allowed and approved.
   */
  | { kind: 'diverged'; base: CommonBase; targetOnly: SnapshotRef[]; toSend: SnapshotRef[] };

export interface CommonBase {
  /** The snapshot as the source has it. */
  source: SnapshotRef;
  /** The same snapshot (same guid) on the target; its name may differ if someone renamed it. */
  target: SnapshotRef;
}

function byTxg(snaps: readonly SnapshotRef[], side: string): SnapshotRef[] {
  const sorted = [...snaps].sort((a, b) => a.createtxg - b.createtxg);
  const seen = new Set<string>();
  for (const s of sorted) {
    if (seen.has(s.guid)) throw new Error(`${side} lists guid ${s.guid} twice (${s.name}); pass the snapshots of one dataset only`);
    seen.add(s.guid);
  }
  return sorted;
}

/**
 * Relate a replica (target) to its source by their snapshot lists. Walks the target from newest to
 * oldest; the first snapshot whose guid the source also has is the base. Note what this cannot see:
 * a target modified after its newest snapshot without a new snapshot. `zfs recv` refuses that case
 * itself ("has been modified since most recent snapshot"); OpenZFS's `written` shows it beforehand.
 */
export function relateReplica(source: readonly SnapshotRef[], target: readonly SnapshotRef[]): ReplicaRelation {
  const src = byTxg(source, 'source');
  const tgt = byTxg(target, 'target');
  if (tgt.length === 0) return { kind: 'no-snapshots-on-target' };
  const srcByGuid = new Map(src.map((s, i) => [s.guid, i]));
  for (let t = tgt.length - 1; t >= 0; t--) {
    const s = srcByGuid.get(tgt[t].guid);
    if (s === undefined) continue;
    const base: CommonBase = { source: src[s], target: tgt[t] };
    const toSend = src.slice(s + 1);
    const targetOnly = tgt.slice(t + 1);
    if (targetOnly.length > 0) return { kind: 'diverged', base, targetOnly, toSend };
    return toSend.length === 0 ? { kind: 'up-to-date', base } : { kind: 'behind', base, toSend };
  }
  return { kind: 'no-common-snapshot', targetSnapshots: tgt };
}

/** The newest snapshot both sides have (by guid), or null. */
export function newestCommonSnapshot(source: readonly SnapshotRef[], target: readonly SnapshotRef[]): CommonBase | null {
  const r = relateReplica(source, target);
  return 'base' in r ? r.base : null;
}

/**
 * The newest snapshot that every replica shares with the source: the snapshot retention must keep
 * (and the one a skip-if-unchanged check compares against). Null if any replica shares none.
 */
export function newestSnapshotCommonToAll(source: readonly SnapshotRef[], replicas: ReadonlyArray<readonly SnapshotRef[]>): SnapshotRef | null {
  let oldest: SnapshotRef | null = null;
  for (const r of replicas) {
    const base = newestCommonSnapshot(source, r);
    if (!base) return null;
    if (oldest === null || base.source.createtxg < oldest.createtxg) oldest = base.source;
  }
  return oldest;
}
