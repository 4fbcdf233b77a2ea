import { existsSync, readFileSync } from 'node:fs';
import { describeIssues } from '../common/input';
import type { CatalogEntry } from '../runbooks/catalog';
import { CliError, EXIT } from './exit-codes';

/** --input takes a JSON object or a file holding one. */
export function readInputArgument(arg: string | undefined): Record<string, unknown> {
  if (arg === undefined)
    throw new CliError('--input is required: a JSON object or a file holding one (see runbooks/<name>/examples/), or --input-from <workflowId> for the next runbook of a chain', EXIT.usage);
  const text = arg.trim().startsWith('{') ? arg : existsSync(arg) ? readFileSync(arg, 'utf8') : undefined;
  if (text === undefined) throw new CliError(`--input ${arg}: neither a JSON object nor an existing file`, EXIT.usage);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`--input is not valid JSON: ${(err as Error).message}`, EXIT.usage);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError('--input must be one JSON object', EXIT.usage);
  return value as Record<string, unknown>;
}

/** The same validation the workflow does, before anything is started, so a typo costs no run. */
export function validateLocally(entry: CatalogEntry, input: Record<string, unknown>): void {
  const result = entry.schema.safeParse(input);
  if (!result.success) {
    const problems = describeIssues(result.error);
    throw new CliError(`invalid input for ${entry.name}: ${problems.length} problem(s):\n- ${problems.join('\n- ')}`, EXIT.usage);
  }
}
