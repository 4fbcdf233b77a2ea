import { parseReplicationSnapshotTime } from '../zfs/names';
import type { CopySnapshot, CopyState } from './copy-state';

// moveProject's choice: the reachable replica with the newest snapshot of the source's history, the
// least loaded among equals. Pure, so the choice is visible in plan mode and replays identically.
//
// With the source reachable its snapshots ARE the history. With the source dead, a replica's snapshot
// counts as part of it when the runbook received it (the ledger's last guid), when another copy has it
// too (same guid), or when it carries a runbook snapshot name: the runbook only ever snapshots
// sources, so an `rb-<ISO time>` snapshot on a replica came from the source. A snapshot someone took
// on a replica by hand counts for nothing. Copies are compared by the creation time of that newest
// snapshot, which a receive preserves (zfs-fuse and OpenZFS alike), and by guid for ties.

export interface MoveCandidate {
  host: string;
  /** Null when the host could not be inspected. */
  copy: CopyState | null;
  /** Projects the host serves (its copies claiming the source role); null when unknown. */
  serves: number | null;
  error?: string;
}

export interface RankedCandidate {
  host: string;
  eligible: boolean;
  /** Why it cannot be chosen, or how it compares. */
  note: string;
  newest: CopySnapshot | null;
  serves: number | null;
}

function fromSource(snapshot: CopySnapshot, copy: CopyState, source: CopyState | null, all: readonly MoveCandidate[]): boolean {
  if (source) return source.snapshots.some((s) => s.guid === snapshot.guid);
  if (copy.ledger.lastGuid === snapshot.guid) return true;
  if (parseReplicationSnapshotTime(snapshot.shortName) !== null) return true;
  return all.some((c) => c.copy !== copy && c.copy?.snapshots.some((s) => s.guid === snapshot.guid));
}

/** Candidates best first: eligible ones by newest source snapshot (creation), then fewest served projects, then name. */
export function rankCandidates(source: CopyState | null, candidates: readonly MoveCandidate[]): RankedCandidate[] {
  const ranked = candidates.map((c): RankedCandidate => {
    if (!c.copy) return { host: c.host, eligible: false, note: `unreachable: ${c.error ?? 'no answer'}`, newest: null, serves: c.serves };
    if (!c.copy.exists) return { host: c.host, eligible: false, note: `has no ${c.copy.dataset}`, newest: null, serves: c.serves };
    const copy = c.copy;
    const newest = [...copy.snapshots].reverse().find((s) => fromSource(s, copy, source, candidates)) ?? null;
    if (!newest) return { host: c.host, eligible: false, note: 'holds no snapshot of the source', newest: null, serves: c.serves };
    return { host: c.host, eligible: true, note: `newest source snapshot @${newest.shortName}`, newest, serves: c.serves };
  });
  return ranked.sort((a, b) => {
    if (a.eligible !== b.eligible) return a.eligible ? -1 : 1;
    const ca = a.newest?.creation ?? -1;
    const cb = b.newest?.creation ?? -1;
    if (ca !== cb) return cb - ca;
    const la = a.serves ?? Number.MAX_SAFE_INTEGER;
    const lb = b.serves ?? Number.MAX_SAFE_INTEGER;
    if (la !== lb) return la - lb;
    return a.host.localeCompare(b.host);
  });
}
