import { appendFileSync } from 'node:fs';

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

/** The lab's record of what ran (CRUCIBLE_EMU_LOG, pinned by the wrapper): tests count creates and starts from it. */
export function logCommand(io: Io, line: string): void {
  const file = io.env.CRUCIBLE_EMU_LOG;
  if (!file) return;
  try {
    appendFileSync(file, `${new Date().toISOString()} pid=${process.pid} ${line}\n`);
  } catch {
    /* the log is for tests; a tool must not fail over it */
  }
}
