import { z } from 'zod';
import { absolutePathSchema, hostNameSchema, lvmNameSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';
import type { StepRecord } from '../../common/audit';

/** One guard per volume: its workflow id names the host and the volume, so a second start finds the first. */
export function guardWorkflowId(host: string, vg: string, lv: string): string {
  return `autogrow/${host}/${vg}/${lv}`;
}

/** The guard's settings: what an operator gives when starting it, and step 9 of fixReadonlyData passes on. */
export const guardSettingsFields = {
  thresholdPercent: z
    .number()
    .int()
    .min(1)
    .max(99)
    .default(80)
    .describe("extend when the filesystem's Use% (as df computes it) reaches this, or sooner when its free space would not outlast two extensions at the observed fill rate"),
  stepMiB: z
    .number()
    .int()
    .min(1)
    .max(1024 * 1024)
    .default(500)
    .describe('each extension adds at least this much (500M in the incident), as an absolute target (LV size + steps); more steps when the writes are fast'),
  ceilingMiB: z.number().int().min(1).optional().describe("never grow the LV past this; without it, the VG's free extents are the only limit"),
  pollMs: z.number().int().min(10).max(100).default(50).describe("how often the host-side watcher reads the filesystem's usage (a remote loop streaming one line each time)"),
};

const volumeSampleSchema = z.object({
  at: z.string(),
  usage: z.object({ target: z.string(), sizeBytes: z.number(), usedBytes: z.number(), availBytes: z.number(), usePercent: z.number() }),
  lvBytes: z.number(),
  extentBytes: z.number(),
  vgFreeExtents: z.number(),
  fstype: z.string(),
});

/** The audit records a guard carries over (its own extensions, reports and failures); the engine's StepRecord, checked for shape. */
const carriedStepSchema = z
  .looseObject({
    seq: z.number().int().positive(),
    name: z.string(),
    kind: z.enum(['inspect', 'mutate', 'compensate']),
    status: z.enum(['running', 'waiting-approval', 'completed', 'failed', 'planned', 'cancelled']),
    startedAt: z.string(),
    attempts: z.array(z.looseObject({ attempt: z.number(), startedAt: z.string() })),
    commands: z.array(z.looseObject({ command: z.string(), host: z.string() })),
  })
  .transform((s) => s as unknown as StepRecord);

/** Audit records kept across continue-as-new (newest last). */
export const KEPT_STEPS = 100;

/**
 * What continue-as-new carries over, so a guard that runs for months keeps one audit: when it began,
 * its lifetime counters, whether it is blocked, and its recent audit records (every window that
 * extended, reported or failed; quiet windows only count). Set by the guard itself, never by an operator.
 */
export const guardCarrySchema = z
  .object({
    /** When the first run of this guard started. */
    startedAt: z.string(),
    /** Runs so far before this one (continue-as-new count). */
    generation: z.number().int().nonnegative(),
    windows: z.number().int().nonnegative(),
    samples: z.number().int().nonnegative(),
    extensions: z.number().int().nonnegative(),
    grownBytes: z.number().nonnegative(),
    peakFillMBps: z.number().nonnegative(),
    blocked: z.object({ reason: z.string(), since: z.string(), key: z.string() }).nullable(),
    lastSample: volumeSampleSchema.nullable(),
    steps: z.array(carriedStepSchema).max(KEPT_STEPS),
  })
  .strict();
export type GuardCarry = z.infer<typeof guardCarrySchema>;

export const autoGrowGuardInputSchema = z
  .object({
    host: hostNameSchema.describe('the host of the volume'),
    vg: lvmNameSchema.default('vg0').describe('the volume group'),
    lv: lvmNameSchema.default('data0').describe('the logical volume to keep from filling up'),
    mountPoint: absolutePathSchema.default('/data').describe("where the LV's filesystem is mounted"),
    ...guardSettingsFields,
    windowSeconds: z
      .number()
      .int()
      .min(2)
      .max(3600)
      .default(300)
      .describe('one watch window: the watcher activity runs this long, then the workflow records it as a step (sooner once the writes that made it extend have stopped)'),
    windowsPerRun: z.number().int().min(2).max(1000).default(50).describe('windows per run before continue-as-new (keeps the history small)'),
    carry: guardCarrySchema.optional().describe('set by the guard itself on continue-as-new (its audit and counters), never by an operator'),
    ...commonInputFields,
  })
  .strict();
export type AutoGrowGuardInput = z.infer<typeof autoGrowGuardInputSchema>;
/** What a caller passes when starting a guard (defaults filled in by the schema). */
export type AutoGrowGuardStart = z.input<typeof autoGrowGuardInputSchema>;
