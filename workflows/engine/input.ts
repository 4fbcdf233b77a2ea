import { ApplicationFailure } from '@temporalio/workflow';
import { z } from 'zod';
import { stepNameSchema } from './identifiers';

export const INVALID_INPUT = 'InvalidInput';

const durationSchema = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 90s, 30m, 24h');

/** Options every runbook accepts next to its own fields. */
export const commonInputFields = {
  /** plan: schedule only read-only activities and return the mutations with their exact commands. */
  mode: z.enum(['apply', 'plan']).default('apply'),
  /** Steps approved in advance, for scripted runs. */
  approve: z.array(stepNameSchema).default([]),
  /** How long an approval gate waits before the run fails (and compensates). */
  approvalTimeout: durationSchema.default('24h'),
  /**
   * How much of the audit log the result (or failure) carries. full: every step with its commands.
   * steps: every step without its commands, which stay in this run's own history (activity results)
   * and in the `audit` query; for runs whose result lands in a parent's history, such as a sweep's
   * children, where thousands of full logs would swell it.
   */
  resultAudit: z.enum(['full', 'steps']).default('full'),
};

export const commonInputSchema = z.object(commonInputFields);
export type CommonInput = z.infer<typeof commonInputSchema>;

/** Every problem as "path: what is wrong", one per line, in the order zod found them. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') : '(input)';
    return `${where}: ${issue.message}`;
  });
}

/**
 * Validate the one JSON object a runbook is started with. Bad input fails the run at once, before any
 * activity, with one non-retryable error that lists every problem.
 */
export function parseRunbookInput<S extends z.ZodType>(runbook: string, schema: S, raw: unknown): z.infer<S> {
  if (raw === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw ApplicationFailure.nonRetryable(
      `invalid input for ${runbook}: expected one JSON object, got ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : typeof raw}`,
      INVALID_INPUT,
    );
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const problems = describeIssues(result.error);
  throw ApplicationFailure.nonRetryable(
    `invalid input for ${runbook}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n- ${problems.join('\n- ')}`,
    INVALID_INPUT,
    { problems },
  );
}
