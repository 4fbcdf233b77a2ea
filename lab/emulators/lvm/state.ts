import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

// The emulator's LVM metadata: what real LVM keeps in the metadata areas of its PVs, kept here in
// one JSON file per lab host. Every command reads it, and mutating commands rewrite it whole under
// an flock, through a temporary file and a rename, so a reader never sees half a state and a
// command killed mid-way (pvmove's fault injection) leaves the previous consistent state.

export const SECTOR = 512;
export const MiB = 1024 * 1024;
/** LVM's default extent size (vgcreate -s 4m), the only one the emulator uses. */
export const DEFAULT_EXTENT_BYTES = 4 * MiB;
/** pvcreate's default data offset: metadata area then the first extent at 1 MiB. */
export const DEFAULT_PE_START_BYTES = 1 * MiB;
export const DEFAULT_STATE_PATH = '/etc/lvm-emu/state.json';

const uuidSchema = z.string().regex(/^[A-Za-z0-9]{32}$/, 'an LVM UUID is 32 letters and digits (shown with dashes)');
const nameSchema = z.string().regex(/^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/, 'an LVM name uses letters, digits and + _ . -');
const bytes = z.number().int().nonnegative();

export const pvSchema = z
  .object({
    /** The device path the PV was created on (/dev/loopN); LVM finds it by label, we by path. */
    device: z.string().startsWith('/dev/'),
    uuid: uuidSchema,
    /** pv->size: the device size when it was pvcreated/resized, or the --setphysicalvolumesize override. */
    sizeBytes: bytes,
    /** Offset of the first extent on the device (pe_start). */
    peStartBytes: bytes,
    /** Name of the VG it belongs to, or null for an orphan (pvcreated, in no VG). */
    vg: nameSchema.nullable(),
    /** Number of extents; 0 for an orphan (LVM computes it only when the PV joins a VG). */
    peCount: z.number().int().nonnegative(),
    allocatable: z.boolean(),
  })
  .strict();
export type PvState = z.infer<typeof pvSchema>;

export const segmentSchema = z
  .object({
    /** First logical extent of the segment. */
    le: z.number().int().nonnegative(),
    len: z.number().int().positive(),
    /** UUID of the PV that holds it. */
    pv: uuidSchema,
    /** First physical extent on that PV. */
    pe: z.number().int().nonnegative(),
  })
  .strict();
export type SegmentState = z.infer<typeof segmentSchema>;

export const lvSchema = z
  .object({
    name: nameSchema,
    uuid: uuidSchema,
    creationHost: z.string(),
    creationTime: z.string(),
    /** Linear segments, in LE order, covering 0..le_count-1 without gaps. */
    segments: z.array(segmentSchema),
    /** The file whose loop device is the LV's block device (an LV is emulated, its data is real). */
    backingFile: z.string().startsWith('/'),
    /** The loop device of the active LV, or null when inactive. */
    loopDevice: z.string().startsWith('/dev/').nullable(),
  })
  .strict();
export type LvState = z.infer<typeof lvSchema>;

export const vgSchema = z
  .object({
    name: nameSchema,
    uuid: uuidSchema,
    extentBytes: z.number().int().positive(),
    /** Metadata sequence number: every committed change increments it, as vg_commit does. */
    seqno: z.number().int().positive(),
    /** PV UUIDs in metadata order (pvdisplay and allocation walk them in this order). */
    pvs: z.array(uuidSchema),
    lvs: z.array(lvSchema),
  })
  .strict();
export type VgState = z.infer<typeof vgSchema>;

export const pvmoveSchema = z
  .object({
    vg: nameSchema,
    /** The source PV's UUID and the name it was given on the command line (progress lines repeat it). */
    sourcePv: uuidSchema,
    sourceName: z.string(),
    /** Physical extents of the source still to move, as inclusive ranges; empty when done. */
    ranges: z.array(z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() }).strict()),
    alloc: z.enum(['normal', 'anywhere', 'contiguous', 'cling', 'inherit']),
    /** Extents to move in total (for the percentage) and moved so far. */
    total: z.number().int().positive(),
    moved: z.number().int().nonnegative(),
    /** Destination PV UUIDs given on the command line; empty = any allocatable PV. */
    destinations: z.array(uuidSchema),
  })
  .strict();
export type PvmoveState = z.infer<typeof pvmoveSchema>;

export const stateSchema = z
  .object({
    version: z.literal(1),
    /** Where device nodes go: /dev on a lab host (inside its private mounts); a temp dir in tests. */
    devRoot: z.string().startsWith('/'),
    /** Host name recorded as the LV creation host (vgdisplay/lvdisplay). */
    hostname: z.string(),
    pvs: z.array(pvSchema),
    vgs: z.array(vgSchema),
    /** A pvmove that was started and has not finished (interrupted, or running now). */
    pvmove: pvmoveSchema.nullable(),
  })
  .strict();
export type EmuState = z.infer<typeof stateSchema>;

/** The state file this process uses: env LVM_EMU_STATE (the wrappers set it), else the default. */
export function statePath(): string {
  return process.env.LVM_EMU_STATE || DEFAULT_STATE_PATH;
}

export function stateDir(file = statePath()): string {
  return path.dirname(file);
}

export class StateError extends Error {}

export function readState(file = statePath()): EmuState {
  if (!existsSync(file)) {
    throw new StateError(`LVM emulator state ${file} does not exist; the lab scenario creates it (or set LVM_EMU_STATE)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new StateError(`LVM emulator state ${file} is not JSON: ${(err as Error).message}`);
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StateError(`LVM emulator state ${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** Write JSON through a temp file, fsync and rename: a crash leaves either the old or the new file. */
export function writeJsonAtomic(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Write the whole state, checked against the schema first so a bug never stores a broken state. */
export function writeState(state: EmuState, file = statePath()): void {
  writeJsonAtomic(file, stateSchema.parse(state));
}

/**
 * Hold an exclusive flock on <state dir>/lock while fn runs. Node has no flock(2), so the util-linux
 * `flock` command locks our own open file description (passed as its fd 3): the lock belongs to the
 * description, not to the short-lived child, so it stays held until we close the fd, and the kernel
 * drops it if this process dies. Readers take no lock: renames make every read consistent.
 */
export function withStateLock<T>(fn: () => T, file = statePath(), timeoutSeconds = 60): T {
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(path.join(path.dirname(file), 'lock'), 'a', 0o600);
  try {
    const locked = spawnSync('flock', ['-x', '-w', String(timeoutSeconds), '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    if (locked.error) throw new StateError(`cannot run flock to lock the LVM emulator state: ${locked.error.message}`);
    if (locked.status !== 0) {
      throw new StateError(`another LVM command holds the lock on ${file} for more than ${timeoutSeconds}s (${String(locked.stderr).trim() || 'flock timed out'})`);
    }
    return fn();
  } finally {
    closeSync(fd);
  }
}

/** Read, change and write the state under the lock; the change returns what the command prints. */
export function updateState<T>(change: (state: EmuState) => T, file = statePath()): T {
  return withStateLock(() => {
    const state = readState(file);
    const result = change(state);
    writeState(state, file);
    return result;
  }, file);
}

const UUID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A random 32-character LVM UUID (lib/uuid/uuid.c draws from the same alphabet). */
export function newUuid(): string {
  const buf = randomBytes(32);
  let out = '';
  for (const b of buf) out += UUID_CHARS[b % UUID_CHARS.length];
  return out;
}

/** LVM's display form of a UUID: 6-4-4-4-4-4-6 (id_write_format). */
export function formatUuid(uuid: string): string {
  const groups = [6, 4, 4, 4, 4, 4, 6];
  const parts: string[] = [];
  let i = 0;
  for (const n of groups) {
    parts.push(uuid.slice(i, i + n));
    i += n;
  }
  return parts.join('-');
}

export function emptyState(devRoot = '/dev', hostname = 'localhost'): EmuState {
  return { version: 1, devRoot, hostname, pvs: [], vgs: [], pvmove: null };
}
