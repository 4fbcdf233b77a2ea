import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { connectClient } from '../../workers/connection';
import { RUNBOOKS_TASK_QUEUE } from '../../common/task-queues';
import { auditQuery, pendingApprovalQuery } from '../../workflows/engine/messages';
import type { AuditLog } from '../../common/audit';
import { RunbookStep } from '../../workflows/engine/search-attributes';
import { preflights } from '../../cli/preflights';

let shared: Client | undefined;

export async function testClient(): Promise<Client> {
  shared ??= await connectClient();
  return shared;
}

export async function closeTestClient(): Promise<void> {
  await shared?.connection.close();
  shared = undefined;
}

/**
 * Start a run. With `preflight`, the runbook's pre-flight (cli/preflights.ts, what `runbook start`
 * runs) goes first, and its problems are thrown instead of starting anything. `workflowTaskTimeout`
 * (Temporal's default 10 s): how long a workflow task a worker took may stay unanswered before the
 * server hands it to another worker; crash tests that kill workers shorten it.
 */
export async function startRunbook(type: string, input: unknown, opts: { taskQueue?: string; workflowId?: string; preflight?: boolean; workflowTaskTimeout?: Duration } = {}): Promise<WorkflowHandle> {
  const preflight = opts.preflight ? preflights[type] : undefined;
  const problems = preflight ? await preflight(input as Record<string, unknown>) : [];
  if (problems.length) throw new Error(`pre-flight of ${type} found ${problems.length} problem(s); nothing was started:\n- ${problems.join('\n- ')}`);
  const client = await testClient();
  return client.workflow.start(type, {
    taskQueue: opts.taskQueue ?? RUNBOOKS_TASK_QUEUE,
    workflowId: opts.workflowId ?? `test/${type}/${randomUUID()}`,
    args: [input],
    ...(opts.workflowTaskTimeout ? { workflowTaskTimeout: opts.workflowTaskTimeout } : {}),
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

/**
 * What a run is doing now, in one line: its status, the step the engine is in, the step waiting for
 * approval, and each pending activity with its attempt and last heartbeat. For messages of waits that
 * gave up, so a hang under load says where it hung.
 */
export async function describeRunNow(handle: WorkflowHandle): Promise<string> {
  try {
    const d = await handle.describe();
    const parts = [`${handle.workflowId} is ${d.status.name}`];
    const step = d.typedSearchAttributes.get(RunbookStep);
    if (step) parts.push(`in step ${step}`);
    if (d.status.name === 'RUNNING') {
      const waiting = await handle.query(pendingApprovalQuery).catch(() => undefined);
      if (waiting) parts.push(`waiting for approval of ${waiting.step}`);
    }
    for (const a of d.raw.pendingActivities ?? []) {
      const hb = a.lastHeartbeatTime?.seconds ? `, last heartbeat ${Math.round(Date.now() / 1000 - Number(a.lastHeartbeatTime.seconds))} s ago` : ', no heartbeat';
      parts.push(`activity ${a.activityType?.name ?? '?'} attempt ${a.attempt ?? 1} ${temporalEnumName(a.state)}${hb}`);
    }
    const children = d.raw.pendingChildren ?? [];
    if (children.length) parts.push(`${children.length} children running: ${children.map((c) => c.workflowId).join(', ')}`);
    return parts.join('; ');
  } catch (err) {
    return `${handle.workflowId}: cannot describe (${(err as Error).message})`;
  }
}

function temporalEnumName(state: unknown): string {
  return state === 2 ? 'started' : state === 1 ? 'scheduled' : state === 3 ? 'cancel-requested' : 'state ' + String(state);
}

/**
 * A run's result, or a failure within `timeoutMs` naming `what` was awaited and where the run is
 * (see describeRunNow); the run is then terminated, so it cannot act on the lab during later tests.
 * Every wait of the replication tests is bounded this way, well under jest's test timeout.
 */
export async function resultWithin<T = unknown>(handle: WorkflowHandle, timeoutMs: number, what = `the result of ${handle.workflowId}`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), timeoutMs);
  });
  const settled = handle.result().then(
    (value) => ({ value: value as T }),
    (error: unknown) => ({ error }),
  );
  try {
    const r = await Promise.race([settled, expired]);
    if (r === 'expired') {
      const now = await describeRunNow(handle);
      await handle.terminate(`test gave up waiting for ${what} after ${timeoutMs} ms`).catch(() => undefined);
      throw new Error(`waited ${timeoutMs} ms for ${what}; ${now} (terminated)`);
    }
    if ('error' in r) throw r.error;
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

/** The failure a run ended with, within `timeoutMs` (see resultWithin), or throws if it succeeded. */
export async function failureWithin(handle: WorkflowHandle, timeoutMs: number): Promise<Error & { type?: string; nonRetryable?: boolean; details?: unknown[] }> {
  try {
    await resultWithin(handle, timeoutMs, `${handle.workflowId} to fail`);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(`waited ${timeoutMs} ms`)) throw err;
    return ((err as { cause?: Error }).cause ?? err) as Error & { type?: string };
  }
  throw new Error(`${handle.workflowId} succeeded, but a failure was expected`);
}

/**
 * Wait until the run waits for approval of `step` (by its pendingApproval query) and return what it
 * shows; fails within `timeoutMs` naming the step and where the run is instead.
 */
export async function waitForApproval(handle: WorkflowHandle, step: string, timeoutMs = 60_000): Promise<{ step: string; since: string; timeout: string; description?: string }> {
  const deadline = Date.now() + timeoutMs;
  let last: { step: string; since: string; timeout: string; description?: string } | null = null;
  while (Date.now() < deadline) {
    last = await handle.query(pendingApprovalQuery).catch(() => null);
    if (last?.step === step) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`waited ${timeoutMs} ms for ${handle.workflowId} to wait for approval of ${step}; ${last ? `it waits for ${last.step}` : 'no step waits'}; ${await describeRunNow(handle)}`);
}
