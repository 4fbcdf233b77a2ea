// The shapes a runbook author writes: a read-only step, a mutating step, its compensation and its
// settle, and what a run returns. The engine's behaviour for each is in runbook.ts (and the files it
// delegates to); nothing here runs.

import type { AuditLog } from '../../common/audit';
import type { StepRetry } from './retry';
import type { PlannedMutation, StepOutput, VerifyOutcome } from '../../common/step';

interface StepBase<T> {
  name: string;
  host?: string;
  description?: string;
  retry?: StepRetry;
  /** A one-line result for the step table. */
  summarize?: (value: T) => string;
}

export interface InspectStep<T> extends StepBase<T> {
  run: () => Promise<StepOutput<T>>;
  /**
   * A short read-only step: its activities run as local activities on the workflow's own worker and
   * are recorded with the workflow task that scheduled them, which saves the activity task's round
   * trip through the server (half of a step's cost, see bench/). Only for reads of milliseconds to
   * seconds (QUICK_STEP_TIMEOUT in routing.ts is the limit) that need no heartbeat, on a host without
   * a site (a site's worker is another process: those steps stay ordinary activities). What it gives
   * up: a local activity has no heartbeat (the workflow task waiting on it is what notices a dead
   * worker), a cancel of the run waits until the workflow task running it completes or heartbeats
   * (at 80% of the workflow task timeout), and a worker or server lost before that task completes
   * runs it again, which a read-only step allows.
   */
  quick?: boolean;
}

export interface Compensation {
  description: string;
  run: () => Promise<StepOutput<unknown>>;
  /** Default: COMPENSATION_RETRY (retry.ts). */
  retry?: StepRetry;
}

export interface MutateStep<T> extends StepBase<T> {
  description: string;
  /** The exact commands the act would run, for plan mode (computed without side effects). */
  plan: () => string[];
  /** Idempotent: it checks before it acts, and it gets absolute targets, so a retry is harmless. */
  run: (attempt: number) => Promise<StepOutput<T>>;
  /** Read-only check after the act; a failed verify fails the attempt (and is retried). */
  verify?: (value: T) => Promise<StepOutput<VerifyOutcome>>;
  /** Registered once the step succeeds; run in reverse order if a later step fails or the run is cancelled. */
  compensate?: (value: T) => Compensation | undefined;
  /** Wait for the `approve` update before acting. */
  approval?: boolean | { timeout?: string; reason?: string };
  /**
   * For an act that leaves a half-done state when it is cut short (it failed after its retries, or
   * the run was cancelled while it ran), which the compensation cannot cover because it is registered
   * only on success: a pvmove half done, a disk half added. Runs as its own step, which a cancellation
   * cannot stop, only if the act had started; then the act's error goes on, and the earlier steps are
   * compensated as usual. Its retry defaults to SETTLE_RETRY (retry.ts).
   */
  settle?: SettleStep;
}

export type SettleStep = Omit<MutateStep<unknown>, 'approval' | 'compensate' | 'settle' | 'verify'>;

export interface RunbookResult<T> {
  runbook: string;
  outcome: 'succeeded' | 'planned';
  value: T;
  planned: PlannedMutation[];
  audit: AuditLog;
}

/** ApplicationFailure types the engine throws, for callers that tell them apart. */
export const APPROVAL_REJECTED = 'ApprovalRejected';
export const APPROVAL_TIMED_OUT = 'ApprovalTimedOut';
export const RUNBOOK_FAILED = 'RunbookFailed';
export const VERIFY_FAILED = 'VerifyFailed';
export const SETTLE_FAILED = 'SettleFailed';
