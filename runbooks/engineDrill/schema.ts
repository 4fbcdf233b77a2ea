import { z } from 'zod';
import { absolutePathSchema, hostNameSchema, stepNameSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';

export const engineDrillInputSchema = z
  .object({
    host: hostNameSchema,
    /** Where the drill keeps its markers on the host; one folder per drill. */
    dir: absolutePathSchema.refine((p) => p.startsWith('/var/tmp/engine-drill/'), 'a folder under /var/tmp/engine-drill/'),
    steps: z.number().int().min(1).max(50).default(3),
    /** marker: each step appends "do <i>" to <dir>/log once (undo appends "undo <i>"); true: each step runs `true`. */
    action: z.enum(['marker', 'true']).default('marker'),
    /** Seconds each marker step takes before it writes, to leave time to kill a worker mid-step. */
    stepSeconds: z.number().min(0).max(600).default(0),
    /** Make step N fail (non-retryably) after steps 1..N-1 succeeded. */
    failAtStep: z.number().int().min(1).optional(),
    /** Steps that wait for the `approve` update. */
    gatedSteps: z.array(stepNameSchema).default([]),
    /** Read-only steps run side by side before read-log, each reading the log twice (the second read after an await). */
    parallelReads: z.number().int().min(0).max(20).default(0),
    ...commonInputFields,
  })
  .strict();
export type EngineDrillInput = z.infer<typeof engineDrillInputSchema>;
