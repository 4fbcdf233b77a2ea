import { RUNBOOKS_TASK_QUEUE } from '../common/task-queues';

/** The queue this worker polls: `runbooks`, unless RUNBOOK_TASK_QUEUE names another (a canary, a test). */
export function workerTaskQueue(): string {
  return process.env.RUNBOOK_TASK_QUEUE ?? RUNBOOKS_TASK_QUEUE;
}
