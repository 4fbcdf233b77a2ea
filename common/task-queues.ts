// Task queue names, shared by the workers that poll them, the engine that routes activities to them
// and the clients that start runs on them. No Temporal or Node import: workflow code uses it too.

/** All runbooks' workflows and activities run here unless a host belongs to a site. */
export const RUNBOOKS_TASK_QUEUE = 'runbooks';

/** Hosts only reachable from their site get their activities on that site's queue. */
export function siteTaskQueue(site: string): string {
  return `site-${site}`;
}
