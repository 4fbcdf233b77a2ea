import type { WorkerOptions } from '@temporalio/worker';

/**
 * The SDK sends an activity's heartbeats at most every 0.8 x its heartbeat timeout: with the 5 s
 * timeouts of the host steps, one heartbeat every 4 s, so a worker slowed by a second under load
 * has its live activity timed out and retried while it still runs. Sent every second, a heartbeat
 * has most of its timeout as slack; a dead worker is still noticed within the timeout.
 */
export const HEARTBEAT_DELIVERY = { maxHeartbeatThrottleInterval: '1s' } satisfies Partial<WorkerOptions>;
