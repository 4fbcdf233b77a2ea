import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { CommandRecord, StepOutput, VerifyOutcome } from '../../common/step';

// The engine tier's stand-in activities: real activities, run by a real worker, whose only side
// effect is a line appended to a log file, so a test reads exactly what ran and in which order. They
// stand in for the SSH activities of real runbooks; the engine cannot tell the difference.

/** What an activity did, as the audit keeps a command: the "command" is the line it appended. */
function record(line: string, exitCode = 0): CommandRecord {
  return { host: 'stand-in', command: `append ${JSON.stringify(line)}`, exitCode, startedAt: new Date().toISOString(), durationMs: 0, stdoutTail: line, stderrTail: '', truncated: false };
}

function append(log: string, line: string): CommandRecord {
  appendFileSync(log, `${line}\n`);
  return record(line);
}

/**
 * A step's act. Attempt n appends "<step> attempt <n>"; the first `failTimes` attempts fail retryably
 * (with the command record as the failure's detail, as the SSH layer does), and `fatal` fails it for
 * good. Returns the attempt that succeeded.
 */
export async function standInAct(log: string, step: string, attempt: number, failTimes: number, fatal: boolean): Promise<StepOutput<number>> {
  const line = `${step} attempt ${attempt}`;
  const done = append(log, line);
  if (fatal) throw ApplicationFailure.create({ message: `${step} failed on purpose`, type: 'StandInFatal', nonRetryable: true, details: [record(line, 3)] });
  if (attempt <= failTimes) throw ApplicationFailure.create({ message: `${step} attempt ${attempt} failed on purpose`, type: 'StandInFlaky', details: [record(line, 1)] });
  return { value: attempt, commands: [done] };
}

/** A long act that heartbeats, so a cancellation reaches it; a cancelled one appends "<step> cut short". */
export async function standInSlowAct(log: string, step: string, ms: number): Promise<StepOutput<number>> {
  const done = append(log, `${step} started`);
  const ctx = Context.current();
  const until = Date.now() + ms;
  try {
    while (Date.now() < until) {
      ctx.heartbeat();
      await ctx.sleep(50);
    }
  } catch (err) {
    if (err instanceof CancelledFailure) append(log, `${step} cut short`);
    throw err;
  }
  append(log, `${step} finished`);
  return { value: 1, commands: [done] };
}

/** The read-only check after an act: fails the first `failTimes` times it is asked. */
export async function standInVerify(log: string, step: string, attempt: number, failTimes: number): Promise<StepOutput<VerifyOutcome>> {
  const ok = attempt > failTimes;
  append(log, `${step} verify ${attempt} ${ok ? 'ok' : 'bad'}`);
  return { value: { ok, detail: ok ? 'as expected' : `not yet (verify ${attempt})` }, commands: [] };
}

export async function standInUndo(log: string, step: string, fail: boolean): Promise<StepOutput<null>> {
  const done = append(log, `undo ${step}`);
  if (fail) throw ApplicationFailure.create({ message: `undo of ${step} failed on purpose`, type: 'StandInUndoFailed', nonRetryable: true });
  return { value: null, commands: [done] };
}

export async function standInSettle(log: string, step: string): Promise<StepOutput<null>> {
  return { value: null, commands: [append(log, `settle ${step}`)] };
}

/** Read-only: what the log holds so far (plan mode runs it too). */
export async function standInReadLog(log: string): Promise<StepOutput<string[]>> {
  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  return { value: lines, commands: [] };
}

/** Activities that only read: the only ones a plan-mode run may schedule. */
export const READ_ONLY_STAND_INS = ['standInReadLog'];
