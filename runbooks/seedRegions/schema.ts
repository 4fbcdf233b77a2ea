import { z } from 'zod';
import { absolutePathSchema, hostNameSchema, uuidSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';

// Input of seedRegions: where the three regions go, what they hold, how they are served. Every rule
// Crucible's create would refuse is refused here first, before any activity runs.

export const MiB = 1024 * 1024;
/** Omicron's fixed extent size (domain-apis.md B6): blocks_per_extent = 64 MiB / block_size. */
export const OMICRON_EXTENT_BYTES = 64 * MiB;
/** Crucible's limit on an extent file's data (common/src/region.rs). */
export const MAX_EXTENT_BYTES = 512 * MiB;
/** The downstairs' repair server listens on port + 4000 (REPAIR_PORT_OFFSET). */
export const REPAIR_PORT_OFFSET = 4000;

export const blockSizeSchema = z
  .number()
  .int()
  .min(512, 'a block size that is a power of two from 512 to 32768')
  .max(32768, 'a block size that is a power of two from 512 to 32768')
  .refine((n) => (n & (n - 1)) === 0, 'a block size that is a power of two from 512 to 32768');

/** What a region's block size is when the input gives none and the image has no GPT to tell (see imageSectorSize). */
export const FALLBACK_BLOCK_SIZE = 512;

const ipv4Schema = z.string().regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/, 'an IPv4 address such as 172.20.3.73');
const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in lower-case hex');

export const regionTargetSchema = z
  .object({
    /** The region's directory, on its own pool (seed 003: /pool/diskN/region/<port>). */
    dir: absolutePathSchema
      .refine((p) => p !== '/' && !p.endsWith('/'), 'a directory below /, without a trailing slash')
      .describe('the region directory, one per pool (seed 003: /pool/diskN/region/<port>)'),
    /** The downstairs' port; its repair server takes port + 4000. */
    port: z
      .number()
      .int()
      .min(1024)
      .max(65535 - REPAIR_PORT_OFFSET)
      .describe('the downstairs port; its repair server takes port + 4000'),
    /** Kept in the run when absent: a new one, or the UUID of a complete matching region already there. */
    uuid: uuidSchema.optional().describe('the region UUID; kept in the run when absent: a new one, or that of a complete matching region already there'),
  })
  .strict();

/** Why an extent of `extentSize` blocks (default Omicron's) of `blockSize` bytes is too big, or null. */
export function extentFileTooBig(extentSize: number | undefined, blockSize: number): string | null {
  const blocks = extentSize ?? OMICRON_EXTENT_BYTES / blockSize;
  return blocks * blockSize > MAX_EXTENT_BYTES ? `extent files over 512 MiB: ${blocks} blocks × ${blockSize} bytes = ${(blocks * blockSize) / MiB} MiB` : null;
}

export const seedRegionsInputSchema = z
  .object({
    /** The storage host (an inventory name). */
    host: hostNameSchema.describe('the storage host (inventory name)'),
    /** The address the downstairs listen on and the upstairs connects to (the VCR's targets). */
    address: ipv4Schema.describe('IPv4 address the downstairs listen on and the upstairs connects to (the VCR targets)'),
    image: z
      .object({
        path: absolutePathSchema.describe('the raw OS image on the host'),
        /** When given, the image must have it: a changed image is refused before anything is made. */
        sha256: sha256Schema.optional().describe('when given, a different image is refused before anything is made'),
      })
      .strict()
      .describe('the OS image the regions are seeded from'),
    /** Exactly three regions (Crucible's redundancy), each on its own pool. */
    regions: z.array(regionTargetSchema).length(3).describe('exactly three {dir, port, uuid?}, each on its own pool'),
    /**
     * Default: the image's own logical sector size, read from its GPT (the header's signature sits at
     * one sector: byte 512 or 4096); 512 for an image without one, the sector size every guest
     * filesystem can live on (an ext4 with 1 KiB blocks cannot be mounted from a 4096-byte device).
     */
    blockSize: blockSizeSchema.optional().describe("bytes per block, a power of two 512..32768; default the image's logical sector size from its GPT header (512 or 4096), else 512"),
    /** Blocks per extent; default Omicron's rule, 64 MiB / blockSize. */
    extentSize: z.number().int().min(1).optional().describe('blocks per extent; default 64 MiB / blockSize (Omicron); extent files over 512 MiB are refused'),
    /** At least this many extents; default (and minimum) ceil(image / extent); import grows it when the image needs more. */
    extentCount: z.number().int().min(1).max(1_000_000).optional().describe('at least this many extents; never fewer than the image needs (import would grow it anyway)'),
    /** Where the runit service directories of the three downstairs go (one per port). */
    serviceDir: absolutePathSchema.default('/etc/sv').describe('where the runit service directories of the three downstairs go'),
    /** How long to wait for a started downstairs to answer on its port. */
    startTimeoutSeconds: z.number().int().min(1).max(600).default(30).describe('how long a started downstairs may take to answer on its port'),
    ...commonInputFields,
  })
  .strict()
  .superRefine((i, ctx) => {
    // Without a blockSize the image tells it, later: decideSeeding checks the extent file size then.
    const tooBig = i.blockSize !== undefined ? extentFileTooBig(i.extentSize, i.blockSize) : null;
    if (tooBig) ctx.addIssue({ code: 'custom', path: ['extentSize'], message: tooBig });
    const dirs = i.regions.map((r) => r.dir);
    dirs.forEach((d, n) => {
      if (dirs.indexOf(d) !== n) ctx.addIssue({ code: 'custom', path: ['regions', n, 'dir'], message: `duplicate region directory ${d}` });
      dirs.forEach((o, m) => {
        if (m !== n && d.startsWith(`${o}/`)) ctx.addIssue({ code: 'custom', path: ['regions', n, 'dir'], message: `${d} is inside another region directory ${o}` });
      });
    });
    const ports = i.regions.flatMap((r) => [r.port, r.port + REPAIR_PORT_OFFSET]);
    i.regions.forEach((r, n) => {
      if (i.regions.findIndex((o) => o.port === r.port) !== n) ctx.addIssue({ code: 'custom', path: ['regions', n, 'port'], message: `duplicate port ${r.port}` });
      else if (ports.filter((p) => p === r.port).length > 1)
        ctx.addIssue({ code: 'custom', path: ['regions', n, 'port'], message: `port ${r.port} is another region's repair port (port + ${REPAIR_PORT_OFFSET})` });
    });
    const uuids = i.regions.map((r) => r.uuid).filter((u): u is string => u !== undefined);
    uuids.forEach((u, n) => {
      if (uuids.indexOf(u) !== n) ctx.addIssue({ code: 'custom', path: ['regions'], message: `duplicate region uuid ${u}` });
    });
  });

export type SeedRegionsInput = z.infer<typeof seedRegionsInputSchema>;
