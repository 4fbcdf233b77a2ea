/**
 * Output from `zfs`/`zpool` that does not have the shape we asked for. It names the command's form and
 * the offending line, because the usual cause is a ZFS version printing something new, and the fix is
 * to capture that output as a fixture under test/fixtures/zfs/ and teach the parser.
 */
export class ZfsOutputError extends Error {
  constructor(
    readonly what: string,
    readonly lineNumber: number,
    readonly line: string,
    readonly reason: string,
  ) {
    super(`unexpected ${what} output at line ${lineNumber} (${reason}): ${JSON.stringify(line.length > 300 ? `${line.slice(0, 300)}…` : line)}`);
    this.name = 'ZfsOutputError';
  }
}

/** Split command output into lines without the trailing empty line and without Windows line ends. */
export function outputLines(stdout: string): string[] {
  const lines = stdout.replace(/\r\n/g, '\n').split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
