import { z } from 'zod';
import { stepNameSchema } from './identifiers';

// The options every runbook input accepts, and how a zod error is told to an operator. Shared by the
// runbook schemas (runbooks/), the engine that validates a run's input, and the CLI that validates it
// before starting a run; no Temporal import, so any side can use it.

export const durationSchema = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 90s, 30m, 24h');

/** Options every runbook accepts next to its own fields. */
export const commonInputFields = {
  mode: z.enum(['apply', 'plan']).default('apply').describe('plan: schedule only read-only activities and return the mutations with their exact commands'),
  approve: z.array(stepNameSchema).default([]).describe('steps approved in advance, for scripted runs'),
  approvalTimeout: durationSchema.default('24h').describe('how long an approval gate waits before the run fails (and compensates)'),
  /**
   * steps: every step without its commands, which stay in this run's own history (activity results)
   * and in the `audit` query; for runs whose result lands in a parent's history, such as a sweep's
   * children, where thousands of full logs would swell it.
   */
  resultAudit: z
    .enum(['full', 'steps'])
    .default('full')
    .describe("how much of the audit log the result carries: full (every step with its commands) or steps (without commands, which stay in the run's history)"),
};

export const commonInputSchema = z.object(commonInputFields);
export type CommonInput = z.infer<typeof commonInputSchema>;

/** Every problem as "path: what is wrong", one per line, in the order zod found them. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length
      ? issue.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
          .join('.')
          .replace(/\.\[/g, '[')
      : '(input)';
    return `${where}: ${issue.message}`;
  });
}
