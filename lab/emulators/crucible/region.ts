import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

// A Crucible region on disk, laid out as the downstairs lays it out (domain-apis.md B3):
//   <dir>/region.json             the definition, pretty JSON
//   <dir>/XX/XXX/XXX              one raw extent file per extent (uppercase hex of the extent number)
// A raw extent file holds, in order: the block data (extent_size × block_size), two context slots of
// 48 bytes per block (slot A then slot B), a bitmap saying which slot is active (ceil(extent_size/8)
// bytes), and 32 bytes of extent metadata {dirty, gen, flush, ext_version}. Only what the runbook and
// `dump` read has to be real: data, and per-extent gen/flush/dirty; the context slots hold a per-block
// integrity hash so `verify` has something to check.

export const CONTEXT_SLOT_BYTES = 48;
export const META_BYTES = 32;
export const EXT_VERSION = 2;
export const MAX_EXTENT_FILE_DATA_BYTES = 512 * 1024 * 1024;

export interface RegionDef {
  block_size: number;
  extent_size: { value: number; shift: number };
  extent_count: number;
  uuid: string;
  encrypted: boolean;
  database_read_version: number;
  database_write_version: number;
}

export interface ExtentMeta {
  dirty: boolean;
  gen: number;
  flush: number;
}

export class RegionError extends Error {}

export function regionJsonPath(dir: string): string {
  return path.join(dir, 'region.json');
}

/** `{(n>>24)&0xFF:02X}/{(n>>12)&0xFFF:03X}/{n&0xFFF:03X}`: 0 → 00/000/000, 10 → 00/000/00A. */
export function extentRelPath(n: number): string {
  const hex = (v: number, w: number) => v.toString(16).toUpperCase().padStart(w, '0');
  return `${hex((n >>> 24) & 0xff, 2)}/${hex((n >>> 12) & 0xfff, 3)}/${hex(n & 0xfff, 3)}`;
}

export function extentPath(dir: string, n: number): string {
  return path.join(dir, extentRelPath(n));
}

/** The checks of Crucible's region options (common/src/region.rs), with messages an operator can act on. */
export function validateGeometry(blockSize: number, extentSize: number): string | null {
  // Crucible's messages (RegionOptions::validate); above 32768 it has none (an assert fails later), so that one is the lab's.
  if (!Number.isInteger(blockSize) || blockSize < 1 || (blockSize & (blockSize - 1)) !== 0) return `block size must be a power of two, not ${blockSize}`;
  if (blockSize < 512) return `minimum block size is 512 bytes, not ${blockSize}`;
  if (blockSize > 32768) return `maximum block size is 32768 bytes, not ${blockSize}`;
  if (!Number.isInteger(extentSize) || extentSize < 1) return 'extent size must be at least 1 block';
  if (extentSize * blockSize > MAX_EXTENT_FILE_DATA_BYTES) {
    return `extent size ${extentSize} x ${blockSize} bytes = ${extentSize * blockSize}, bigger than ${MAX_EXTENT_FILE_DATA_BYTES}`;
  }
  return null;
}

export function makeRegionDef(o: { blockSize: number; extentSize: number; extentCount: number; uuid: string; encrypted: boolean }): RegionDef {
  return {
    block_size: o.blockSize,
    extent_size: { value: o.extentSize, shift: Math.log2(o.blockSize) },
    extent_count: o.extentCount,
    uuid: o.uuid,
    encrypted: o.encrypted,
    database_read_version: 1,
    database_write_version: 1,
  };
}

/** Crucible's write_json: serde_json's pretty printer (two-space indent, `"key": value`) and one newline at the end. */
export function formatRegionJson(def: RegionDef): string {
  return `${JSON.stringify(def, null, 2)}\n`;
}

export function writeRegionDef(dir: string, def: RegionDef): void {
  const file = regionJsonPath(dir);
  writeFileSync(`${file}.tmp`, formatRegionJson(def));
  renameSync(`${file}.tmp`, file);
}

export function readRegionDef(dir: string): RegionDef {
  const file = regionJsonPath(dir);
  if (!existsSync(file)) throw new RegionError(`No region config file found at ${JSON.stringify(file)}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new RegionError(`Invalid region config ${JSON.stringify(file)}: ${(err as Error).message}`);
  }
  const d = raw as RegionDef;
  if (
    typeof d !== 'object' ||
    d === null ||
    !Number.isInteger(d.block_size) ||
    typeof d.extent_size !== 'object' ||
    !Number.isInteger(d.extent_size?.value) ||
    !Number.isInteger(d.extent_count) ||
    typeof d.uuid !== 'string'
  ) {
    throw new RegionError(`Invalid region config ${JSON.stringify(file)}: missing or mistyped fields`);
  }
  return d;
}

export function extentFileBytes(def: RegionDef): number {
  const bpe = def.extent_size.value;
  return bpe * def.block_size + 2 * CONTEXT_SLOT_BYTES * bpe + Math.ceil(bpe / 8) + META_BYTES;
}

function metaOffset(def: RegionDef): number {
  return extentFileBytes(def) - META_BYTES;
}

function contextOffset(def: RegionDef, blockInExtent: number): number {
  // Slot A of every block, then slot B; the bitmap (all zero) keeps slot A active.
  return def.extent_size.value * def.block_size + blockInExtent * CONTEXT_SLOT_BYTES;
}

/** bincode of {dirty: bool, gen_number: u64, flush_number: u64, ext_version: u32}, zero padded to 32 bytes. */
export function encodeMeta(m: ExtentMeta): Buffer {
  const b = Buffer.alloc(META_BYTES);
  b.writeUInt8(m.dirty ? 1 : 0, 0);
  b.writeBigUInt64LE(BigInt(m.gen), 1);
  b.writeBigUInt64LE(BigInt(m.flush), 9);
  b.writeUInt32LE(EXT_VERSION, 17);
  return b;
}

export function decodeMeta(b: Buffer): ExtentMeta {
  return { dirty: b.readUInt8(0) !== 0, gen: Number(b.readBigUInt64LE(1)), flush: Number(b.readBigUInt64LE(9)) };
}

/** The per-block integrity hash kept in the context slot (not Crucible's xxh3; see README). */
export function blockHash(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest().subarray(0, 8);
}

function encodeContext(data: Buffer): Buffer {
  // Some({ block_context: { hash, encryption_context: None }, on_disk_hash }), bincode style.
  const b = Buffer.alloc(CONTEXT_SLOT_BYTES);
  const h = blockHash(data);
  b.writeUInt8(1, 0);
  h.copy(b, 1);
  b.writeUInt8(0, 9);
  h.copy(b, 10);
  return b;
}

/** An open region: extent files opened lazily, kept open. */
export class Region {
  readonly def: RegionDef;
  private fds = new Map<number, number>();

  constructor(
    readonly dir: string,
    private readonly writable: boolean,
  ) {
    this.def = readRegionDef(dir);
  }

  get blockSize(): number {
    return this.def.block_size;
  }
  get blocksPerExtent(): number {
    return this.def.extent_size.value;
  }
  get extentCount(): number {
    return this.def.extent_count;
  }
  get totalBlocks(): number {
    return this.blocksPerExtent * this.extentCount;
  }

  fd(n: number): number {
    let fd = this.fds.get(n);
    if (fd === undefined) {
      const file = extentPath(this.dir, n);
      if (!existsSync(file)) throw new RegionError(`extent ${n} is missing: ${file}`);
      fd = openSync(file, this.writable ? 'r+' : 'r');
      this.fds.set(n, fd);
    }
    return fd;
  }

  meta(n: number): ExtentMeta {
    const fd = this.fd(n);
    const size = fstatSync(fd).size;
    if (size !== extentFileBytes(this.def)) throw new RegionError(`extent ${n} (${extentPath(this.dir, n)}) is ${size} bytes, expected ${extentFileBytes(this.def)}`);
    const b = Buffer.alloc(META_BYTES);
    readSync(fd, b, 0, META_BYTES, metaOffset(this.def));
    return decodeMeta(b);
  }

  setMeta(n: number, m: ExtentMeta): void {
    writeSync(this.fd(n), encodeMeta(m), 0, META_BYTES, metaOffset(this.def));
  }

  /** Reads `count` blocks from region block `block` (may span extents). */
  read(block: number, count: number): Buffer {
    this.checkRange(block, count);
    const bs = this.blockSize;
    const out = Buffer.alloc(count * bs);
    let done = 0;
    while (done < count) {
      const b = block + done;
      const ext = Math.floor(b / this.blocksPerExtent);
      const inExt = b % this.blocksPerExtent;
      const n = Math.min(count - done, this.blocksPerExtent - inExt);
      readSync(this.fd(ext), out, done * bs, n * bs, inExt * bs);
      done += n;
    }
    return out;
  }

  /** Writes whole blocks at region block `block`, their context slots, and marks touched extents dirty. */
  write(block: number, data: Buffer): number[] {
    const bs = this.blockSize;
    if (data.length % bs !== 0) throw new RegionError(`write of ${data.length} bytes is not a whole number of ${bs}-byte blocks`);
    const count = data.length / bs;
    this.checkRange(block, count);
    const touched: number[] = [];
    let done = 0;
    while (done < count) {
      const b = block + done;
      const ext = Math.floor(b / this.blocksPerExtent);
      const inExt = b % this.blocksPerExtent;
      const n = Math.min(count - done, this.blocksPerExtent - inExt);
      const meta = this.meta(ext);
      if (!meta.dirty) this.setMeta(ext, { ...meta, dirty: true });
      const fd = this.fd(ext);
      writeSync(fd, data, done * bs, n * bs, inExt * bs);
      const ctx = Buffer.alloc(n * CONTEXT_SLOT_BYTES);
      for (let i = 0; i < n; i++) encodeContext(data.subarray((done + i) * bs, (done + i + 1) * bs)).copy(ctx, i * CONTEXT_SLOT_BYTES);
      writeSync(fd, ctx, 0, ctx.length, contextOffset(this.def, inExt));
      touched.push(ext);
      done += n;
    }
    return touched;
  }

  /** A flush: data synced, then every dirty extent (or every extent when `all`) stamped with gen and flush number. */
  flush(gen: number, flushNumber: number, all = false): void {
    for (let n = 0; n < this.extentCount; n++) {
      const m = this.meta(n);
      if (!all && !m.dirty) continue;
      const fd = this.fd(n);
      fsyncSync(fd);
      this.setMeta(n, { dirty: false, gen, flush: flushNumber });
      fsyncSync(fd);
    }
  }

  /** The context slot A of one block: null when the block was never written. */
  storedHash(block: number): Buffer | null {
    const ext = Math.floor(block / this.blocksPerExtent);
    const inExt = block % this.blocksPerExtent;
    const b = Buffer.alloc(CONTEXT_SLOT_BYTES);
    readSync(this.fd(ext), b, 0, CONTEXT_SLOT_BYTES, contextOffset(this.def, inExt));
    return b.readUInt8(0) === 1 ? Buffer.from(b.subarray(1, 9)) : null;
  }

  maxGenFlush(): { maxGen: number; maxFlush: number } {
    let maxGen = 0;
    let maxFlush = 0;
    for (let n = 0; n < this.extentCount; n++) {
      const m = this.meta(n);
      maxGen = Math.max(maxGen, m.gen);
      maxFlush = Math.max(maxFlush, m.flush);
    }
    return { maxGen, maxFlush };
  }

  checkRange(block: number, count: number): void {
    if (!Number.isInteger(block) || !Number.isInteger(count) || block < 0 || count < 0 || block + count > this.totalBlocks) {
      throw new RegionError(`blocks ${block}..${block + count} are out of range: the region has blocks 0..${this.totalBlocks}`);
    }
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/** Creates the extent files n in [from, to): sparse files of the full size with clean metadata (gen 0, flush 0). */
export function createExtentFiles(dir: string, def: RegionDef, from: number, to: number): void {
  const size = extentFileBytes(def);
  for (let n = from; n < to; n++) {
    const file = extentPath(dir, n);
    mkdirSync(path.dirname(file), { recursive: true });
    const fd = openSync(file, 'w');
    try {
      ftruncateSync(fd, size);
      writeSync(fd, encodeMeta({ dirty: false, gen: 0, flush: 0 }), 0, META_BYTES, size - META_BYTES);
    } finally {
      closeSync(fd);
    }
  }
}
