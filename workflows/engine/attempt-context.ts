import { AsyncLocalStorage } from '@temporalio/workflow';
import type { ActivityTag } from './event-summary';

// Which step attempt the code running right now belongs to. Each attempt runs its author code inside
// its own context, which follows that code across every await (the workflow sandbox's
// AsyncLocalStorage, the same mechanism as CancellationScope.current()), so an activity scheduled by
// a step is tagged with that step's attempt even when other steps run in parallel (Promise.all) and
// even after an await. No mutable "current step" field: parallel attempts cannot overwrite each other.

const attempts = new AsyncLocalStorage<ActivityTag>();

/** Run `fn` as (part of) the attempt `tag`: every activity it schedules, now or after an await, carries that tag. */
export function inAttempt<T>(tag: ActivityTag, fn: () => T): T {
  return attempts.run(tag, fn);
}

/** The attempt whose code is running, if any (activities outside every step, such as a background probe, have none). */
export function currentAttempt(): ActivityTag | undefined {
  return attempts.getStore();
}
