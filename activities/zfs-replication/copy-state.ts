import { sh, type ShellCommand } from '../ssh/command';
import { parseZfsGet, zfsGetCommand, type SnapshotRef, type ZfsObject } from '../zfs/get';
import { datasetNameSchema } from '../zfs/names';
import { LEDGER_PROPERTIES, ledgerFromProperties, type Ledger } from './ledger';

// One copy of a project (the source's dataset, or a replica's) as ONE `zfs get -Hp -d 1` shows it:
// the dataset and its snapshots with guid and createtxg (the only safe way to relate copies), the
// mount state, the quota and the ledger. One round trip per copy, whatever the number of snapshots.
// Pure: the worker runs the command, workflows and tests may parse.

/**
 * Set by replicateProject on a snapshot it kept because the increment from the source's newest
 * snapshot carried a change: that snapshot's createtxg. Whatever snapshot comes before this one, if it
 * is no newer than that txg the two differ, which is what changeFromAccounting needs to trust `used`.
 */
export const CHANGED_AFTER_TXG = 'durable-runbooks:changed-after-txg';

export interface CopySnapshot extends SnapshotRef {
  /** Holds on the snapshot (zfs-fuse's `zfs holds` is broken, `userrefs` is not). */
  userrefs: number;
  /** Bytes only this snapshot holds (`used`); absent in copies read before the sweep asked for it. */
  used?: number | null;
  referenced?: number | null;
  /** CHANGED_AFTER_TXG as this pool set it (a received value counts the sender's txgs, so it is left out). */
  changedAfterTxg?: number | null;
}

export interface CopyState {
  host: string;
  dataset: string;
  exists: boolean;
  mounted: boolean | null;
  canmount: 'on' | 'off' | 'noauto' | null;
  readonly: boolean | null;
  mountpoint: string | null;
  /** Bytes, 0 for none. */
  quota: number | null;
  referenced: number | null;
  /** OpenZFS only: bytes written since the newest snapshot (any name); null where the property does not exist. */
  written: number | null;
  /** `usedbysnapshots`: what the snapshots hold that the dataset no longer does (see changeFromAccounting). */
  usedBySnapshots?: number | null;
  /** Oldest first, by this pool's createtxg. */
  snapshots: CopySnapshot[];
  ledger: Ledger;
}

const BASE_PROPERTIES = ['type', 'guid', 'createtxg', 'creation', 'referenced', 'used', 'usedbysnapshots', 'quota', 'mounted', 'mountpoint', 'canmount', 'readonly', 'userrefs'];

/**
 * `zfs get -Hp -d 1 ... <dataset>`, with `written` only where the host has it (an unknown property
 * fails the whole command on zfs-fuse). `2>&1` is not used: stderr tells a missing dataset apart.
 */
export function inspectCopyCommand(dataset: string, withWritten: boolean): ShellCommand {
  datasetNameSchema.parse(dataset);
  return zfsGetCommand(inspectCopyProperties(withWritten), dataset, { kind: 'depth', depth: 1 });
}

/** What a copy is read with (inspectCopyCommand, and the sweep's pool-wide read). */
export function inspectCopyProperties(withWritten: boolean): string[] {
  return [...BASE_PROPERTIES, ...(withWritten ? ['written'] : []), ...LEDGER_PROPERTIES, CHANGED_AFTER_TXG];
}

/** zfs's words for "there is no such dataset" (zfs-fuse and OpenZFS alike). */
export function isMissingDataset(stderr: string): boolean {
  return /dataset does not exist/.test(stderr);
}

export function missingCopy(host: string, dataset: string): CopyState {
  return { host, dataset, exists: false, mounted: null, canmount: null, readonly: null, mountpoint: null, quota: null, referenced: null, written: null, snapshots: [], ledger: {} };
}

/** Parse the output of inspectCopyCommand. */
export function parseCopyState(host: string, dataset: string, stdout: string): CopyState {
  const copy = copiesFromObjects(host, parseZfsGet(stdout), [dataset]).get(dataset);
  if (!copy?.exists) throw new Error(`zfs get printed nothing about ${dataset} on ${host}`);
  return copy;
}

/**
 * Several copies from one `zfs get -Hp -d 1 ... ds1 ds2 ...` (zfs get takes many targets: a sweep reads
 * every copy a host holds in a batch with one command). A dataset zfs printed nothing about is missing.
 */
export function copiesFromObjects(host: string, objects: readonly ZfsObject[], datasets: readonly string[]): Map<string, CopyState> {
  const byDataset = new Map<string, ZfsObject[]>();
  for (const o of objects) {
    const list = byDataset.get(o.dataset) ?? [];
    list.push(o);
    byDataset.set(o.dataset, list);
  }
  const copies = new Map<string, CopyState>();
  for (const dataset of datasets) {
    const mine = byDataset.get(dataset) ?? [];
    const fs = mine.find((o) => o.name === dataset);
    if (!fs) {
      copies.set(dataset, missingCopy(host, dataset));
      continue;
    }
    const snapshots = mine
      .filter((o) => o.kind === 'snapshot')
      .map((o): CopySnapshot => {
        if (o.guid === null || o.createtxg === null) throw new Error(`${o.name} on ${host} has no guid/createtxg`);
        const mark = o.userProperties[CHANGED_AFTER_TXG];
        const changedAfterTxg = mark?.source === 'local' && /^\d+$/.test(mark.value) ? Number(mark.value) : null;
        return {
          name: o.name,
          shortName: o.shortName ?? '',
          guid: o.guid,
          createtxg: o.createtxg,
          creation: o.creation,
          userrefs: o.userrefs ?? 0,
          used: o.used,
          referenced: o.referenced,
          changedAfterTxg,
        };
      })
      .sort((a, b) => a.createtxg - b.createtxg);
    copies.set(dataset, {
      host,
      dataset,
      exists: true,
      mounted: fs.mounted,
      canmount: fs.canmount,
      readonly: fs.readonly,
      mountpoint: fs.mountpoint,
      quota: fs.quota,
      referenced: fs.referenced,
      written: fs.written,
      usedBySnapshots: fs.usedbysnapshots,
      snapshots,
      ledger: ledgerFromProperties(fs.userProperties),
    });
  }
  return copies;
}

/** inspectCopyCommand for many datasets at once. */
export function inspectCopiesCommand(datasets: readonly string[], withWritten: boolean): ShellCommand {
  if (datasets.length === 0) throw new Error('inspectCopiesCommand: no datasets');
  for (const d of datasets) datasetNameSchema.parse(d);
  return sh`${inspectCopyCommand(datasets[0], withWritten)} ${datasets.slice(1)}`;
}

/** The newest snapshot of a copy (by its own createtxg), or null. */
export function newestSnapshot(copy: Pick<CopyState, 'snapshots'>): CopySnapshot | null {
  return copy.snapshots.length ? copy.snapshots[copy.snapshots.length - 1] : null;
}
