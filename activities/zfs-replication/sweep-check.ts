import { sh, type ShellCommand } from '../ssh/command';
import type { ZfsFeatures } from '../zfs/features';
import { datasetNameSchema, snapshotShortNameSchema } from '../zfs/names';
import { newestSnapshot, type CopyState } from './copy-state';
import { ledgerCurrent, replicaAction, replicaPropertyFixes } from './decide';

// The sweep's cheap pass before any child runs: which projects of a batch have nothing to do? One
// `zfs get` per host over every copy it holds in the batch; on hosts without `written`, the space
// accounting it returns (changeFromAccounting) and, for the projects that cannot tell, one script
// per source host that probes them (snapshot, increment bytes, destroy). So an unchanged project
// costs a small fraction of a round trip per host and no child workflow at all; only projects that
// need work get a replicateProject child (and its lock).

export const SWEEP_PROBE = '@@sweep-probe';
/** Printed (destroy 'each') for a probe its lane could not destroy: the cleanup takes it. */
export const SWEEP_PROBE_LEFT = '@@sweep-probe-left';

/**
 * The size of an empty incremental stream on zfs-fuse: its BEGIN and END records only (two
 * dmu_replay_record_t of 312 bytes). Any change since `from` adds records, so a bigger stream means a
 * change. Counting bytes needs one process (`wc -c`) where zstreamdump and sed needed two.
 */
export const EMPTY_INCREMENT_BYTES = 624;

/** Probes per script: ~130 bytes a line keeps a script far below the 128 KiB one argument may hold. */
export const MAX_PROBES_PER_SCRIPT = 250;

/**
 * For each dataset: take `<dataset>@<probe>` and measure the increment from `<from>` in bytes. Prints
 * `@@sweep-probe <dataset> <bytes>` (`-1` when the probe failed: counted as changed). `destroy`:
 * 'each' destroys every probe in its lane right after its measure (retried; one it could not destroy
 * is printed for the cleanup); 'after' leaves them all to sweepProbeCleanupCommand's one
 * `zfs destroy -r`. Measured on zfs-fuse (bench/zfs-sweep.ts BENCH_COMPARE_DESTROY=1): see the
 * runbook's README. The probe name is never a runbook snapshot name, so no retention could take it
 * for one.
 */
export function sweepProbeCommand(items: ReadonlyArray<{ dataset: string; from: string }>, probe: string, lanes = 1, destroy: 'each' | 'after' = 'after'): ShellCommand {
  snapshotShortNameSchema.parse(probe);
  if (items.length > MAX_PROBES_PER_SCRIPT) throw new Error(`sweepProbeCommand: at most ${MAX_PROBES_PER_SCRIPT} probes per script (the script is one argument of bash -c), got ${items.length}`);
  // One function, one short line per probe: the script is one command-line argument (128 KiB at most).
  // $1 dataset, $2 probe snapshot, $3 base snapshot (@from).
  const fn =
    destroy === 'each'
      ? `p() { local n=-1 ok=0 i; if zfs snapshot "$2"; then n=$(zfs send -i "$3" "$2" | wc -c) || n=-1; for i in 1 2 3 4 5 6 7 8 9 10; do zfs destroy "$2" && { ok=1; break; }; sleep 0.2; done; [ $ok = 1 ] || echo ${SWEEP_PROBE_LEFT} "$1"; fi; echo ${SWEEP_PROBE} "$1" "\${n:--1}"; }`
      : `p() { local n=-1; if zfs snapshot "$2"; then n=$(zfs send -i "$3" "$2" | wc -c) || n=-1; fi; echo ${SWEEP_PROBE} "$1" "\${n:--1}"; }`;
  const lines = items.map(({ dataset, from }) => {
    datasetNameSchema.parse(dataset);
    snapshotShortNameSchema.parse(from);
    return sh`p ${dataset} ${`${dataset}@${probe}`} ${`@${from}`}`;
  });
  if (!Number.isInteger(lanes) || lanes < 1 || lanes > 64) throw new Error(`sweepProbeCommand: lanes must be 1..64, got ${lanes}`);
  const n = Math.min(lanes, lines.length);
  if (n <= 1) return { text: `set -o pipefail\n${fn}\n${lines.map((l) => l.text).join('\n')}`, display: `${lines.length} change probes (snapshot @${probe}, increment bytes)` };
  // Lanes: each a subshell running its share one after another, all lanes at once. ZFS commits the
  // snapshots of concurrent lanes in shared transaction groups, so the host waits for one txg sync
  // per round of lanes instead of one per project. Each result line is one short write to the pipe,
  // so lines of different lanes never interleave.
  const groups = Array.from({ length: n }, (_, k) => lines.filter((_, j) => j % n === k));
  const text = `set -o pipefail\n${fn}\n${groups.map((g) => `(\n${g.map((l) => l.text).join('\n')}\n) &`).join('\n')}\nwait`;
  return { text, display: `${lines.length} change probes in ${n} lanes (snapshot @${probe}, increment bytes)` };
}

/**
 * Destroy every `@<probe>` snapshot in the pool: `zfs destroy -r pool@probe` destroys them in one
 * transaction group (it also takes the ones a crashed earlier attempt of the same probe left). Should
 * that fail (a snapshot busy for a moment), the pool's snapshots are listed once and each probe is
 * destroyed on its own, retried, so no probe is ever left behind as a project's newest snapshot. The
 * script's size does not grow with the number of probes (it is one command-line argument).
 */
export function sweepProbeCleanupCommand(pool: string, probe: string): ShellCommand {
  datasetNameSchema.parse(pool);
  snapshotShortNameSchema.parse(probe);
  const text = [
    `${sh`zfs destroy -r ${`${pool}@${probe}`}`.text} 2>/dev/null && exit 0`,
    `${sh`zfs list -H -o name -t snapshot -r ${pool}`.text} | grep -F ${sh`${`@${probe}`}`.text} | while read -r s; do`,
    `  [ "\${s#*@}" = ${sh`${probe}`.text} ] || continue`,
    '  for i in 1 2 3 4 5 6 7 8 9 10; do zfs destroy "$s" && break; sleep 0.2; done',
    'done',
    'true',
  ].join('\n');
  return { text, display: `zfs destroy -r ${pool}@${probe} (the change probes; one by one if that fails)` };
}

/** A scan's probe snapshot is `sweep-probe-<UTC time the scan began>` (see replicateProjects). */
const PROBE_NAME = /^sweep-probe-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * How old another scan's probe must be before a scan takes it for one left behind by a scan cut short
 * (a worker killed mid-probe): far longer than a scan takes, so a probe of a scan still running is
 * never touched.
 */
export const STALE_PROBE_AGE_MS = 60 * 60_000;

/**
 * Probe snapshots another scan left on this copy, full names. Left alone they would be a project's
 * newest snapshot: the next probe would measure from the leftover instead of from the last snapshot
 * the replicas hold, and a child would copy the leftover to the replicas.
 */
export function staleProbes(copy: Pick<CopyState, 'dataset' | 'snapshots'>, currentProbe: string | null, now: Date): string[] {
  return copy.snapshots
    .filter((snap) => {
      const m = PROBE_NAME.exec(snap.shortName);
      if (!m || snap.shortName === currentProbe) return false;
      const takenAt = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
      return now.getTime() - takenAt > STALE_PROBE_AGE_MS;
    })
    .map((snap) => `${copy.dataset}@${snap.shortName}`);
}

export const STALE_PROBE_GONE = '@@stale-probe-gone';

/** Destroy each leftover probe (retried; one already gone counts as gone); prints `@@stale-probe-gone <snapshot>` for each one gone. */
export function destroyStaleProbesCommand(snapshots: readonly string[]): ShellCommand {
  const fn = `d() { local i; for i in 1 2 3 4 5; do zfs list -H -o name "$1" >/dev/null 2>&1 || { echo ${STALE_PROBE_GONE} "$1"; return; }; zfs destroy "$1" && { echo ${STALE_PROBE_GONE} "$1"; return; }; sleep 0.2; done; }`;
  const lines = snapshots.map((name) => {
    const [dataset, short] = name.split('@');
    datasetNameSchema.parse(dataset);
    snapshotShortNameSchema.parse(short);
    return sh`d ${name}`.text;
  });
  return {
    text: [fn, ...lines].join('\n'),
    display: `zfs destroy of ${snapshots.length} probe snapshot${snapshots.length === 1 ? '' : 's'} an earlier scan left (${snapshots[0]}${snapshots.length > 1 ? ', ...' : ''})`,
  };
}

export function parseStaleProbesGone(stdout: string): Set<string> {
  return new Set(
    stdout
      .split('\n')
      .map((l) => /^@@stale-probe-gone (\S+)$/.exec(l.trim())?.[1])
      .filter((d): d is string => !!d),
  );
}

/** Datasets whose probe snapshot a lane could not destroy (SWEEP_PROBE_LEFT lines). */
export function parseSweepProbeLeft(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => /^@@sweep-probe-left (\S+)$/.exec(l.trim())?.[1])
    .filter((d): d is string => !!d);
}

export function parseSweepProbe(stdout: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const m = /^@@sweep-probe (\S+) (-?\d+)$/.exec(line.trim());
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/**
 * Whether the source changed since its newest snapshot, read from ZFS's space accounting alone (no
 * probe snapshot), where that can tell. The first synced change after a snapshot rewrites the
 * dataset's root block, which the snapshot still holds; ZFS then moves that block's bytes from the
 * dataset to its snapshots (usedbysnapshots grows) and, when the block was written after the
 * snapshot before it, to the newest snapshot's own `used`. So:
 *   - newest `used` > 0: changed (a snapshot holds bytes only if the dataset let go of them);
 *   - newest `used` = 0 and usedbysnapshots = the sum of the snapshots' `used`: unchanged, since a
 *     change would have left the root block's bytes with the snapshots but with none alone;
 *   - newest `used` = 0 and it differs from the snapshot before it: unchanged, since the newest's root
 *     block is then newer than the one before, and its bytes would count in the newest's `used`. Two
 *     snapshots differ when their `referenced` differ, or when replicateProject kept the newest
 *     because its increment from a snapshot no newer than the one before carried a change
 *     (CHANGED_AFTER_TXG, which it sets on every snapshot it keeps);
 *   - anything else (snapshots that share blocks the dataset freed, equal sizes): only a probe
 *     snapshot tells.
 * The accounting is that of the last synced transaction group: a scan forces one first
 * (txgSyncCommand), so every change made before the scan counts. Verified on zfs-fuse in
 * lab/zfs/README.md; the sweep tests change projects in each of these ways and expect a child.
 */
export type AccountedChange = { kind: 'unchanged' } | { kind: 'changed'; why: string } | { kind: 'probe'; why: string };

export function changeFromAccounting(source: Pick<CopyState, 'snapshots' | 'usedBySnapshots'>): AccountedChange {
  const snaps = source.snapshots;
  const newest = snaps.at(-1);
  if (!newest) return { kind: 'probe', why: 'no snapshot' };
  if (typeof newest.used !== 'number' || typeof source.usedBySnapshots !== 'number' || snaps.some((s) => typeof s.used !== 'number')) return { kind: 'probe', why: 'space accounting not read' };
  if (newest.used > 0) return { kind: 'changed', why: `changed since @${newest.shortName} (${newest.used} bytes only the snapshot still holds)` };
  const held = snaps.reduce((sum, s) => sum + (s.used as number), 0);
  if (source.usedBySnapshots === held) return { kind: 'unchanged' };
  const before = snaps.at(-2);
  if (before && typeof newest.changedAfterTxg === 'number' && before.createtxg <= newest.changedAfterTxg) return { kind: 'unchanged' };
  if (before && typeof before.referenced === 'number' && typeof newest.referenced === 'number' && before.referenced !== newest.referenced) return { kind: 'unchanged' };
  return { kind: 'probe', why: `snapshots share ${source.usedBySnapshots - held} freed bytes` };
}

/**
 * Makes ZFS sync its open transaction group, so the space accounting read next includes every change
 * made before it: `zfs inherit` of a user property the pool does not have is a sync task (the command
 * returns once the txg holding it is on disk) that leaves nothing behind. ~15 ms on an idle pool.
 */
export function txgSyncCommand(pool: string): ShellCommand {
  datasetNameSchema.parse(pool);
  return sh`zfs inherit durable-runbooks:sweep-sync ${pool}`;
}

export interface SweepCheckProject {
  project: string;
  source: string;
  replicas: string[];
}

/**
 * Whether a project can be skipped given its copies, before the source's change probe: every replica
 * holds the source's newest snapshot (by guid) as its own newest, unmounted, unmodified, with the
 * source's quota and a current ledger. Returns why not, or null when only the source's change check remains (`written`, the accounting, a probe).
 */
export function whyNotInSync(source: CopyState, replicas: readonly CopyState[], features: Pick<ZfsFeatures, 'writtenProperty'>): string | null {
  if (!source.exists) return 'the source has no dataset';
  const newest = newestSnapshot(source);
  if (!newest) return 'the source has no snapshot';
  if (features.writtenProperty && (source.written ?? 1) > 0) return `the source changed since @${newest.shortName}`;
  for (const r of replicas) {
    const action = replicaAction(source, r, newest);
    if (action.kind !== 'in-sync') return `${r.host}: ${action.kind === 'send' ? (action.from ? `behind (base @${action.from})` : 'no replica yet') : action.reason}`;
    const fixes = Object.keys(replicaPropertyFixes(source, r));
    if (fixes.length) return `${r.host}: ${fixes.join(', ')} to set`;
    if (!ledgerCurrent(r, newest, source.host)) return `${r.host}: ledger not current`;
  }
  return null;
}
