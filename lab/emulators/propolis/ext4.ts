// Just enough of ext4 to read a file by path from a disk image through block reads: the superblock,
// the group descriptors, inodes, extent trees and linear directory blocks (an htree directory's
// index blocks read as empty entries, so a linear scan finds every name). The lab's OS image is made
// with `mkfs.ext4 -d` (extents, 64bit, metadata_csum, no inline data); this reader refuses what it
// does not handle rather than guess. Used by the lab guest (proof its boot disk holds the image's
// files) and by the propolis scenario's check (the same files, read straight from a downstairs).

/** Reads `length` bytes at byte `offset` of the disk. */
export type ReadBytes = (offset: number, length: number) => Promise<Buffer>;

const EXT4_MAGIC = 0xef53;
const INCOMPAT_64BIT = 0x80;
const INCOMPAT_INLINE_DATA = 0x8000;
const EXTENTS_FL = 0x80000;
const EXTENT_MAGIC = 0xf30a;
const ROOT_INODE = 2;

interface Fs {
  read: ReadBytes;
  blockSize: number;
  inodesPerGroup: number;
  inodeSize: number;
  descSize: number;
  gdtOffset: number;
}

async function openFs(read: ReadBytes): Promise<Fs> {
  const sb = await read(1024, 1024);
  if (sb.readUInt16LE(56) !== EXT4_MAGIC) throw new Error('no ext4 superblock magic at byte 1080');
  const blockSize = 1024 << sb.readUInt32LE(24);
  const incompat = sb.readUInt32LE(96);
  if (incompat & INCOMPAT_INLINE_DATA) throw new Error('inline data is not handled by this reader');
  const firstDataBlock = sb.readUInt32LE(20);
  return {
    read,
    blockSize,
    inodesPerGroup: sb.readUInt32LE(40),
    inodeSize: sb.readUInt16LE(88),
    descSize: incompat & INCOMPAT_64BIT ? sb.readUInt16LE(254) : 32,
    gdtOffset: (firstDataBlock + 1) * blockSize,
  };
}

async function readInode(fs: Fs, ino: number): Promise<Buffer> {
  const group = Math.floor((ino - 1) / fs.inodesPerGroup);
  const index = (ino - 1) % fs.inodesPerGroup;
  const desc = await fs.read(fs.gdtOffset + group * fs.descSize, fs.descSize);
  const table = desc.readUInt32LE(8) + (fs.descSize >= 64 ? desc.readUInt32LE(0x28) * 2 ** 32 : 0);
  return fs.read(table * fs.blockSize + index * fs.inodeSize, fs.inodeSize);
}

/** The file's data blocks as [logical, physical, length] runs, from its extent tree. */
async function extentsOf(fs: Fs, node: Buffer): Promise<Array<{ logical: number; physical: number; length: number }>> {
  if (node.readUInt16LE(0) !== EXTENT_MAGIC) throw new Error('bad extent header');
  const entries = node.readUInt16LE(2);
  const depth = node.readUInt16LE(6);
  const out: Array<{ logical: number; physical: number; length: number }> = [];
  for (let i = 0; i < entries; i++) {
    const e = node.subarray(12 + i * 12, 24 + i * 12);
    if (depth === 0) {
      let length = e.readUInt16LE(4);
      if (length > 32768) length -= 32768; // an uninitialised extent reads as zeros; mkfs -d writes none
      out.push({ logical: e.readUInt32LE(0), physical: e.readUInt16LE(6) * 2 ** 32 + e.readUInt32LE(8), length });
    } else {
      const leaf = e.readUInt32LE(4) + e.readUInt16LE(8) * 2 ** 32;
      out.push(...(await extentsOf(fs, await fs.read(leaf * fs.blockSize, fs.blockSize))));
    }
  }
  return out;
}

async function contentOf(fs: Fs, inode: Buffer): Promise<Buffer> {
  const size = inode.readUInt32LE(4) + inode.readUInt32LE(108) * 2 ** 32;
  if (!(inode.readUInt32LE(32) & EXTENTS_FL)) throw new Error('a file without extents is not handled by this reader');
  const out = Buffer.alloc(size);
  for (const x of await extentsOf(fs, inode.subarray(40, 100))) {
    const start = x.logical * fs.blockSize;
    if (start >= size) continue;
    const bytes = Math.min(x.length * fs.blockSize, size - start);
    (await fs.read(x.physical * fs.blockSize, bytes)).copy(out, start);
  }
  return out;
}

async function lookup(fs: Fs, dirIno: number, name: string): Promise<number | null> {
  const dir = await contentOf(fs, await readInode(fs, dirIno));
  for (let off = 0; off + 8 <= dir.length;) {
    const ino = dir.readUInt32LE(off);
    const recLen = dir.readUInt16LE(off + 4);
    const nameLen = dir.readUInt8(off + 6);
    if (ino !== 0 && dir.subarray(off + 8, off + 8 + nameLen).toString('utf8') === name) return ino;
    if (recLen < 8) break;
    off += recLen;
  }
  return null;
}

/** The content of the regular file at `path` (absolute) in the ext4 filesystem `read` gives. */
export async function readExt4File(read: ReadBytes, path: string): Promise<Buffer> {
  const fs = await openFs(read);
  let ino = ROOT_INODE;
  for (const part of path.split('/').filter(Boolean)) {
    const next = await lookup(fs, ino, part);
    if (next === null) throw new Error(`${path}: no ${part} in its directory`);
    ino = next;
  }
  return contentOf(fs, await readInode(fs, ino));
}

/** Byte reads on a block device that reads whole blocks, at most `maxBlocks` a request. */
export function byteReader(blockSize: number, readBlocks: (block: number, count: number) => Promise<Buffer>, maxBlocks = 256): ReadBytes {
  return async (offset, length) => {
    const first = Math.floor(offset / blockSize);
    const end = Math.ceil((offset + length) / blockSize);
    const parts: Buffer[] = [];
    for (let b = first; b < end; b += maxBlocks) parts.push(await readBlocks(b, Math.min(maxBlocks, end - b)));
    const all = Buffer.concat(parts);
    return all.subarray(offset - first * blockSize, offset - first * blockSize + length);
  };
}

/** `sha256sum` output (`<hex>  ./path`) as path -> hash. */
export function parseManifest(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?\.?(\/.+)$/.exec(line.trim());
    if (m) out[m[2]] = m[1];
  }
  return out;
}
