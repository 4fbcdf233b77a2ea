import { z } from 'zod';
import { and, raw, sh, type ShellCommand } from '../ssh/command';
import type { ZfsFeatures } from './features';
import { datasetNameSchema, snapshotNameSchema, snapshotShortNameSchema, splitZfsName } from './names';

// The mutating zfs commands the replication runbook runs, built from validated names and the host's
// probed features. Pure: workflows import these to show the exact commands in plan mode. Every form
// here was run on zfs-fuse 0.7 (lab/zfs/spike.sh) and exists with the same meaning on OpenZFS.

/** A user property (`module:name`, lower-case) as the ledger uses them. */
export const userPropertyNameSchema = z.string().regex(/^[a-z0-9_.-]+:[a-z0-9_.:-]+$/, 'a ZFS user property name: module:property');
/** Native properties the runbook sets: a closed list, so a typo fails here rather than on a host. */
export const settablePropertySchema = z.enum(['quota', 'refquota', 'readonly', 'canmount', 'mountpoint', 'atime', 'snapdir', 'compression']);
/** Values without newline or tab: both would corrupt `zfs get -H` output. 8191 is ZFS's user-property limit. */
export const propertyValueSchema = z
  .string()
  .max(8191)
  .regex(/^[^\n\r\t]*$/, 'a property value without newline or tab');

function propertyName(name: string): string {
  if (settablePropertySchema.safeParse(name).success) return name;
  return userPropertyNameSchema.parse(name);
}

/** `zfs snapshot <ds>@<short>`; zfs-fuse takes ONE snapshot per command ("too many arguments"). */
export function snapshotCommand(snapshot: string, userProperties: Record<string, string> = {}): ShellCommand {
  snapshotNameSchema.parse(snapshot);
  const opts = Object.entries(userProperties).flatMap(([k, v]) => ['-o', `${userPropertyNameSchema.parse(k)}=${propertyValueSchema.parse(v)}`]);
  return sh`zfs snapshot ${opts} ${snapshot}`;
}

/**
 * `zfs set k=v <target>` for each property, joined with &&: zfs-fuse's `zfs set` takes one property
 * per command (a second `k=v` is read as a dataset name: "cannot open 'k=v': invalid dataset name").
 */
export function setPropertiesCommand(target: string, properties: Record<string, string>): ShellCommand {
  if (!datasetNameSchema.safeParse(target).success) snapshotNameSchema.parse(target);
  const entries = Object.entries(properties);
  if (entries.length === 0) throw new Error('setPropertiesCommand: no properties');
  return and(...entries.map(([k, v]) => sh`zfs set ${`${propertyName(k)}=${propertyValueSchema.parse(v)}`} ${target}`));
}

export interface SendOptions {
  /** The snapshot to send, dataset@short. */
  snapshot: string;
  /** Incremental base: a short name (or full name) of an earlier snapshot of the same dataset; omit for a full stream. */
  from?: string;
  /** -I: also send the snapshots between `from` and `snapshot` (keeps the replica's history like the source's). */
  intermediates?: boolean;
  /** -p: carry properties (quota, atime, user properties arrive as `received`). */
  properties?: boolean;
  /** Use `send -c` when the host has it (OpenZFS 0.7+): compressed blocks stay compressed on the wire. */
  compressed?: boolean;
}

/** `zfs send [-p] [-c] [-i|-I @from] <ds@snap>`: only flags zfs-fuse has unless the probe found more. */
export function sendCommand(opts: SendOptions, features: Pick<ZfsFeatures, 'sendCompressed'>): ShellCommand {
  snapshotNameSchema.parse(opts.snapshot);
  const flags: string[] = [];
  if (opts.properties) flags.push('-p');
  if (opts.compressed && features.sendCompressed) flags.push('-c');
  if (opts.from === undefined) return sh`zfs send ${flags} ${opts.snapshot}`;
  const { dataset } = splitZfsName(opts.snapshot);
  const fromShort = opts.from.includes('@') ? opts.from.slice(opts.from.indexOf('@') + 1) : opts.from;
  if (opts.from.includes('@') && splitZfsName(opts.from).dataset !== dataset) throw new Error(`sendCommand: base ${opts.from} is not a snapshot of ${dataset}`);
  snapshotShortNameSchema.parse(fromShort);
  flags.push(opts.intermediates ? '-I' : '-i', `@${fromShort}`);
  return sh`zfs send ${flags} ${opts.snapshot}`;
}

export interface ReceiveOptions {
  /** The replica dataset (the stream's snapshot name is kept). */
  target: string;
  /**
   * -F. Never set it for a diverged replica without an approval: on OpenZFS an incremental with -F
   * destroys every replica snapshot newer than the base; on zfs-fuse it discards changes since the
   * newest snapshot (and with -R destroys snapshots the source no longer has).
   */
  force?: boolean;
  /** Properties the replica must have after its first receive (e.g. canmount=noauto, readonly=on). */
  set?: Record<string, string>;
  /**
   * Received properties to ignore (OpenZFS `-x`), for streams sent with -p/-R. Inheritable ones only:
   * zfs-fuse emulates -x with `zfs inherit`, which refuses quota/refquota ("cannot be inherited");
   * override those with `set` instead.
   */
  exclude?: string[];
}

/** Properties `zfs inherit` refuses (zfs-fuse and OpenZFS): they can only be overridden with `set`. */
const NOT_INHERITABLE = new Set(['quota', 'refquota', 'reservation', 'refreservation', 'canmount', 'volsize']);

export interface ReceivePlan {
  /** The receive itself; always -u so a replica is never mounted by it. */
  receive: ShellCommand;
  /** What must run after a successful receive, where the host lacks `recv -o`/`-x` (zfs-fuse). */
  after: ShellCommand | null;
}

/**
 * `zfs recv -u [-F] [-o k=v ...] [-x k ...] <target>`. Where the host has no `-o`/`-x` (zfs-fuse)
 * the same properties are applied by `after`, which the caller runs right after the receive: there
 * is a moment in between where the replica has the received values. `after` sets before it inherits:
 * on zfs-fuse `zfs inherit mountpoint` MOUNTS an unmounted dataset whose canmount is on (verified),
 * so canmount=noauto must already be in place.
 */
export function receiveCommand(opts: ReceiveOptions, features: Pick<ZfsFeatures, 'recvPropertyOverride' | 'recvUnmounted'>): ReceivePlan {
  datasetNameSchema.parse(opts.target);
  if (!features.recvUnmounted) throw new Error('receiveCommand: this ZFS has no `recv -u`; refusing to receive a replica that would be mounted');
  const flags: string[] = ['-u'];
  if (opts.force) flags.push('-F');
  const set = Object.entries(opts.set ?? {}).map(([k, v]) => [propertyName(k), propertyValueSchema.parse(v)] as const);
  const exclude = (opts.exclude ?? []).map(propertyName);
  for (const k of exclude) {
    if (NOT_INHERITABLE.has(k)) throw new Error(`receiveCommand: ${k} cannot be excluded (zfs inherit refuses it); set it instead`);
    if (set.some(([s]) => s === k)) throw new Error(`receiveCommand: ${k} is both set and excluded`);
  }
  if (features.recvPropertyOverride) {
    for (const [k, v] of set) flags.push('-o', `${k}=${v}`);
    for (const k of exclude) flags.push('-x', k);
    return { receive: sh`zfs recv ${flags} ${opts.target}`, after: null };
  }
  const after: ShellCommand[] = [...(set.length > 0 ? [setPropertiesCommand(opts.target, Object.fromEntries(set))] : []), ...exclude.map((k) => sh`zfs inherit ${k} ${opts.target}`)];
  return { receive: sh`zfs recv ${flags} ${opts.target}`, after: after.length > 0 ? and(...after) : null };
}

export const holdTagSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'a hold tag: letters, digits and _.:-');

/** `zfs hold <tag> <snap>`: a per-replica tag keeps the base a replica needs from retention. */
export function holdCommand(tag: string, snapshot: string): ShellCommand {
  return sh`zfs hold ${holdTagSchema.parse(tag)} ${snapshotNameSchema.parse(snapshot)}`;
}
export function releaseCommand(tag: string, snapshot: string): ShellCommand {
  return sh`zfs release ${holdTagSchema.parse(tag)} ${snapshotNameSchema.parse(snapshot)}`;
}

/** `zfs destroy <ds@snap>` (one snapshot; -d defers while it is held or cloned). Never -r/-R. */
export function destroySnapshotCommand(snapshot: string, opts: { deferred?: boolean } = {}): ShellCommand {
  snapshotNameSchema.parse(snapshot);
  return opts.deferred ? sh`zfs destroy -d ${snapshot}` : sh`zfs destroy ${snapshot}`;
}

/**
 * On zfs-fuse (no `written`): the increment from `from` to `to`, summarized by zstreamdump. Parse the
 * output with parseStreamSummary; isEmptyIncrementalStream says whether anything changed. pipefail so
 * a failing send is not mistaken for an empty one.
 */
export function incrementSummaryCommand(snapshot: string, from: string, zstreamdump = 'zstreamdump'): ShellCommand {
  const send = sendCommand({ snapshot, from }, { sendCompressed: false });
  if (!/^\/?[A-Za-z0-9_./-]+$/.test(zstreamdump)) throw new Error(`incrementSummaryCommand: odd zstreamdump path ${zstreamdump}`);
  return sh`set -o pipefail; ${send} | ${raw(zstreamdump)}`;
}
