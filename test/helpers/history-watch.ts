import type { WorkflowHandle } from '@temporalio/client';
import { testClient } from './temporal';

/**
 * Wait, by long-polling the run's history (not by polling a query, which needs a workflow task and
 * is slower), until the engine upserts RunbookStep = `step`: the moment the workflow task that
 * begins the step (and schedules its first activity) has been recorded. A test can kill the worker
 * right then, at the step boundary.
 */
export async function waitForStepStart(handle: WorkflowHandle, step: string, timeoutMs = 120_000): Promise<void> {
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
      const field = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.RunbookStep;
      if (field?.data && JSON.parse(Buffer.from(field.data).toString()) === step) return;
      if (e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes || e.workflowExecutionCanceledEventAttributes) {
        throw new Error(`${handle.workflowId} ended before step ${step} began`);
      }
    }
    if (res.nextPageToken?.length) nextPageToken = res.nextPageToken;
  }
  throw new Error(`step ${step} of ${handle.workflowId} did not begin within ${timeoutMs} ms`);
}

/**
 * Wait, as waitForStepStart does, until the run has scheduled its `n`-th activity of `activityType`
 * (1-based): for steps that set no RunbookStep, such as compensations, whose boundary is the
 * workflow task that schedules their activity.
 */
export async function waitForActivityScheduled(handle: WorkflowHandle, activityType: string, n: number, timeoutMs = 60_000): Promise<void> {
  const client = await testClient();
  const deadline = Date.now() + timeoutMs;
  let nextPageToken: Uint8Array | undefined;
  let seen = 0;
  while (Date.now() < deadline) {
    const res = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId: handle.workflowId },
      waitNewEvent: true,
      nextPageToken,
    });
    for (const e of res.history?.events ?? []) {
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === activityType && ++seen === n) return;
      if (e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes || e.workflowExecutionCanceledEventAttributes) {
        throw new Error(`${handle.workflowId} ended before its activity ${activityType} #${n} was scheduled (saw ${seen})`);
      }
    }
    if (res.nextPageToken?.length) nextPageToken = res.nextPageToken;
  }
  throw new Error(`${handle.workflowId} did not schedule activity ${activityType} #${n} within ${timeoutMs} ms (saw ${seen})`);
}
