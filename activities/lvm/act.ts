import { ApplicationFailure } from '@temporalio/common';
import type { ShellCommand } from '../ssh/command';
import type { RemoteRunOptions, RemoteRunResult } from '../ssh/exec';
import type { HostSession } from '../ssh/session';

export const COMMAND_UNAVAILABLE = 'CommandUnavailable';

/**
 * Run a mutating command and throw unless it succeeds, as session.check does; but a command the
 * shell cannot find or execute (exit 127 or 126) fails without retries: waiting will not install it.
 */
export async function act(session: HostSession, command: ShellCommand, opts: RemoteRunOptions & { what?: string } = {}): Promise<RemoteRunResult> {
  try {
    return await session.check(command, opts);
  } catch (err) {
    const record = session.commands.at(-1);
    if (record && (record.exitCode === 126 || record.exitCode === 127)) {
      throw ApplicationFailure.create({
        message: `${opts.what ?? record.command} on ${record.host}: the command is ${record.exitCode === 127 ? 'not installed' : 'not executable'} there (exit ${record.exitCode}): ${record.stderrTail.trim().slice(-300)}`,
        type: COMMAND_UNAVAILABLE,
        nonRetryable: true,
        details: [record],
      });
    }
    throw err;
  }
}
