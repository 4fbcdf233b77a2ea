// Shapes shared by workflow code and activities (and the CLI). Pure types: this module imports neither
// side, so activities never import workflow code and workflows never import activity code.

/** One remote command as the audit log keeps it: what ran, how it ended, and the end of its output. */
export interface CommandRecord {
  host: string;
  /** The command with secrets shown as ***. */
  command: string;
  exitCode: number | null;
  /** Set when the remote process died of a signal (e.g. after a cancellation). */
  signal?: string;
  startedAt: string;
  durationMs: number;
  stdoutTail: string;
  stderrTail: string;
  /** True when a tail was cut to its cap. */
  truncated: boolean;
  timedOut?: boolean;
  cancelled?: boolean;
}

/** Every step activity returns its value and the commands it ran, so the engine can audit them. */
export interface StepOutput<T> {
  value: T;
  commands: CommandRecord[];
}

/** A mutation a plan would make: where, why, and the exact commands. */
export interface PlannedMutation {
  step: string;
  host?: string;
  description: string;
  commands: string[];
}

/** A mutating step's read-only check after its act: a failed verify fails the attempt. */
export interface VerifyOutcome {
  ok: boolean;
  detail: string;
}
