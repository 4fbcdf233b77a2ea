import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { UsageError, UUID_RE, one, parse, required, uint, type OptSpec } from './args';
import { importDelayMs, takeImportFault } from './faults';
import { CommandError, logCommand, type Io } from './io';
import { Region, createExtentFiles, makeRegionDef, regionJsonPath, validateGeometry, writeRegionDef } from './region';

// `crucible-downstairs create` (domain-apis.md B1, oxide-sagas.md 4): not idempotent (an existing
// region.json is an error), import grows the extent count to fit the image, writes plaintext, and
// ends with a flush (flush number 1, gen 0) of every extent.

export const CREATE_OPTS: OptSpec[] = [
  { long: 'block-size', value: 'BLOCK_SIZE' },
  { long: 'data', short: 'd', value: 'DIRECTORY' },
  { long: 'extent-size', value: 'EXTENT_SIZE' },
  { long: 'extent-count', value: 'EXTENT_COUNT' },
  { long: 'import-path', short: 'i', value: 'IMPORT_PATH' },
  { long: 'uuid', short: 'u', value: 'UUID' },
  { long: 'encrypted', flag: true },
  { long: 'clone-source', value: 'CLONE_SOURCE' },
];

export const DEFAULTS = { blockSize: 512, extentSize: 100, extentCount: 15 };

/** Blocks copied per write while importing. */
const CHUNK_BLOCKS_BYTES = 4 * 1024 * 1024;

export function createCommand(args: string[], io: Io): number {
  const p = parse(args, CREATE_OPTS);
  const dir = required(p, 'data', 'DIRECTORY');
  const uuid = required(p, 'uuid', 'UUID');
  if (!UUID_RE.test(uuid))
    throw new UsageError(
      `invalid value '${uuid}' for '--uuid <UUID>': invalid character: expected an optional prefix of \`urn:uuid:\` followed by [0-9a-fA-F-], found \`${[...uuid].find((c) => !/[0-9a-fA-F-]/.test(c)) ?? uuid[0]}\``,
    );
  const importPath = one(p, 'import-path');
  if (importPath !== undefined && one(p, 'clone-source') !== undefined) {
    throw new UsageError(`the argument '--import-path <IMPORT_PATH>' cannot be used with '--clone-source <CLONE_SOURCE>'`);
  }
  const blockSize = uint(p, 'block-size', DEFAULTS.blockSize, 'BLOCK_SIZE');
  const extentSize = uint(p, 'extent-size', DEFAULTS.extentSize, 'EXTENT_SIZE');
  let extentCount = uint(p, 'extent-count', DEFAULTS.extentCount, 'EXTENT_COUNT');
  const bad = validateGeometry(blockSize, extentSize);
  if (bad) throw new CommandError(bad);
  if (one(p, 'clone-source') !== undefined) throw new CommandError('--clone-source is not modelled by the lab emulator');
  if (existsSync(regionJsonPath(dir))) throw new CommandError(`Config file already exists ${JSON.stringify(regionJsonPath(dir))}`);
  let imageBytes = 0;
  if (importPath !== undefined) {
    if (!existsSync(importPath)) throw new CommandError(`No such file or directory (os error 2): ${importPath}`);
    imageBytes = statSync(importPath).size;
  }
  mkdirSync(dir, { recursive: true });
  const def = makeRegionDef({ blockSize, extentSize, extentCount, uuid: uuid.toLowerCase(), encrypted: p.flags.has('encrypted') });
  writeRegionDef(dir, def);
  createExtentFiles(dir, def, 0, extentCount);
  if (importPath === undefined) {
    logCommand(io, `create -d ${dir}: created region ${def.uuid}`);
    return 0;
  }

  const imageBlocks = Math.ceil(imageBytes / blockSize);
  const needExtents = Math.ceil(imageBlocks / extentSize);
  // What Crucible's downstairs_import prints, line for line (the path in Rust's {:?} quoting).
  io.out(`Import file_size: ${imageBytes}  Extent size: ${extentSize * blockSize}  Needed extents: ${needExtents}\n`);
  if (needExtents > extentCount) {
    io.out('Extending region to fit image\n');
    const grown = { ...def, extent_count: needExtents };
    createExtentFiles(dir, grown, extentCount, needExtents);
    writeRegionDef(dir, grown);
    extentCount = needExtents;
  } else io.out('Region already large enough for image\n');
  io.out(`Importing ${JSON.stringify(importPath)} to region\n`);
  const failAfter = takeImportFault(io.env);
  const delay = importDelayMs(io.env);
  const region = new Region(dir, true);
  const fd = openSync(importPath, 'r');
  try {
    const extentBytes = extentSize * blockSize;
    let offset = 0;
    let populated = 0;
    while (offset < imageBytes) {
      if (failAfter !== null && populated >= failAfter) {
        // A real import unwrap()s its I/O errors: a panic, exit 101, the directory left as it is.
        io.err(
          `thread 'main' panicked at downstairs/src/lib.rs: called \`Result::unwrap()\` on an \`Err\` value: injected import failure after ${populated} extents (CRUCIBLE_EMU faults)\nnote: run with \`RUST_BACKTRACE=1\` environment variable to display a backtrace\n`,
        );
        region.close();
        return 101;
      }
      if (delay > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
      const extentEnd = Math.min(imageBytes, offset + extentBytes);
      while (offset < extentEnd) {
        const want = Math.min(CHUNK_BLOCKS_BYTES, extentEnd - offset);
        const buf = Buffer.alloc(Math.ceil(want / blockSize) * blockSize);
        let got = 0;
        while (got < want) {
          const n = readSync(fd, buf, got, want - got, offset + got);
          if (n === 0) break;
          got += n;
        }
        // The tail past the image is zero: the last block is zero-padded.
        region.write(offset / blockSize, buf);
        offset += want;
      }
      populated += 1;
    }
    region.flush(0, 1, true);
    // The bytes written: whole blocks, the zero-padded tail included.
    io.out(`Populated ${needExtents} extents by copying ${imageBlocks * blockSize} bytes (${imageBlocks} blocks)\n`);
    logCommand(io, `create -d ${dir}: created region ${def.uuid} from ${importPath}`);
  } finally {
    closeSync(fd);
    region.close();
  }
  return 0;
}
