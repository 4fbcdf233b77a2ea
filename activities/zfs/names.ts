import { z } from 'zod';

// ZFS names as the replication runbook uses them. Every name that reaches a `zfs` command passes one
// of these schemas first, so a dataset name can never carry shell syntax or a second argument, even
// though commands are also quoted (activities/ssh/command.ts).

/** ZFS_MAX_DATASET_NAME_LEN is 256 including the NUL, on zfs-fuse and OpenZFS alike. */
const MAX_NAME_LENGTH = 255;

/** The characters both zfs-fuse and OpenZFS accept in a name component (OpenZFS also takes spaces; we refuse them). */
const CHAR = '[A-Za-z0-9_.:-]';
const COMPONENT = `${CHAR}+`;

/**
 * A pool name: starts with a letter; the names zpool reserves for vdev types are refused because
 * `zpool create mirror ...` would mean something else entirely.
 */
export const poolNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,254}$/, 'a ZFS pool name: a letter, then letters, digits and _.:-')
  .refine((n) => !/^(mirror|raidz|draid|spare|log|cache|special|dedup)/.test(n) && !/^c[0-9]/.test(n), 'a pool name that is not a reserved vdev word');

/** A filesystem or volume: pool/child/... (no snapshot or bookmark part). */
export const datasetNameSchema = z
  .string()
  .max(MAX_NAME_LENGTH)
  .regex(new RegExp(`^[A-Za-z]${CHAR}*(/${COMPONENT})*$`), 'a ZFS dataset name: pool/child/..., letters, digits and _.:-')
  .refine((n) => !n.split('/').some((c) => c === '.' || c === '..'), 'a ZFS dataset name without "." or ".." components');

/** The part after `@` (snapshot) or `#` (bookmark). */
export const snapshotShortNameSchema = z
  .string()
  .min(1)
  .max(MAX_NAME_LENGTH)
  .regex(new RegExp(`^${COMPONENT}$`), 'a snapshot name: letters, digits and _.:-');

export const snapshotNameSchema = z
  .string()
  .max(MAX_NAME_LENGTH)
  .refine((n) => {
    const at = n.indexOf('@');
    return at > 0 && datasetNameSchema.safeParse(n.slice(0, at)).success && snapshotShortNameSchema.safeParse(n.slice(at + 1)).success;
  }, 'a ZFS snapshot name: dataset@snapshot');

export const bookmarkNameSchema = z
  .string()
  .max(MAX_NAME_LENGTH)
  .refine((n) => {
    const at = n.indexOf('#');
    return at > 0 && datasetNameSchema.safeParse(n.slice(0, at)).success && snapshotShortNameSchema.safeParse(n.slice(at + 1)).success;
  }, 'a ZFS bookmark name: dataset#bookmark');

export type ZfsObjectKind = 'filesystem' | 'snapshot' | 'bookmark';

/** Split `pool/ds@snap` / `pool/ds#mark` / `pool/ds` into its parts and say which it is. */
export function splitZfsName(name: string): { dataset: string; kind: ZfsObjectKind; shortName: string | null } {
  const at = name.indexOf('@');
  if (at >= 0) return { dataset: name.slice(0, at), kind: 'snapshot', shortName: name.slice(at + 1) };
  const hash = name.indexOf('#');
  if (hash >= 0) return { dataset: name.slice(0, hash), kind: 'bookmark', shortName: name.slice(hash + 1) };
  return { dataset: name, kind: 'filesystem', shortName: null };
}

/** Snapshots the runbook makes start with this, so retention never touches an operator's own snapshots. */
export const REPLICATION_SNAPSHOT_PREFIX = 'rb-';

const REPLICATION_SNAPSHOT = /^rb-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * `rb-20261121T091500Z`: ISO-8601 UTC in the standard's basic format (no separators). Both zfs-fuse
 * and OpenZFS accept `:` in snapshot names (verified on zfs-fuse, see lab/zfs/README.md), but a colon
 * is the host separator for scp/rsync and is not allowed in names shown through SMB's .zfs/snapshot,
 * and the extended format with the colons swapped for dashes would no longer be ISO-8601; the basic
 * format is both. Second resolution: one runbook run per project at a time (the workflow id is the
 * lock), and a same-second collision is refused by `zfs snapshot` itself.
 */
export function replicationSnapshotShortName(at: Date): string {
  if (Number.isNaN(at.getTime())) throw new Error('replicationSnapshotShortName: invalid date');
  const iso = at.toISOString(); // 2026-11-21T09:15:00.123Z
  return `${REPLICATION_SNAPSHOT_PREFIX}${iso.slice(0, 10).replace(/-/g, '')}T${iso.slice(11, 19).replace(/:/g, '')}Z`;
}

/** `<dataset>@rb-<ISO UTC>` for one dataset. */
export function replicationSnapshotName(dataset: string, at: Date): string {
  datasetNameSchema.parse(dataset);
  return `${dataset}@${replicationSnapshotShortName(at)}`;
}

/** The time in a runbook snapshot's name, or null for any other snapshot (an operator's, or a foreign tool's). */
export function parseReplicationSnapshotTime(shortOrFullName: string): Date | null {
  const short = shortOrFullName.includes('@') ? shortOrFullName.slice(shortOrFullName.indexOf('@') + 1) : shortOrFullName;
  const m = REPLICATION_SNAPSHOT.exec(short);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  // Reject 2026-02-31 and friends instead of letting Date roll them over.
  return replicationSnapshotShortName(date) === short ? date : null;
}
