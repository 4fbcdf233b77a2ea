/** All runbooks' workflows and activities run here unless a host belongs to a site. */
export const RUNBOOKS_TASK_QUEUE = 'runbooks';

/** The queue this worker polls: `runbooks`, unless RUNBOOK_TASK_QUEUE names another (a canary, a test). */
export function workerTaskQueue(): string {
  return process.env.RUNBOOK_TASK_QUEUE ?? RUNBOOKS_TASK_QUEUE;
}

/** Hosts only reachable from their site get their activities on that site's queue. */
export function siteTaskQueue(site: string): string {
  return `site-${site}`;
}
