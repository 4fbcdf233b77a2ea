import { ActivityFailure, ApplicationFailure, isCancellation, TimeoutFailure } from '@temporalio/workflow';
import type { CommandRecord } from '../../common/step';

/**
 * The engine retries steps itself (activities are scheduled with maximumAttempts 1) so that every
 * attempt and its error lands in the audit log and the history, not only the last one.
 */
export interface StepRetry {
  maximumAttempts?: number;
  initialIntervalMs?: number;
  backoffCoefficient?: number;
  maximumIntervalMs?: number;
  /** ApplicationFailure types that end the step at once. */
  nonRetryableErrorTypes?: string[];
}

export const DEFAULT_STEP_RETRY: Required<StepRetry> = {
  maximumAttempts: 5,
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 30_000,
  nonRetryableErrorTypes: [],
};

/**
 * Undoing is worth more patience than doing: a compensation or a settle that gives up leaves a
 * half-done change for a human, so both try twice as often as a step, no more than 10 s apart.
 */
const UNDO_RETRY: StepRetry = { maximumAttempts: 10, maximumIntervalMs: 10_000 };
/** A compensation's retries unless it names its own. */
export const COMPENSATION_RETRY: StepRetry = UNDO_RETRY;
/** A settle's retries unless it names its own (see MutateStep.settle). */
export const SETTLE_RETRY: StepRetry = UNDO_RETRY;

export function backoffMs(retry: Required<StepRetry>, attempt: number): number {
  return Math.min(retry.maximumIntervalMs, retry.initialIntervalMs * retry.backoffCoefficient ** (attempt - 1));
}

/** The ApplicationFailure behind an activity failure, if there is one. */
export function applicationCause(err: unknown): ApplicationFailure | undefined {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause;
  return undefined;
}

export function isRetryable(err: unknown, retry: Required<StepRetry>): boolean {
  if (isCancellation(err)) return false;
  const app = applicationCause(err);
  if (app) return !app.nonRetryable && !retry.nonRetryableErrorTypes.includes(app.type ?? '');
  // Timeouts (a worker that died mid-step, a heartbeat that stopped) are what retries are for.
  return err instanceof ActivityFailure || err instanceof TimeoutFailure;
}

export function describeError(err: unknown): { message: string; type?: string } {
  const app = applicationCause(err);
  if (app) return { message: app.message, type: app.type ?? undefined };
  if (err instanceof ActivityFailure && err.cause) {
    const cause = err.cause;
    return { message: cause.message, type: cause instanceof TimeoutFailure ? `Timeout:${cause.timeoutType}` : cause.name };
  }
  if (err instanceof Error) return { message: err.message, type: err.name };
  return { message: String(err) };
}

/** Failures from our SSH layer carry the command record as their first detail. */
export function commandRecordsOf(err: unknown): CommandRecord[] {
  const details = applicationCause(err)?.details ?? [];
  return details.filter((d): d is CommandRecord => typeof d === 'object' && d !== null && 'command' in d && 'exitCode' in d && 'host' in d);
}
