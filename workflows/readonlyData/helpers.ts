import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import type { Runbook, MutateStep } from '../engine/runbook';
import type { CommandRecord, StepOutput } from '../engine/types';

/** Run an act for each item in turn, as one step: its values in order and all its commands. */
export async function each<T>(items: string[], act: (item: string) => Promise<StepOutput<T>>): Promise<StepOutput<T[]>> {
  const value: T[] = [];
  const commands: CommandRecord[] = [];
  for (const item of items) {
    const out = await act(item);
    value.push(out.value);
    commands.push(...out.commands);
  }
  return { value, commands };
}

/**
 * A mutate step with a cleanup for when its act is cut short (a failure after its retries, a
 * cancellation): the engine registers a compensation only once a step succeeds, but a pvmove or a
 * disk half added must be settled even then. The cleanup runs as its own step, which a cancellation
 * cannot stop, only if the act had started; then the original error goes on to the engine, which
 * compensates the earlier steps.
 */
export async function mutateWithCleanup<T>(rb: Runbook, step: MutateStep<T>, cleanup: Omit<MutateStep<unknown>, 'approval' | 'compensate'>): Promise<T | undefined> {
  let started = false;
  try {
    return await rb.mutate({
      ...step,
      run: (attempt) => {
        started = true;
        return step.run(attempt);
      },
    });
  } catch (err) {
    if (!started || rb.planning) throw err;
    try {
      await CancellationScope.nonCancellable(() => rb.mutate(cleanup));
    } catch (cleanupErr) {
      if (isCancellation(err)) throw err; // the run stays cancelled; the audit shows the failed cleanup
      throw ApplicationFailure.nonRetryable(
        `${step.name} failed (${(err as Error).message}) and its cleanup ${cleanup.name} failed too (${(cleanupErr as Error).message}): MANUAL ACTION NEEDED`,
        'CleanupFailed',
      );
    }
    throw err;
  }
}
