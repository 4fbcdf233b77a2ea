// Exit codes a script can rely on.
export const EXIT = {
  ok: 0,
  /** The run failed, was cancelled, terminated or timed out (or an approval was refused). */
  runFailed: 1,
  /** Bad usage or bad input: nothing was started. */
  usage: 2,
  /** Temporal (or the lab) could not be reached. */
  unavailable: 3,
  /** No such workflow. */
  notFound: 4,
  /**
   * The run completed, but its result names targets that need an operator (refused or failed
   * projects, unreachable hosts: the result's `needsOperator`, printed with each remedy).
   */
  needsOperator: 5,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
