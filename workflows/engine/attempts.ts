import { sleep } from '@temporalio/workflow';
import type { StepRecord } from '../../common/audit';
import { inAttempt } from './attempt-context';
import { nowIso } from './clock';
import { timerSummary, type ActivityTag } from './event-summary';
import type { AuditRecorder } from './recorder';
import { backoffMs, commandRecordsOf, DEFAULT_STEP_RETRY, describeError, isRetryable, type StepRetry } from './retry';

// A step's attempts. The engine retries steps itself (activities are scheduled with maximumAttempts
// 1) so that every attempt and its error lands in the audit log and the history, not only the last.

/** The tag of one attempt of a step (its verify has its own, so the timeline tells them apart). */
export function attemptTag(record: StepRecord, attempt: number, verify = false, quick = false): ActivityTag {
  return { seq: record.seq, step: record.name, host: record.host, kind: record.kind, attempt, ...(verify ? { verify } : {}), ...(quick ? { quick } : {}) };
}

/**
 * Run `fn` with the step's retries, each attempt in its own context (attempt-context.ts; `quick`: its
 * activities run as local activities, see routing.ts), recording
 * each attempt, its error and the commands a failure carries; back off between attempts on a timer
 * that names the step.
 */
export async function withAttempts<T>(recorder: AuditRecorder, record: StepRecord, retryOptions: StepRetry | undefined, fn: (attempt: number) => Promise<T>, quick = false): Promise<T> {
  const retry = { ...DEFAULT_STEP_RETRY, ...retryOptions };
  for (let attempt = 1; ; attempt++) {
    const entry: StepRecord['attempts'][number] = { attempt, startedAt: nowIso() };
    record.attempts.push(entry);
    recorder.render();
    try {
      const value = await inAttempt(attemptTag(record, attempt, false, quick), () => fn(attempt));
      entry.endedAt = nowIso();
      return value;
    } catch (err) {
      entry.endedAt = nowIso();
      entry.error = describeError(err);
      record.commands.push(...commandRecordsOf(err));
      recorder.render();
      if (!isRetryable(err, retry) || attempt >= retry.maximumAttempts) throw err;
      await sleep(backoffMs(retry, attempt), { summary: timerSummary({ seq: record.seq, step: record.name, host: record.host, purpose: 'backoff', attempt: attempt + 1 }) });
    }
  }
}
