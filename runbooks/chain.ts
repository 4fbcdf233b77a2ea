import { z } from 'zod';

// The storage sled's chain (DESIGN.md "One storage sled, three runbooks in a chain"):
// maasRepartition → seedRegions → liveMigrate, each run's result the next one's input, so no operator
// copies a mountpoint, a port or a geometry by hand. A link maps what the earlier run was given and
// what it returned, plus what only the operator knows (`given`), to the next runbook's input. Pure:
// the CLI's `runbook start <runbook> --input-from <workflowId>` and the tests call the same functions,
// and the next runbook's schema still validates the outcome.

/** The finished run a link reads: its input (as started) and its result (the RunbookResult or its value). */
export interface ChainSource {
  input: unknown;
  result: unknown;
}

export class ChainInputError extends Error {}

/** A RunbookResult's `value`, or the value itself (an operator may paste either). */
export function resultValue(result: unknown): unknown {
  if (typeof result === 'object' && result !== null && 'runbook' in result && 'value' in result && 'outcome' in result) return (result as { value: unknown }).value;
  return result;
}

/** Parse one side of a finished run with `schema`, or say what is missing in the operator's words. */
export function readSource<T>(what: string, schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top)'}: ${i.message}`);
  throw new ChainInputError(`${what} is not what this link reads: ${problems.join('; ')}`);
}
