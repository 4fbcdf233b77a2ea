import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeIssues } from '../../common/input';

export const INVALID_INPUT = 'InvalidInput';

/**
 * Validate the one JSON object a runbook is started with. Bad input fails the run at once, before any
 * activity, with one non-retryable error that lists every problem.
 */
export function parseRunbookInput<S extends z.ZodType>(runbook: string, schema: S, raw: unknown): z.infer<S> {
  if (raw === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw ApplicationFailure.nonRetryable(`invalid input for ${runbook}: expected one JSON object, got ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : typeof raw}`, INVALID_INPUT);
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const problems = describeIssues(result.error);
  throw ApplicationFailure.nonRetryable(`invalid input for ${runbook}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n- ${problems.join('\n- ')}`, INVALID_INPUT, { problems });
}
