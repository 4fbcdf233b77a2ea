import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import { withAttempts } from './attempts';
import type { AuditRecorder } from './recorder';
import { COMPENSATION_RETRY, describeError, SETTLE_RETRY } from './retry';
import { SETTLE_FAILED, type Compensation, type SettleStep } from './steps';

// The saga's other half: what to undo when a later step fails or the run is cancelled, the point of
// no return after which nothing is undone, and settling an act that was cut short.

interface PendingCompensation {
  step: string;
  host?: string;
  compensation: Compensation;
}

export class Compensations {
  private readonly pending: PendingCompensation[] = [];

  constructor(private readonly recorder: AuditRecorder) {}

  /** A step succeeded: its undo runs if a later step fails or the run is cancelled. */
  register(step: string, host: string | undefined, compensation: Compensation): void {
    this.pending.push({ step, host, compensation });
  }

  /** The point of no return: forget every undo registered so far; their step names, for the audit. */
  dropAll(): string[] {
    return this.pending.splice(0).map((c) => `undo-${c.step}`);
  }

  /** Undo, newest first, what succeeded. Runs even when the run was cancelled. The failures, in words. */
  async undoAll(): Promise<string[]> {
    const failures: string[] = [];
    await CancellationScope.nonCancellable(async () => {
      while (this.pending.length) {
        const { step, host, compensation } = this.pending.pop()!;
        const record = this.recorder.beginStep('compensate', `undo-${step}`, host, compensation.description);
        record.compensates = step;
        try {
          await withAttempts(this.recorder, record, compensation.retry ?? COMPENSATION_RETRY, async () => this.recorder.absorb(record, await compensation.run()));
          this.recorder.endStep(record, 'completed');
        } catch (err) {
          this.recorder.endStep(record, 'failed');
          failures.push(`undo of ${step} failed: ${describeError(err).message}`);
        }
      }
    });
    return failures;
  }
}

/**
 * Settle an act that was cut short (see MutateStep.settle) as a step of its own that a cancellation
 * cannot stop; `mutate` is the engine's. A failed settle needs a human, and says so.
 */
export async function settle(mutate: (step: SettleStep) => Promise<unknown>, name: string, step: SettleStep, cause: unknown): Promise<void> {
  try {
    await CancellationScope.nonCancellable(() => mutate({ ...step, retry: step.retry ?? SETTLE_RETRY }));
  } catch (settleErr) {
    if (isCancellation(cause)) return; // the run stays cancelled; the audit shows the failed settle
    throw ApplicationFailure.nonRetryable(
      `${name} failed (${describeError(cause).message}) and settling it (${step.name}) failed too (${describeError(settleErr).message}): MANUAL ACTION NEEDED`,
      SETTLE_FAILED,
    );
  }
}
