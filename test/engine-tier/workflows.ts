import { defineQuery, setHandler } from '@temporalio/workflow';
import { z } from 'zod';
import { absolutePathSchema, stepNameSchema } from '../../common/identifiers';
import { commonInputFields, durationSchema } from '../../common/input';
import { defineRunbook } from '../../runbooks/define';
import { Runbook, type RunbookResult } from '../../workflows/engine/runbook';
import { stepTableRenders } from '../../workflows/engine/step-table-render';
import type * as standIns from './activities';

// The engine tier's one runbook: a list of mutating steps, each shaped by its input (retries, a verify,
// an approval gate, a settle, a compensation, a slow act to cancel, the point of no return), on the
// stand-in activities. The worker in harness.ts bundles this file instead of workflows/.

const stepSchema = z
  .object({
    name: stepNameSchema,
    /** The first n attempts of the act fail retryably. */
    failTimes: z.number().int().min(0).default(0),
    /** The act fails non-retryably. */
    fatal: z.boolean().default(false),
    /** The act takes this long (heartbeating), to be cancelled mid-way. */
    slowMs: z.number().int().min(0).default(0),
    /** A verify follows the act; its first n checks fail (each fails the attempt). */
    verifyFailTimes: z.number().int().min(0).optional(),
    approval: z.union([z.boolean(), z.object({ timeout: durationSchema })]).default(false),
    settle: z.boolean().default(false),
    compensate: z.boolean().default(true),
    undoFails: z.boolean().default(false),
    /** After this step: the point of no return (rb.commit). */
    commitAfter: z.boolean().default(false),
  })
  .strict();

export const engineTierSchema = z
  .object({
    /** The log file the stand-in activities append to. */
    log: absolutePathSchema,
    steps: z.array(stepSchema).min(1),
    ...commonInputFields,
  })
  .strict();

export const engineTierDefinition = defineRunbook({
  name: 'engineTier',
  summary: 'The engine tier: mutating steps on stand-in activities that append to a log file.',
  schema: engineTierSchema,
  targets: () => ['stand-in'],
  // Nothing to look up in an inventory: the stand-ins run on this worker.
  hosts: () => [],
});

/** Short backoffs: the tier proves the retry semantics, not the production intervals. */
const FAST_RETRY = { maximumAttempts: 4, initialIntervalMs: 50, maximumIntervalMs: 200 };

/** How often the run rendered its step table (engine.test.ts: at most once per workflow task). */
export const stepTableRendersQuery = defineQuery<number>('stepTableRenders');

export async function engineTier(input: unknown): Promise<RunbookResult<{ log: string[] }>> {
  setHandler(stepTableRendersQuery, stepTableRenders);
  return Runbook.run(engineTierDefinition, input, async (rb, i) => {
    const acts = rb.on<typeof standIns>(undefined, { heartbeatTimeout: '2 seconds', startToCloseTimeout: '1 minute' });
    for (const s of i.steps) {
      const verifyFailTimes = s.verifyFailTimes;
      await rb.mutate({
        name: s.name,
        description: `append "${s.name} attempt <n>" to the log`,
        retry: FAST_RETRY,
        approval: s.approval,
        plan: () => [`append "${s.name} attempt <n>" to ${i.log}`],
        run: (attempt) => (s.slowMs ? acts.standInSlowAct(i.log, s.name, s.slowMs) : acts.standInAct(i.log, s.name, attempt, s.failTimes, s.fatal)),
        ...(verifyFailTimes !== undefined ? { verify: (attempt: number) => acts.standInVerify(i.log, s.name, attempt, verifyFailTimes) } : {}),
        ...(s.settle
          ? {
              settle: {
                name: `settle-${s.name}`,
                description: `append "settle ${s.name}"`,
                retry: FAST_RETRY,
                plan: () => [`append "settle ${s.name}"`],
                run: () => acts.standInSettle(i.log, s.name),
              },
            }
          : {}),
        ...(s.compensate
          ? { compensate: () => ({ description: `append "undo ${s.name}"`, retry: { ...FAST_RETRY, maximumAttempts: 2 }, run: () => acts.standInUndo(i.log, s.name, s.undoFails) }) }
          : {}),
        summarize: (attempt) => `succeeded at attempt ${attempt}`,
      });
      if (s.commitAfter) rb.commit(`${s.name} is kept`);
    }
    const log = await rb.inspect({ name: 'read-log', run: () => acts.standInReadLog(i.log) });
    return { log };
  });
}
