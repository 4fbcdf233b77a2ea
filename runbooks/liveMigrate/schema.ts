import { z } from 'zod';
import { absolutePathSchema, hostNameSchema, uuidSchema } from '../../common/identifiers';
import { commonInputFields, durationSchema } from '../../common/input';

// liveMigrate's input: servers by inventory name, the VM's shape, the boot disk's name and slot,
// and where its three regions are (the storage host and each region's directory and port; or the
// seedRegions result that says so). Geometry and gens are read from the regions, never typed.

const portSchema = z.number().int().min(1).max(65535);

export const downstairsSchema = z.object({ dir: absolutePathSchema, port: portSchema }).strict();

/** seedRegions' result (runbooks/seedRegions/result.ts), of which only the regions' dirs and ports are used. */
const seedRegionsResultSchema = z
  .object({
    regions: z.array(z.object({ dir: absolutePathSchema, port: portSchema }).loose()).length(3, 'exactly three regions'),
  })
  .loose();

export const regionsSchema = z
  .object({
    /** The storage host (inventory name) that runs the three downstairs. */
    host: hostNameSchema,
    downstairs: z.array(downstairsSchema).length(3, 'exactly three downstairs (one per region)').optional(),
    /** Or: the result of seedRegions, as it came out (geometry and gens are read from the regions anyway). */
    seedRegions: seedRegionsResultSchema.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (!r.downstairs === !r.seedRegions) {
      ctx.addIssue({ code: 'custom', path: ['downstairs'], message: 'give either downstairs (three {dir, port}) or seedRegions (its result), not both and not neither' });
      return;
    }
    const ds = regionDownstairs(r);
    if (new Set(ds.map((d) => d.port)).size !== 3) ctx.addIssue({ code: 'custom', path: ['downstairs'], message: 'the three downstairs need three different ports' });
    if (new Set(ds.map((d) => d.dir)).size !== 3) ctx.addIssue({ code: 'custom', path: ['downstairs'], message: 'the three downstairs need three different region directories' });
  });

/** The three downstairs, from whichever form the input gave. */
export function regionDownstairs(r: { downstairs?: Array<{ dir: string; port: number }>; seedRegions?: { regions: Array<{ dir: string; port: number }> } }): Array<{ dir: string; port: number }> {
  return r.downstairs ?? (r.seedRegions?.regions ?? []).map((x) => ({ dir: x.dir, port: x.port }));
}

export const liveMigrateInputSchema = z
  .object({
    /** The propolis server the VM runs on (or is created on). */
    source: hostNameSchema,
    /** The propolis server it moves to. */
    destination: hostNameSchema,
    /** propolis-server's port on both (propolis-cli's default). */
    port: portSchema.default(12400),
    vm: z
      .object({
        name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'a VM name: lower-case letters, digits and dashes, starting with a letter'),
        vcpus: z.number().int().min(1).max(64),
        /** Guest memory in MiB: at least 256, at most 256 GiB, a multiple of 2 MiB (huge pages). */
        memoryMiB: z
          .number()
          .int()
          .min(256)
          .max(262144)
          .refine((m) => m % 2 === 0, 'a multiple of 2 MiB'),
        /** The instance's UUID on the source; default: a new one. */
        id: uuidSchema.optional(),
      })
      .strict(),
    disk: z
      .object({
        /** The disk's component name; its backend is `<name>-backend` (propolis-cli's naming). */
        name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a disk name: lower-case letters, digits and dashes, starting with a letter'),
        /** PCI slot 0..7 (device 16+slot, as propolis-cli places disks). */
        slot: z.number().int().min(0).max(7),
      })
      .strict(),
    regions: regionsSchema,
    /** The volume's id in the VCR and the ledger; default: the first region's uuid. */
    volumeId: uuidSchema.optional(),
    /** A gen to start the VM with (normally left out: the runbook takes one above every gen seen). Refused when not above them. */
    gen: z
      .number()
      .int()
      .min(1)
      .max(2 ** 52)
      .optional(),
    /** How long the VM may take to reach Running (start, or after the migration). */
    startTimeout: durationSchema.default('60s'),
    /** How long the migration may take from the destination's ensure to Finish on both sides. */
    migrationTimeout: durationSchema.default('3m'),
    /** Where a failed migration whose destination cannot run the VM restarts it (after approval). */
    recoverOn: z.enum(['source', 'destination']).default('source'),
    ...commonInputFields,
  })
  .strict()
  .superRefine((i, ctx) => {
    if (i.source === i.destination) ctx.addIssue({ code: 'custom', path: ['destination'], message: 'the destination must be another server than the source' });
    if (i.regions.host === i.source || i.regions.host === i.destination)
      ctx.addIssue({ code: 'custom', path: ['regions', 'host'], message: 'the storage host must not be one of the propolis servers' });
  });
export type LiveMigrateInput = z.infer<typeof liveMigrateInputSchema>;
