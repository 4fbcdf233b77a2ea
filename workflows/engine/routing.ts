import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import { siteTaskQueue } from '../../common/task-queues';
import { currentAttempt } from './attempt-context';
import { activitySummary } from './event-summary';

// Where a step's activities run and how they are labelled. A host that belongs to a site has its
// activities on that site's task queue (its worker can reach it); every activity scheduled inside a
// step attempt carries a one-line summary naming that step and attempt (event-summary.ts), so the
// UI's timeline and a retrospective built from the history alone can tell parallel steps, retries,
// verifies and compensations apart.

export const DEFAULT_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  // SSH activities heartbeat every second while a command runs; a worker that dies is noticed this fast.
  heartbeatTimeout: '10 seconds',
  // The engine retries steps itself (see attempts.ts), so each attempt is in the audit.
  retry: { maximumAttempts: 1 },
};

type Schedulable = { executeWithOptions(o: ActivityOptions, args: unknown[]): Promise<unknown> };

/** Activities that carry the summary of the attempt that schedules them (none outside a step). */
export function tagged<A extends object>(raw: A): A {
  return new Proxy(raw, {
    get: (target, name) => {
      const fn = Reflect.get(target, name) as Schedulable;
      if (typeof name !== 'string') return fn;
      return (...args: unknown[]) => {
        const tag = currentAttempt();
        return tag ? fn.executeWithOptions({ summary: activitySummary(tag) }, args) : (fn as unknown as (...a: unknown[]) => Promise<unknown>)(...args);
      };
    },
  });
}

/** Activity proxies per host: on the host's site queue when it has one, tagged, one proxy per queue and options. */
export class ActivityRouter {
  private readonly sites = new Map<string, string | undefined>();
  private readonly proxies = new Map<string, unknown>();

  knows(host: string): boolean {
    return this.sites.has(host);
  }

  learn(host: string, site: string | undefined): void {
    this.sites.set(host, site);
  }

  on<A>(host: string | undefined, options: ActivityOptions = {}): A {
    const site = host ? this.sites.get(host) : undefined;
    const taskQueue = site ? siteTaskQueue(site) : undefined;
    const key = `${taskQueue ?? ''}|${JSON.stringify(options)}`;
    let proxy = this.proxies.get(key);
    if (!proxy) {
      proxy = tagged(proxyActivities({ ...DEFAULT_ACTIVITY_OPTIONS, ...options, ...(taskQueue ? { taskQueue } : {}), retry: { maximumAttempts: 1 } }));
      this.proxies.set(key, proxy);
    }
    return proxy as A;
  }
}
