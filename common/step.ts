import { z } from 'zod';

// Shapes shared by workflow code and activities (and the CLI). This module imports neither side, so
// activities never import workflow code and workflows never import activity code. The records that
// end up in the audit log are zod schemas (the audit's single source, see audit.ts); the types are
// inferred from them.

/** One remote command as the audit log keeps it: what ran, how it ended, and the end of its output. */
export const commandRecordSchema = z.object({
  host: z.string(),
  /** The command with secrets shown as ***. */
  command: z.string(),
  exitCode: z.number().nullable(),
  /** Set when the remote process died of a signal (e.g. after a cancellation). */
  signal: z.string().optional(),
  startedAt: z.string(),
  durationMs: z.number(),
  stdoutTail: z.string(),
  stderrTail: z.string(),
  /** True when a tail was cut to its cap. */
  truncated: z.boolean(),
  timedOut: z.boolean().optional(),
  cancelled: z.boolean().optional(),
});
export type CommandRecord = z.infer<typeof commandRecordSchema>;

/** A mutation a plan would make: where, why, and the exact commands. */
export const plannedMutationSchema = z.object({
  step: z.string(),
  host: z.string().optional(),
  description: z.string(),
  commands: z.array(z.string()),
});
export type PlannedMutation = z.infer<typeof plannedMutationSchema>;

/** Every step activity returns its value and the commands it ran, so the engine can audit them. */
export interface StepOutput<T> {
  value: T;
  commands: CommandRecord[];
}

/** A mutating step's read-only check after its act: a failed verify fails the attempt. */
export interface VerifyOutcome {
  ok: boolean;
  detail: string;
}
