import { msToNumber } from '@temporalio/common/lib/time';
import { patched, proxyActivities, proxyLocalActivities, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
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

/**
 * A quick step's activities run as local activities: a local activity may take this long before the
 * step fails (and is retried by the engine), so the workflow task that waits on it stays short.
 */
export const QUICK_STEP_TIMEOUT = '30 seconds';

/**
 * The patch that made quick steps local (workflow versioning): a history recorded before it replays
 * its quick steps as the ordinary activities it scheduled then; runs started since record the marker
 * and run them locally.
 */
export const QUICK_STEPS_PATCH = 'quick-steps-run-as-local-activities';

type Schedulable = { executeWithOptions(o: ActivityOptions | LocalActivityOptions, args: unknown[]): Promise<unknown> };

/**
 * Activities that carry the summary of the attempt that schedules them (none outside a step). With
 * `local`, an attempt of a quick step (steps.ts) schedules them there instead.
 */
export function tagged<A extends object>(raw: A, local?: A): A {
  return new Proxy(raw, {
    get: (target, name) => {
      const fn = Reflect.get(target, name) as Schedulable;
      if (typeof name !== 'string') return fn;
      return (...args: unknown[]) => {
        const tag = currentAttempt();
        if (!tag) return (fn as unknown as (...a: unknown[]) => Promise<unknown>)(...args);
        const where = local && tag.quick && patched(QUICK_STEPS_PATCH) ? (Reflect.get(local, name) as Schedulable) : fn;
        return where.executeWithOptions({ summary: activitySummary(tag) }, args);
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
      const remote = proxyActivities({ ...DEFAULT_ACTIVITY_OPTIONS, ...options, ...(taskQueue ? { taskQueue } : {}), retry: { maximumAttempts: 1 } });
      // A site's worker is another process: only a host without a site can have its steps run locally.
      // Its timeout: the step's own when that is shorter, never more than QUICK_STEP_TIMEOUT.
      const own = options.startToCloseTimeout;
      const timeout = own !== undefined && msToNumber(own) < msToNumber(QUICK_STEP_TIMEOUT) ? own : QUICK_STEP_TIMEOUT;
      const local = taskQueue ? undefined : proxyLocalActivities({ startToCloseTimeout: timeout, retry: { maximumAttempts: 1 } });
      proxy = tagged(remote, local);
      this.proxies.set(key, proxy);
    }
    return proxy as A;
  }
}
