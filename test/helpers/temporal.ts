import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { connectClient } from '../../workers/connection';
import { RUNBOOKS_TASK_QUEUE } from '../../common/task-queues';
import { auditQuery } from '../../workflows/engine/messages';
import type { AuditLog } from '../../common/audit';

let shared: Client | undefined;

export async function testClient(): Promise<Client> {
  shared ??= await connectClient();
  return shared;
}

export async function closeTestClient(): Promise<void> {
  await shared?.connection.close();
  shared = undefined;
}

export async function startRunbook(type: string, input: unknown, opts: { taskQueue?: string; workflowId?: string } = {}): Promise<WorkflowHandle> {
  const client = await testClient();
  return client.workflow.start(type, {
    taskQueue: opts.taskQueue ?? RUNBOOKS_TASK_QUEUE,
    workflowId: opts.workflowId ?? `test/${type}/${randomUUID()}`,
    args: [input],
  });
}

/** The activity types a run scheduled, read from its history. */
export async function scheduledActivityTypes(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter((n): n is string => Boolean(n));
}

/** Poll the audit query until `predicate` holds (the run must have a worker). */
export async function waitForAudit(handle: WorkflowHandle, predicate: (a: AuditLog) => boolean, timeoutMs = 60_000): Promise<AuditLog> {
  const deadline = Date.now() + timeoutMs;
  let last: AuditLog | undefined;
  while (Date.now() < deadline) {
    try {
      last = await handle.query(auditQuery);
      if (predicate(last)) return last;
    } catch {
      /* no worker answered yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`audit condition not met within ${timeoutMs} ms; last: ${JSON.stringify(last?.steps.map((s) => [s.name, s.status]))}`);
}

/** The failure a run ended with (WorkflowFailedError.cause), or throws if it succeeded. */
export async function runFailure(handle: WorkflowHandle): Promise<Error & { type?: string; nonRetryable?: boolean; details?: unknown[] }> {
  try {
    await handle.result();
  } catch (err) {
    return ((err as { cause?: Error }).cause ?? err) as Error & { type?: string };
  }
  throw new Error(`${handle.workflowId} succeeded, but a failure was expected`);
}
