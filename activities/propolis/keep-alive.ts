import { Context } from '@temporalio/activity';

// liveMigrate schedules its activities with a short heartbeat timeout, so that an activity lost
// with a dead worker is noticed in seconds and retried (each is idempotent). Activities that make
// one quick call, or wait without heartbeating of their own, beat once a second while they run.

const EVERY_MS = 1000;

export function keepAlive<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  const wrapped = async (...args: A): Promise<R> => {
    let ctx: Context | undefined;
    try {
      ctx = Context.current();
    } catch {
      return fn(...args); // called outside an activity (a script, a test)
    }
    ctx.heartbeat();
    const timer = setInterval(() => ctx.heartbeat(), EVERY_MS);
    try {
      return await fn(...args);
    } finally {
      clearInterval(timer);
    }
  };
  // Temporal registers activities by their export name; keep the function's own name for stacks.
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  return wrapped;
}
