import { sh, type ShellCommand } from '../ssh/command';
import { ZfsOutputError, outputLines } from './errors';
import { bookmarkNameSchema, datasetNameSchema, snapshotNameSchema } from './names';

// `zfs list` is used for NAMES only. zfs-fuse has no `zfs list -p` and humanizes numbers even with
// -H (a guid prints as `13.8E`), so any number is read with `zfs get -Hp` instead (see get.ts).
// zfs-fuse also refuses `zfs list -t snapshot <ds>` without -r/-d ("operation not applicable to
// datasets of this type"), so a depth is always given.

export type ZfsListType = 'filesystem' | 'snapshot' | 'volume' | 'bookmark';

export interface ZfsListOptions {
  types: readonly ZfsListType[];
  /** Descend this many levels (1: a dataset's own snapshots, or a pool's direct children); omit for -r. */
  depth?: number;
  /** Sort ascending by this property (`createtxg` sorts correctly on zfs-fuse too). */
  sortBy?: 'name' | 'createtxg' | 'creation';
}

/** `zfs list -H -o name -t <types> [-s prop] (-d N | -r) <root>` */
export function zfsListNamesCommand(root: string, opts: ZfsListOptions): ShellCommand {
  datasetNameSchema.parse(root);
  if (opts.types.length === 0) throw new Error('zfsListNamesCommand: no types');
  const types = opts.types.join(',');
  const sort = opts.sortBy ? sh`-s ${opts.sortBy} ` : sh``;
  if (opts.depth === undefined) return sh`zfs list -H -o name -t ${types} ${sort}-r ${root}`;
  if (!Number.isInteger(opts.depth) || opts.depth < 0) throw new Error(`zfsListNamesCommand: depth must be a non-negative integer, got ${opts.depth}`);
  return sh`zfs list -H -o name -t ${types} ${sort}-d ${opts.depth} ${root}`;
}

/** One validated name per line, in zfs's order. */
export function parseZfsListNames(stdout: string): string[] {
  return outputLines(stdout).map((line, i) => {
    const name = line.trim();
    if (line.includes('\t')) throw new ZfsOutputError('zfs list -H -o name', i + 1, line, 'more than one column; ask for -o name only');
    const ok = name.includes('@') ? snapshotNameSchema.safeParse(name).success : name.includes('#') ? bookmarkNameSchema.safeParse(name).success : datasetNameSchema.safeParse(name).success;
    if (!ok) throw new ZfsOutputError('zfs list -H -o name', i + 1, line, 'not a valid ZFS name');
    return name;
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The project datasets among listed names: direct children `<parent>/<uuid>` only, so the pool root,
 * helper datasets (the lab's check clones) and anything nested below a project are not projects.
 */
export function projectDatasets(names: readonly string[], parent: string): string[] {
  const prefix = `${parent}/`;
  return names.filter((n) => n.startsWith(prefix) && UUID.test(n.slice(prefix.length)));
}

/**
 * OpenZFS's `zfs list -H -p -o name,guid,createtxg -t snapshot -s createtxg -d 1 <ds>` (the form the
 * reference recommends where `list -p` exists) → snapshot refs. Refuses humanized numbers such as
 * zfs-fuse's `14.7E`: a rounded guid would match the wrong snapshot.
 */
export function parseSnapshotListParsable(stdout: string): Array<{ name: string; guid: string; createtxg: number }> {
  return outputLines(stdout).map((line, i) => {
    const f = line.split('\t');
    if (f.length !== 3) throw new ZfsOutputError('zfs list -H -p -o name,guid,createtxg', i + 1, line, `expected 3 columns, found ${f.length}`);
    const [name, guid, txg] = f;
    if (!snapshotNameSchema.safeParse(name).success) throw new ZfsOutputError('zfs list -H -p -o name,guid,createtxg', i + 1, line, 'not a snapshot name');
    if (!/^\d+$/.test(guid) || !/^\d+$/.test(txg))
      throw new ZfsOutputError('zfs list -H -p -o name,guid,createtxg', i + 1, line, 'guid/createtxg are not exact integers (humanized output: this ZFS has no `list -p`; use `zfs get -Hp`)');
    const createtxg = Number(txg);
    if (!Number.isSafeInteger(createtxg)) throw new ZfsOutputError('zfs list -H -p -o name,guid,createtxg', i + 1, line, 'createtxg beyond 2^53');
    return { name, guid, createtxg };
  });
}
