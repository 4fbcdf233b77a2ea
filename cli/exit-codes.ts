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
} as const;

export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}
