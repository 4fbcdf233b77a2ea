import { z } from 'zod';
import { absolutePathSchema, hostNameSchema, lvmNameSchema } from '../../common/identifiers';

/** One guard per volume: its workflow id names the host and the volume, so a second start finds the first. */
export function guardWorkflowId(host: string, vg: string, lv: string): string {
  return `autogrow/${host}/${vg}/${lv}`;
}

/** The guard's settings: what an operator gives when starting it, and step 9 of fixReadonlyData passes on. */
export const guardSettingsFields = {
  /** Extend when the filesystem's Use% (as df computes it) reaches this. */
  thresholdPercent: z.number().int().min(1).max(99).default(80),
  /** Each extension adds this much (500M in the incident), as an absolute target: LV size + step. */
  stepMiB: z.number().int().min(1).max(1024 * 1024).default(500),
  /** Never grow the LV past this. Without it, the VG's free extents are the only limit. */
  ceilingMiB: z.number().int().min(1).optional(),
  /** How often usage is sampled (a durable timer between samples). */
  intervalSeconds: z.number().min(0.2).max(3600).default(10),
};

/** What continue-as-new carries over, so a guard's audit and counters survive its history being cut. */
export const guardCarrySchema = z
  .object({
    startedAt: z.string(),
    generation: z.number().int().nonnegative(),
    samples: z.number().int().nonnegative(),
    extensions: z.number().int().nonnegative(),
    /** The recent audit records (extensions, refusals, failures), newest last. */
    steps: z.array(z.unknown()),
    blocked: z.object({ reason: z.string(), since: z.string(), key: z.string() }).nullable(),
    lastSample: z.unknown().nullable(),
  })
  .strict();
export type GuardCarry = z.infer<typeof guardCarrySchema>;

export const autoGrowGuardInputSchema = z
  .object({
    host: hostNameSchema,
    vg: lvmNameSchema.default('vg0'),
    lv: lvmNameSchema.default('data0'),
    mountPoint: absolutePathSchema.default('/data'),
    ...guardSettingsFields,
    /** Samples per run before continue-as-new (keeps the history small). */
    samplesPerRun: z.number().int().min(10).max(10_000).default(500),
    /** Set by the guard itself on continue-as-new; never by an operator. */
    carry: guardCarrySchema.optional(),
  })
  .strict();
export type AutoGrowGuardInput = z.infer<typeof autoGrowGuardInputSchema>;
