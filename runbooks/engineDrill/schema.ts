import { z } from 'zod';
import { absolutePathSchema, hostNameSchema, stepNameSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';

export const engineDrillInputSchema = z
  .object({
    host: hostNameSchema.describe('the lab host the drill runs on'),
    dir: absolutePathSchema
      .refine((p) => p.startsWith('/var/tmp/engine-drill/'), 'a folder under /var/tmp/engine-drill/')
      .describe('where the drill keeps its markers on the host (a folder under /var/tmp/engine-drill/, one per drill)'),
    steps: z.number().int().min(1).max(50).default(3).describe('how many marker steps'),
    action: z
      .enum(['marker', 'true', 'read-true'])
      .default('marker')
      .describe(
        'marker: each step appends "do <i>" to <dir>/log once (undo appends "undo <i>"); true: each step runs `true` as a mutating step (the per-step benchmark); read-true: as a quick read-only step (a local activity)',
      ),
    stepSeconds: z
      .number()
      .min(0)
      .max(600)
      .default(0)
      .describe('seconds each marker step takes before it writes (a read-true step: sleeps instead of `true`), to leave time to kill a worker mid-step'),
    failAtStep: z.number().int().min(1).optional().describe('make step N fail (non-retryably, then settle) after steps 1..N-1 succeeded'),
    gatedSteps: z.array(stepNameSchema).default([]).describe('steps that wait for the `approve` update'),
    parallelReads: z.number().int().min(0).max(20).default(0).describe('read-only steps run side by side before read-log, each reading the log twice (the second read after an await)'),
    ...commonInputFields,
  })
  .strict();
export type EngineDrillInput = z.infer<typeof engineDrillInputSchema>;
