import { closeSync, openSync, writeSync } from 'node:fs';
import { UsageError, one, parse, required, uint, type OptSpec } from './args';
import { CommandError, type Io } from './io';
import { Region, blockHash } from './region';

// `export` copies a region's blocks out as a raw file (opened read-only: no metadata changes);
// `verify` checks each extent's blocks against the integrity hashes in their context slots. Neither
// compares anything with an image: that is the caller's job (oxide-sagas.md 4).

export const EXPORT_OPTS: OptSpec[] = [
  { long: 'data', short: 'd', value: 'DIRECTORY' },
  { long: 'export-path', short: 'e', value: 'EXPORT_PATH' },
  { long: 'count', value: 'COUNT' },
  { long: 'skip', short: 's', value: 'SKIP' },
];

export function exportCommand(args: string[], io: Io): number {
  const p = parse(args, EXPORT_OPTS);
  const dir = required(p, 'data', 'DIRECTORY');
  const out = required(p, 'export-path', 'EXPORT_PATH');
  const skip = uint(p, 'skip', 0, 'SKIP');
  let count = uint(p, 'count', 0, 'COUNT');
  const region = new Region(dir, false);
  try {
    if (count === 0) count = region.totalBlocks - skip;
    if (skip + count > region.totalBlocks) throw new CommandError(`Requested ${count} blocks from block ${skip}, but the region has ${region.totalBlocks} blocks`);
    const fd = openSync(out, 'w');
    try {
      const step = Math.max(1, Math.floor((4 * 1024 * 1024) / region.blockSize));
      for (let b = skip; b < skip + count; b += step) {
        const buf = region.read(b, Math.min(step, skip + count - b));
        writeSync(fd, buf);
      }
    } finally {
      closeSync(fd);
    }
    io.out(`Exported ${count} blocks (${count * region.blockSize} bytes) from ${dir} to ${out}\n`);
    return 0;
  } finally {
    region.close();
  }
}

export const VERIFY_OPTS: OptSpec[] = [
  { long: 'data', short: 'd', value: 'DIRECTORY' },
  { long: 'threads', short: 't', value: 'THREADS' },
];

export function verifyCommand(args: string[], io: Io): number {
  const p = parse(args, VERIFY_OPTS);
  const dir = required(p, 'data', 'DIRECTORY');
  if (one(p, 'threads') !== undefined && !/^[0-9]+$/.test(one(p, 'threads') as string)) throw new UsageError(`invalid value '${one(p, 'threads')}' for '--threads <THREADS>'`);
  const region = new Region(dir, false);
  let bad = 0;
  try {
    const zero = Buffer.alloc(region.blockSize);
    for (let ext = 0; ext < region.extentCount; ext++) {
      region.meta(ext);
      const first = ext * region.blocksPerExtent;
      const data = region.read(first, region.blocksPerExtent);
      const badBlocks: number[] = [];
      for (let i = 0; i < region.blocksPerExtent; i++) {
        const block = data.subarray(i * region.blockSize, (i + 1) * region.blockSize);
        const stored = region.storedHash(first + i);
        const ok = stored === null ? block.equals(zero) : stored.equals(blockHash(block));
        if (!ok) badBlocks.push(i);
      }
      if (badBlocks.length) {
        bad += 1;
        io.out(`extent ${ext}: ${badBlocks.length} blocks fail their integrity hash (first: block ${badBlocks[0]})\n`);
      }
    }
  } finally {
    region.close();
  }
  if (bad) throw new CommandError(`Region failed to verify: ${bad} of ${region.extentCount} extents have errors`);
  io.out(`Verified ${region.extentCount} extents: no errors\n`);
  return 0;
}
