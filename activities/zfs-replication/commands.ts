import { and, raw, sh, type ShellCommand } from '../ssh/command';
import { destroySnapshotCommand, holdCommand, receiveCommand, releaseCommand, sendCommand, setPropertiesCommand } from '../zfs/commands';
import type { ZfsFeatures } from '../zfs/features';
import { datasetNameSchema, snapshotShortNameSchema } from '../zfs/names';
import { CHANGED_AFTER_TXG } from './copy-state';
import { LEDGER } from './ledger';

// The exact commands the replication runbooks run, built from validated names only. Pure: the
// workflows show them in plan mode and in approval requests; the activities run the same objects.
// Where a step needs a decision on the host (did anything change? is this snapshot held?), it is one
// small script, so a step costs one SSH round trip whatever it decides.

export const PROBE_DESTROYED = '@@probe-empty-destroyed';
export const PROBE_KEPT = '@@probe-changed-kept';

/**
 * Take `<dataset>@<snapshot>` (kept if it already exists: a retried step must not fail on its own
 * snapshot). With `probeFrom` (zfs-fuse, which has no `written`): send the increment from `probeFrom`
 * into zstreamdump; if it holds only its BEGIN and END records nothing changed, and the new snapshot
 * is destroyed again before the command returns. The summary is printed for the audit and parsed.
 */
export function snapshotCommand(dataset: string, snapshot: string, probe: { from: string; zstreamdump: string } | null): ShellCommand {
  datasetNameSchema.parse(dataset);
  snapshotShortNameSchema.parse(snapshot);
  const full = `${dataset}@${snapshot}`;
  const take = sh`zfs list -H -o name ${full} >/dev/null 2>&1 || zfs snapshot ${full}`;
  if (!probe) return take;
  snapshotShortNameSchema.parse(probe.from);
  if (!/^\/?[A-Za-z0-9_./-]+$/.test(probe.zstreamdump)) throw new Error(`snapshotCommand: odd zstreamdump path ${probe.zstreamdump}`);
  const send = sendCommand({ snapshot: full, from: probe.from }, { sendCompressed: false });
  // Only BEGIN and END (2 records) means an empty increment; anything else counts as a change.
  return sh`set -o pipefail; ${take} || exit 10
summary=$(${send} | ${raw(probe.zstreamdump)} | sed -n '/^SUMMARY:/,$p') || exit 11
printf '%s\\n' "$summary"
if printf '%s\\n' "$summary" | grep -Eq '^[[:space:]]*Total records = 2$'; then
  for i in 1 2 3 4 5 6 7 8 9 10; do zfs destroy ${full} && break; sleep 0.2; done
  zfs list -H -o name ${full} >/dev/null 2>&1 && exit 12
  echo ${PROBE_DESTROYED}
else
  zfs set ${CHANGED_AFTER_TXG}="$(zfs get -Hp -o value createtxg ${`${dataset}@${probe.from}`})" ${full} || true
  echo ${PROBE_KEPT}
fi`;
}

/** Hold the base a send starts from, so nothing can destroy it mid-send; an existing hold is fine. */
export function holdBaseCommand(tag: string, snapshot: string): ShellCommand {
  return sh`out=$(${holdCommand(tag, snapshot)} 2>&1) || case "$out" in *'tag already exists'*) ;; *) echo "$out" >&2; exit 1 ;; esac`;
}

/**
 * After a replica received `snapshot`: move its hold from the old base to the new one on the source.
 * A missing hold is not an error (the lab's first replication placed none).
 */
export function moveHoldCommand(tag: string, dataset: string, snapshot: string, previous: string | null): ShellCommand {
  const hold = sh`{ ${holdCommand(tag, `${dataset}@${snapshot}`)} 2>/dev/null || true; }`;
  if (!previous || previous === snapshot) return hold;
  return sh`${hold}; { ${releaseCommand(tag, `${dataset}@${previous}`)} 2>/dev/null || true; }`;
}

export interface StreamCommands {
  send: ShellCommand;
  receive: ShellCommand;
}

/** zfs send (full, or -I from the base so the replica also gets the snapshots in between) and zfs recv -u. */
export function streamCommands(
  dataset: string,
  snapshot: string,
  from: string | null,
  sourceFeatures: Pick<ZfsFeatures, 'sendCompressed'>,
  replicaFeatures: Pick<ZfsFeatures, 'recvPropertyOverride' | 'recvUnmounted'>,
  firstReceive: boolean,
): StreamCommands {
  const send = sendCommand({ snapshot: `${dataset}@${snapshot}`, ...(from ? { from, intermediates: true } : {}), compressed: true }, sourceFeatures);
  // recv -o exists on OpenZFS only; where it does, the first receive creates the replica unmountable
  // and read-only at once. Elsewhere afterReceiveCommand sets the same right after (canmount first).
  const set: Record<string, string> = firstReceive && replicaFeatures.recvPropertyOverride ? { canmount: 'noauto', readonly: 'on' } : {};
  const { receive } = receiveCommand({ target: dataset, set }, replicaFeatures);
  return { send, receive };
}

/**
 * On the replica after a receive: keep it unmountable and read-only, give it the source's quota
 * (plain send does not carry it: seed 001, "quota doesn't propagate"), write the ledger, then print
 * its snapshots' guids so the activity can prove the snapshot arrived. One round trip.
 */
export function afterReceiveCommand(dataset: string, properties: Record<string, string>): ShellCommand {
  datasetNameSchema.parse(dataset);
  const ordered = Object.entries(properties).sort(([a], [b]) => rank(a) - rank(b));
  return sh`${setPropertiesCommand(dataset, Object.fromEntries(ordered))} && zfs get -Hp -d 1 -o name,property,value,source guid ${dataset}`;
}

/** canmount before anything else: on zfs-fuse some property changes mount a dataset whose canmount is on. */
function rank(property: string): number {
  return property === 'canmount' ? 0 : property === 'readonly' ? 1 : 2;
}

/** `none` or a byte count, as `zfs set quota=` takes it. */
export function quotaValue(bytes: number): string {
  return bytes > 0 ? String(bytes) : 'none';
}

/**
 * Bring a diverged replica back to `toSnapshot` (its copy of the newest common snapshot): make it an
 * unmounted, read-only replica (a returning old source is mounted and serving), release the runbook's
 * hold tags (an old source holds its snapshots for ITS replicas; a replica needs no holds), then
 * `zfs rollback -r`, which destroys the later snapshots and discards every change since, and clear
 * any promotion stamp. Explicit
 * rollback rather than `recv -F`: the same meaning on zfs-fuse and OpenZFS, and plan mode shows it.
 */
export function rollbackReplicaCommand(dataset: string, toSnapshot: string, releaseOn: readonly string[], releaseTags: readonly string[]): ShellCommand {
  datasetNameSchema.parse(dataset);
  snapshotShortNameSchema.parse(toSnapshot);
  const releases = releaseOn.flatMap((s) => releaseTags.map((t) => sh`{ ${releaseCommand(t, `${dataset}@${s}`)} 2>/dev/null || true; }`));
  return and(
    sh`zfs set canmount=noauto ${dataset}`,
    sh`{ [ "$(zfs get -H -o value mounted ${dataset})" != yes ] || zfs unmount ${dataset}; }`,
    ...releases,
    sh`zfs rollback -r ${`${dataset}@${toSnapshot}`}`,
    sh`zfs set readonly=on ${dataset}`,
    sh`zfs set ${`${LEDGER.role}=replica`} ${dataset}`,
    ...[LEDGER.promotedAt, LEDGER.promotedFrom, LEDGER.promotedSnapshot].map((p) => sh`zfs inherit ${p} ${dataset}`),
  );
}

/** Destroy a replica that shares no snapshot with the source, so a full stream can seed it again. */
export function replaceReplicaCommand(dataset: string): ShellCommand {
  datasetNameSchema.parse(dataset);
  return sh`if zfs list -H -o name ${dataset} >/dev/null 2>&1; then zfs set canmount=noauto ${dataset} && { [ "$(zfs get -H -o value mounted ${dataset})" != yes ] || zfs unmount ${dataset}; } && zfs destroy -r ${dataset}; fi`;
}

export const PRUNED = '@@destroyed';
export const PRUNE_KEPT = '@@kept';

/**
 * Retention: destroy each snapshot, one by one; one that cannot go (held: "dataset is busy") is
 * reported and kept, never forced. A snapshot already gone counts as destroyed.
 */
export function pruneSnapshotsCommand(dataset: string, snapshots: readonly string[]): ShellCommand {
  datasetNameSchema.parse(dataset);
  const each = snapshots.map((s) => {
    const full = `${dataset}@${s}`;
    return sh`if ! zfs list -H -o name ${full} >/dev/null 2>&1; then echo ${PRUNED} ${s}; elif out=$(${destroySnapshotCommand(full)} 2>&1); then echo ${PRUNED} ${s}; else echo ${PRUNE_KEPT} ${s} "$out" | tr '\\n' ' '; echo; fi`;
  });
  return { text: each.map((c) => c.text).join('\n'), display: each.map((c) => c.display).join('\n') };
}

/** moveProject, on request: stop the old source serving (unmount) so nothing changes during the final sync. */
export function fenceSourceCommand(dataset: string): ShellCommand {
  datasetNameSchema.parse(dataset);
  return and(sh`zfs set canmount=noauto ${dataset}`, sh`{ [ "$(zfs get -H -o value mounted ${dataset})" != yes ] || zfs unmount ${dataset}; }`);
}

/** Undo fenceSourceCommand (the move failed before the new source took over). */
export function unfenceSourceCommand(dataset: string): ShellCommand {
  datasetNameSchema.parse(dataset);
  return and(sh`zfs set canmount=on ${dataset}`, sh`{ [ "$(zfs get -H -o value mounted ${dataset})" = yes ] || zfs mount ${dataset}; }`);
}

/** moveProject, on request: the old source, fenced and at the new source's snapshot, becomes a replica. */
export function demoteFencedSourceCommand(dataset: string, releaseOn: readonly string[], releaseTags: readonly string[]): ShellCommand {
  datasetNameSchema.parse(dataset);
  // Holds belong on sources: the ones it kept for its replicas would only pin snapshots now.
  const releases = releaseOn.flatMap((s) => releaseTags.map((t) => sh`{ ${releaseCommand(t, `${dataset}@${s}`)} 2>/dev/null || true; }`));
  return and(
    ...releases,
    sh`zfs set readonly=on ${dataset}`,
    sh`zfs set ${`${LEDGER.role}=replica`} ${dataset}`,
    ...[LEDGER.promotedAt, LEDGER.promotedFrom, LEDGER.promotedSnapshot].map((p) => sh`zfs inherit ${p} ${dataset}`),
  );
}

/**
 * Undo promoteCommand (a requested move failed after the promotion, before the old source was
 * demoted): the copy becomes an unmounted, read-only replica again, with the received ledger it had.
 */
export function unpromoteCommand(dataset: string, receivedLedger: Record<string, string>): ShellCommand {
  datasetNameSchema.parse(dataset);
  return and(
    fenceSourceCommand(dataset),
    sh`zfs set readonly=on ${dataset}`,
    setPropertiesCommand(dataset, { ...receivedLedger, [LEDGER.role]: 'replica' }),
    ...[LEDGER.promotedAt, LEDGER.promotedFrom, LEDGER.promotedSnapshot].map((p) => sh`zfs inherit ${p} ${dataset}`),
  );
}

/**
 * moveProject: make a replica the project's source: writable, mountable, mounted at its usual place,
 * and say so in the ledger (role, when, from which host, at which snapshot).
 */
export function promoteCommand(dataset: string, ledger: Record<string, string>): ShellCommand {
  datasetNameSchema.parse(dataset);
  return and(
    sh`zfs set readonly=off ${dataset}`,
    sh`zfs set canmount=on ${dataset}`,
    setPropertiesCommand(dataset, ledger),
    // It no longer receives: its "last received" entries would only mislead.
    ...[LEDGER.lastSnapshot, LEDGER.lastGuid, LEDGER.receivedAt, LEDGER.receivedFrom].map((p) => sh`zfs inherit ${p} ${dataset}`),
    sh`{ [ "$(zfs get -H -o value mounted ${dataset})" = yes ] || zfs mount ${dataset}; }`,
    sh`zfs get -Hp -o name,property,value,source mounted,mountpoint,readonly ${dataset}`,
  );
}
