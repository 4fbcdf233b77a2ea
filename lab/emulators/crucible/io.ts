// Where a command writes: the process's stdout/stderr when run as a tool, buffers in tests.

export interface Io {
  out(s: string): void;
  err(s: string): void;
  env: Record<string, string | undefined>;
}

export const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
};

/** What a failing Rust main prints for an anyhow error: `Error: <message>` on stderr, exit 1. */
export class CommandError extends Error {}
