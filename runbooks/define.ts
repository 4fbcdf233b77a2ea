import type { z } from 'zod';
import type { CommonInput } from '../common/input';

/**
 * The one definition of a runbook: the workflow passes it to `Runbook.run`, the catalog lists it, and
 * the CLI and the docs read it. Nothing about a runbook is written twice.
 */
export interface RunbookDefinition<S extends z.ZodType<CommonInput> = z.ZodType<CommonInput>> {
  /** The workflow type: what the UI's Start Workflow form and `temporal workflow start --type` take. */
  name: string;
  /** One line for `runbook list-runbooks`, the README table and the docs. */
  summary: string;
  schema: S;
  /** The hosts (or other named targets) a run touches, for search attributes, the summary and a default id. */
  targets: (input: z.infer<S>) => string[];
  /** Targets that are inventory hosts, resolved (and checked) before any other step. Default: all targets. */
  hosts?: (input: z.infer<S>) => string[];
  /** A fixed workflow id makes the id a lock (one run per project, one guard per volume). */
  workflowId?: (input: z.infer<S>) => string;
}

export function defineRunbook<S extends z.ZodType<CommonInput>>(definition: RunbookDefinition<S>): RunbookDefinition<S> {
  return definition;
}
