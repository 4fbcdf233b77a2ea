import type { WorkflowHandle } from '@temporalio/client';
import { testClient } from './temporal';

type HistoryEvent = NonNullable<NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>>[number];

/**
 * Wait, by long-polling the run's history (not by polling a query, which needs a workflow task and
 * is slower), until an event `matches`; fail naming `what` when the run ends first or time runs out.
 */
export async function waitForHistoryEvent(handle: WorkflowHandle, what: () => string, matches: (e: HistoryEvent) => boolean, timeoutMs: number): Promise<void> {
  const client = await testClient();
  const deadline = Date.now() + timeoutMs;
  let nextPageToken: Uint8Array | undefined;
  while (Date.now() < deadline) {
    const res = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId: handle.workflowId },
      waitNewEvent: true,
      nextPageToken,
    });
    for (const e of res.history?.events ?? []) {
      if (matches(e)) return;
      if (e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes || e.workflowExecutionCanceledEventAttributes) {
        throw new Error(`${handle.workflowId} ended before ${what()}`);
      }
    }
    if (res.nextPageToken?.length) nextPageToken = res.nextPageToken;
  }
  throw new Error(`${handle.workflowId}: still waiting after ${timeoutMs} ms until ${what()}`);
}

/**
 * Wait until the engine upserts RunbookStep = `step`: the moment the workflow task that begins the
 * step (and schedules its first activity) has been recorded. A test can kill the worker right then,
 * at the step boundary.
 */
export function waitForStepStart(handle: WorkflowHandle, step: string, timeoutMs = 120_000): Promise<void> {
  return waitForHistoryEvent(
    handle,
    () => `step ${step} began`,
    (e) => {
      const field = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.RunbookStep;
      return Boolean(field?.data && JSON.parse(Buffer.from(field.data).toString()) === step);
    },
    timeoutMs,
  );
}

/**
 * Wait until the run has scheduled its `n`-th activity of `activityType` (1-based): for steps that
 * set no RunbookStep, such as compensations, whose boundary is the workflow task that schedules their
 * activity.
 */
export function waitForActivityScheduled(handle: WorkflowHandle, activityType: string, n: number, timeoutMs = 60_000): Promise<void> {
  let seen = 0;
  return waitForHistoryEvent(
    handle,
    () => `its activity ${activityType} #${n} was scheduled (saw ${seen})`,
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType && ++seen === n,
    timeoutMs,
  );
}

/** Wait until the run's first activity (resolve-hosts) has completed: what comes next is its first step. */
export function waitForFirstActivityCompleted(handle: WorkflowHandle, timeoutMs = 30_000): Promise<void> {
  return waitForHistoryEvent(
    handle,
    () => 'its first activity completed',
    (e) => Boolean(e.activityTaskCompletedEventAttributes),
    timeoutMs,
  );
}
