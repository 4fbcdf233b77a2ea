import { z } from 'zod';
import { sh, type ShellCommand } from '../ssh/command';
import { ZfsOutputError, outputLines } from './errors';
import { bookmarkNameSchema, datasetNameSchema, snapshotNameSchema, splitZfsName, type ZfsObjectKind } from './names';

// `zfs get -Hp -o name,property,value,source` is the one machine-readable listing both zfs-fuse 0.7
// and OpenZFS print: zfs-fuse has no `zfs list -p` (and `zfs list` humanizes guids even with -H, as
// `13.8E`), and its `zfs get` has no `-t`. So the runbook reads every number through this form, with
// -r or -d to take in a dataset's snapshots (and on OpenZFS its bookmarks, which `get` lists too).

/** Native properties are lower-case words; `written@<snap>` is OpenZFS's per-snapshot form. User properties have a colon. */
export const zfsPropertyNameSchema = z.string().regex(/^([a-z][a-z0-9_]*(@[A-Za-z0-9_.:-]+)?|[a-z0-9_.-]*:[a-z0-9_.:-]+)$/, 'a ZFS property name (native, written@snap, or module:property)');

export type ZfsGetScope = { kind: 'self' } | { kind: 'depth'; depth: number } | { kind: 'recursive' };

/**
 * `zfs get -Hp -o name,property,value,source <props> [-d N|-r] <target>`. Use `{kind:'depth', depth:1}`
 * for one project and its snapshots: per-project reads stay O(1) in the number of projects, unlike a
 * pool-wide -r (zrepl#870: pool-wide listings are slow and hold locks).
 */
export function zfsGetCommand(properties: readonly string[], target: string, scope: ZfsGetScope = { kind: 'self' }): ShellCommand {
  if (properties.length === 0) throw new Error('zfsGetCommand: no properties asked for');
  for (const p of properties) zfsPropertyNameSchema.parse(p);
  if (!datasetNameSchema.safeParse(target).success) snapshotNameSchema.parse(target);
  const props = properties.join(',');
  switch (scope.kind) {
    case 'self':
      return sh`zfs get -Hp -o name,property,value,source ${props} ${target}`;
    case 'depth':
      if (!Number.isInteger(scope.depth) || scope.depth < 0) throw new Error(`zfsGetCommand: depth must be a non-negative integer, got ${scope.depth}`);
      return sh`zfs get -Hp -d ${scope.depth} -o name,property,value,source ${props} ${target}`;
    case 'recursive':
      return sh`zfs get -Hp -r -o name,property,value,source ${props} ${target}`;
  }
}

export const zfsPropertyRowSchema = z.object({
  name: z.string().min(1),
  property: zfsPropertyNameSchema,
  value: z.string(),
  /** `-`, `local`, `default`, `received`, `temporary`, `inherited from <dataset>`. */
  source: z.string().min(1),
});
export type ZfsPropertyRow = z.infer<typeof zfsPropertyRowSchema>;

/**
 * Rows of `zfs get -H -o name,property,value,source`. The name, property and source never contain a
 * tab, but a user property's value may, so the value is everything between the second tab and the last.
 */
export function parseZfsGetRows(stdout: string): ZfsPropertyRow[] {
  const check = new RowChecker();
  return outputLines(stdout).map((line, i) => check.row(line, i + 1));
}

/**
 * Splits and checks rows. A pool-wide read prints a million rows, about 22 per object: each distinct
 * name and property is validated once (the schemas cost microseconds, a million times over).
 */
class RowChecker {
  private readonly names = new Set<string>();
  private readonly properties = new Set<string>();

  row(line: string, lineNumber: number): ZfsPropertyRow {
    const fields = line.split('\t');
    if (fields.length < 4) throw new ZfsOutputError('zfs get -H -o name,property,value,source', lineNumber, line, `expected 4 tab-separated fields, found ${fields.length}`);
    const row = { name: fields[0], property: fields[1], value: fields.length === 4 ? fields[2] : fields.slice(2, -1).join('\t'), source: fields[fields.length - 1] };
    if (!this.properties.has(row.property) || row.source === '' || !this.names.has(row.name)) {
      const parsed = zfsPropertyRowSchema.safeParse(row);
      if (!parsed.success) throw new ZfsOutputError('zfs get -H -o name,property,value,source', lineNumber, line, parsed.error.issues.map((x) => x.message).join('; '));
      this.properties.add(row.property);
      if (!this.names.has(row.name)) {
        const nameSchema = { filesystem: datasetNameSchema, snapshot: snapshotNameSchema, bookmark: bookmarkNameSchema }[splitZfsName(row.name).kind];
        if (!nameSchema.safeParse(row.name).success) throw new ZfsOutputError('zfs get -H -o name,property,value,source', lineNumber, line, `"${row.name}" is not a valid ZFS name`);
        this.names.add(row.name);
      }
    }
    return row;
  }
}

const bytes = z.number().int().nonnegative();

/** One filesystem, snapshot or bookmark with the properties the replication runbook reads, typed. */
export const zfsObjectSchema = z.object({
  name: z.string(),
  kind: z.enum(['filesystem', 'volume', 'snapshot', 'bookmark']),
  /** The filesystem the object belongs to (itself for a filesystem). */
  dataset: datasetNameSchema,
  /** The part after @ or #; null for a filesystem. */
  shortName: z.string().nullable(),
  /** 64-bit, so kept as its decimal string: a JS number would round it and two guids could compare equal. */
  guid: z.string().regex(/^\d+$/).nullable(),
  /** Transaction group of creation: orders snapshots where `creation` (seconds) ties. */
  createtxg: bytes.nullable(),
  /** Epoch seconds. */
  creation: bytes.nullable(),
  /** A snapshot's: the bytes only it holds (its unique bytes). */
  used: bytes.nullable(),
  /** A filesystem's: the bytes its snapshots hold that the filesystem itself no longer does. */
  usedbysnapshots: bytes.nullable(),
  referenced: bytes.nullable(),
  available: bytes.nullable(),
  /** Bytes; 0 means no quota. Null where not applicable (snapshots) or not asked for. */
  quota: bytes.nullable(),
  refquota: bytes.nullable(),
  /** OpenZFS only: bytes written since the previous snapshot. */
  written: bytes.nullable(),
  /** OpenZFS only: `written@<snap>` values by snapshot short name. */
  writtenSince: z.record(z.string(), bytes),
  mounted: z.boolean().nullable(),
  /** A path, `none` or `legacy`; null for snapshots. */
  mountpoint: z.string().nullable(),
  canmount: z.enum(['on', 'off', 'noauto']).nullable(),
  readonly: z.boolean().nullable(),
  /** Number of holds on a snapshot (zfs-fuse's `zfs holds` is broken, this property is not). */
  userrefs: bytes.nullable(),
  /** OpenZFS only: a token to resume an interrupted `zfs recv -s`, null when there is none. */
  receiveResumeToken: z.string().nullable(),
  /** Properties with a colon in their name that are set (local or received); unset ones are left out. */
  userProperties: z.record(z.string(), z.object({ value: z.string(), source: z.string() })),
  /** Every returned property's source as printed, e.g. { quota: 'received' }. */
  sources: z.record(z.string(), z.string()),
  /** Every returned property's raw value, for the ones not typed above. */
  raw: z.record(z.string(), z.string()),
});
export type ZfsObject = z.infer<typeof zfsObjectSchema>;

const NUMERIC = new Set(['createtxg', 'creation', 'used', 'usedbysnapshots', 'referenced', 'available', 'quota', 'refquota', 'written', 'userrefs']);

function numberValue(row: ZfsPropertyRow, what: string, lineHint: number): number | null {
  if (row.value === '-') return null;
  // `quota` and `refquota` print `none` without -p; with -p they print 0. Accept both so a caller who
  // forgot -p gets a correct answer instead of an error.
  if ((row.property === 'quota' || row.property === 'refquota') && row.value === 'none') return 0;
  if (!/^\d+$/.test(row.value)) throw new ZfsOutputError(what, lineHint, `${row.name}\t${row.property}\t${row.value}\t${row.source}`, `${row.property} is not an exact integer (was -p left out?)`);
  const n = Number(row.value);
  if (!Number.isSafeInteger(n)) throw new ZfsOutputError(what, lineHint, row.value, `${row.property} is beyond 2^53`);
  return n;
}

function emptyObject(name: string): ZfsObject {
  const { dataset, kind, shortName } = splitZfsName(name);
  return {
    name,
    kind: kind as ZfsObjectKind,
    dataset,
    shortName,
    guid: null,
    createtxg: null,
    creation: null,
    used: null,
    usedbysnapshots: null,
    referenced: null,
    available: null,
    quota: null,
    refquota: null,
    written: null,
    writtenSince: {},
    mounted: null,
    mountpoint: null,
    canmount: null,
    readonly: null,
    userrefs: null,
    receiveResumeToken: null,
    userProperties: {},
    sources: {},
    raw: {},
  };
}

function enumValue<T extends string>(row: ZfsPropertyRow, allowed: readonly T[], lineHint: number): T | null {
  if (row.value === '-') return null;
  if ((allowed as readonly string[]).includes(row.value)) return row.value as T;
  throw new ZfsOutputError('zfs get', lineHint, `${row.name}\t${row.property}\t${row.value}`, `${row.property} is not one of ${allowed.join(', ')}`);
}

/**
 * `zfs get -Hp -o name,property,value,source ...` output → one typed record per object, in the order
 * zfs printed them (a dataset, then its snapshots, then its children).
 */
export function parseZfsGet(stdout: string): ZfsObject[] {
  const reader = new ZfsGetReader();
  reader.push(stdout);
  return reader.end();
}

/**
 * parseZfsGet fed as the output streams in. With `onObject`, each object is handed over as soon as
 * its rows end (zfs get prints one object's rows together) and not kept: a pool-wide read of every
 * project and snapshot (a million rows at 18,000 projects) then never holds more than one object.
 */
export class ZfsGetReader {
  private readonly byName = new Map<string, ZfsObject>();
  private readonly check = new RowChecker();
  private current: ZfsObject | null = null;
  private partial = '';
  private lineNumber = 0;

  constructor(private readonly onObject?: (o: ZfsObject) => void) {}

  push(chunk: string): void {
    const text = this.partial + chunk;
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      this.line(text.slice(from, nl));
      from = nl + 1;
    }
    this.partial = text.slice(from);
  }

  /**
   * The objects (none when they went to `onObject`). Built field by field from checked rows (names,
   * numbers, enums), so they are not parsed again against zfsObjectSchema: that cost a third of a
   * pool-wide read's parsing.
   */
  end(): ZfsObject[] {
    if (this.partial !== '') this.line(this.partial);
    this.partial = '';
    if (this.onObject) {
      if (this.current) this.onObject(this.current);
      this.current = null;
      return [];
    }
    return [...this.byName.values()];
  }

  private objectFor(name: string): ZfsObject {
    if (this.current?.name === name) return this.current;
    if (this.onObject) {
      if (this.current) this.onObject(this.current);
      this.current = emptyObject(name);
      return this.current;
    }
    let obj = this.byName.get(name);
    if (!obj) {
      obj = emptyObject(name);
      this.byName.set(name, obj);
    }
    this.current = obj;
    return obj;
  }

  private line(raw: string): void {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const line = ++this.lineNumber;
    const row = this.check.row(text, line);
    const obj = this.objectFor(row.name);
    obj.raw[row.property] = row.value;
    obj.sources[row.property] = row.source;
    const p = row.property;
    if (p.includes(':')) {
      // zfs prints an unset user property as value `-` with source `-`.
      if (row.source !== '-') obj.userProperties[p] = { value: row.value, source: row.source };
    } else if (p === 'guid') {
      if (row.value !== '-' && !/^\d+$/.test(row.value)) throw new ZfsOutputError('zfs get', line, row.value, 'guid is not a decimal integer (was -p left out?)');
      obj.guid = row.value === '-' ? null : row.value;
    } else if (p.startsWith('written@')) {
      const n = numberValue(row, 'zfs get', line);
      if (n !== null) obj.writtenSince[p.slice('written@'.length)] = n;
    } else if (NUMERIC.has(p)) {
      (obj as unknown as Record<string, number | null>)[p] = numberValue(row, 'zfs get', line);
    } else if (p === 'mounted') {
      const v = enumValue(row, ['yes', 'no'] as const, line);
      obj.mounted = v === null ? null : v === 'yes';
    } else if (p === 'readonly') {
      const v = enumValue(row, ['on', 'off'] as const, line);
      obj.readonly = v === null ? null : v === 'on';
    } else if (p === 'canmount') {
      obj.canmount = enumValue(row, ['on', 'off', 'noauto'] as const, line);
    } else if (p === 'mountpoint') {
      obj.mountpoint = row.value === '-' ? null : row.value;
    } else if (p === 'receive_resume_token') {
      obj.receiveResumeToken = row.value === '-' || row.value === '' ? null : row.value;
    } else if (p === 'type') {
      const v = enumValue(row, ['filesystem', 'volume', 'snapshot', 'bookmark'] as const, line);
      if (v !== null) obj.kind = v;
    }
  }
}

/** A snapshot as the base-selection logic needs it. */
export interface SnapshotRef {
  /** Full name, dataset@short. */
  name: string;
  shortName: string;
  guid: string;
  createtxg: number;
  /** Epoch seconds, when asked for. */
  creation: number | null;
}

/**
 * The snapshots of `dataset` (not of its children) in creation order. Ordered by createtxg, because
 * `creation` has one-second resolution and snapshots made in the same second tie (observed on
 * zfs-fuse); a received snapshot gets the receiver's own createtxg, so order each side by its own.
 * Throws when guid or createtxg were not asked for: base selection without them is guesswork.
 */
export function snapshotsOf(objects: readonly ZfsObject[], dataset: string): SnapshotRef[] {
  return objects
    .filter((o) => o.kind === 'snapshot' && o.dataset === dataset)
    .map((o) => {
      if (o.guid === null || o.createtxg === null) throw new Error(`snapshotsOf: ${o.name} has no guid/createtxg; ask zfs get for guid,createtxg`);
      return { name: o.name, shortName: o.shortName ?? '', guid: o.guid, createtxg: o.createtxg, creation: o.creation };
    })
    .sort((a, b) => a.createtxg - b.createtxg);
}

/** The record of one object by full name, or undefined. */
export function findZfsObject(objects: readonly ZfsObject[], name: string): ZfsObject | undefined {
  return objects.find((o) => o.name === name);
}
