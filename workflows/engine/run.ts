import { allHandlersFinished, ApplicationFailure, condition, ContinueAsNew, isCancellation, upsertSearchAttributes } from '@temporalio/workflow';
import type { z } from 'zod';
import type { CommonInput } from '../../common/input';
import type { RunbookDefinition } from '../../runbooks/define';
import { parseRunbookInput } from './input';
import { describeError } from './retry';
import type { CarriedAudit } from './recorder';
import type { Runbook } from './runbook';
import { RunbookName, RunbookOutcome, RunbookTargets } from './search-attributes';
import { RUNBOOK_FAILED, type RunbookResult } from './steps';

export interface RunOptions {
  /** For a runbook that continues as new: the audit its previous run carried over, read from the raw input. */
  carried?: (rawInput: unknown) => CarriedAudit | undefined;
}

/**
 * A run from input to outcome: install the handlers, validate the input (bad input fails at once,
 * before any activity), resolve the hosts, run the body; on failure or cancellation compensate; and
 * always leave the audit log, the step table and the outcome search attribute right.
 */
export async function runLifecycle<S extends z.ZodType<CommonInput>, R>(
  rb: Runbook<z.infer<S>>,
  definition: RunbookDefinition<S>,
  rawInput: unknown,
  body: (rb: Runbook<z.infer<S>>, input: z.infer<S>) => Promise<R>,
  options: RunOptions = {},
): Promise<RunbookResult<R>> {
  const recorder = rb.recording;
  const carried = options.carried?.(rawInput);
  if (carried) recorder.carryOver(carried);
  rb.installHandlers();
  upsertSearchAttributes([
    { key: RunbookName, value: definition.name },
    { key: RunbookOutcome, value: 'running' },
  ]);
  let input: z.infer<S>;
  try {
    input = parseRunbookInput(definition.name, definition.schema, rawInput);
  } catch (err) {
    recorder.setOutcome('failed', (err as Error).message);
    throw err;
  }
  rb.input = input;
  rb.audit.mode = input.mode;
  rb.audit.targets = [...new Set(definition.targets(input))];
  if (rb.audit.targets.length) upsertSearchAttributes([{ key: RunbookTargets, value: rb.audit.targets }]);
  recorder.render();
  try {
    await rb.resolveHosts(definition.hosts ? definition.hosts(input) : rb.audit.targets);
    const value = await body(rb, input);
    recorder.setOutcome(rb.planning ? 'planned' : 'succeeded');
    await condition(allHandlersFinished);
    return { runbook: definition.name, outcome: rb.planning ? 'planned' : 'succeeded', value, planned: rb.audit.planned, audit: rb.resultAudit() };
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err; // the run goes on as a new one: neither a failure nor an outcome
    const cancelled = isCancellation(err);
    const compensationFailures = await rb.compensate();
    const reason = describeError(err).message;
    const failedStep = [...rb.audit.steps].reverse().find((s) => s.kind !== 'compensate' && (s.status === 'failed' || s.status === 'cancelled'));
    const message =
      `${definition.name} ${cancelled ? 'was cancelled' : 'failed'}${failedStep ? ` at step ${failedStep.name}` : ''}: ${reason}` +
      (compensationFailures.length ? `; MANUAL ACTION NEEDED: ${compensationFailures.join('; ')}` : '');
    recorder.setOutcome(cancelled ? 'cancelled' : 'failed', message);
    if (cancelled) throw err;
    throw ApplicationFailure.create({ message, type: RUNBOOK_FAILED, nonRetryable: true, details: [rb.resultAudit()] });
  }
}
