import { ActivityCancellationType, ActivityFailure, CancellationScope, isCancellation, sleep, TimeoutFailure } from '@temporalio/workflow';
import type * as activities from '../../activities';
import type { ProbeTotals } from '../../activities/objectService/probe';
import type { Runbook } from '../engine/runbook';

// The downtime probe runs beside the steps for the whole apply run. It is not a step: it changes
// nothing and its result is a measurement. When its worker dies, the workflow starts it again with
// the totals of its last heartbeat, so the count survives; when the run ends, it is cancelled and
// hands back its totals (the workflow waits for them: WAIT_CANCELLATION_COMPLETED).

export interface ProbeHandle {
  stop(): Promise<ProbeTotals | null>;
}

export function startDowntimeProbe(rb: Runbook, host: string, port: number, path: string, intervalMs: number): ProbeHandle {
  const acts = rb.on<typeof activities>(host, {
    startToCloseTimeout: '7 days',
    heartbeatTimeout: '5 seconds',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  let stopping = false;
  let last: ProbeTotals | null = null;
  const scope = new CancellationScope();
  const running = scope.run(async () => {
    for (;;) {
      try {
        return await acts.probeObjectService(host, port, path, intervalMs, last);
      } catch (err) {
        // A worker that died mid-probe: carry on from its last heartbeat.
        if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.lastHeartbeatDetails) {
          last = err.cause.lastHeartbeatDetails as ProbeTotals;
        }
        if (stopping || isCancellation(err)) return last;
        await sleep('1 second');
      }
    }
  });
  return {
    async stop() {
      stopping = true;
      scope.cancel();
      try {
        return await running;
      } catch {
        return last;
      }
    },
  };
}
