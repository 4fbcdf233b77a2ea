import type { ClientChannel } from 'ssh2';
import type { CommandRecord } from '../../common/step';
import { sh, type ShellCommand } from '../ssh/command';
import { PGID_PREFIX, PgidReader } from '../ssh/exec';
import type { ExitStatus, SshPool } from '../ssh/pool';
import { redact, tail } from '../ssh/redact';

// A remote command whose stdin or stdout is a byte stream (zfs send / zfs recv), as opposed to
// runRemote's captured text. It reports its process group the way runRemote's commands do, because
// OpenSSH refuses "signal" requests for root sessions: stopping it is `kill -- -<pgid>` over a second
// channel, plus EOF on its stdin (a zfs-fuse receive is done by the daemon, which reads the pipe
// until EOF even when the `zfs recv` client is gone) and closing the channel.

const TERM_GRACE_MS = 2_000;
const STDERR_CAP = 64 * 1024;

export interface RemoteProcess {
  readonly host: string;
  readonly command: ShellCommand;
  /** The raw channel: readable = the command's stdout, writable = its stdin. */
  readonly channel: ClientChannel;
  /** Settles when the channel closes; code null when the command never reported an exit status (a cut connection). */
  readonly exit: Promise<ExitStatus>;
  stderr(): string;
  /** Stop the command (idempotent): EOF on stdin, TERM then KILL to its process group, then close the channel. */
  stop(why: string): void;
  stoppedBecause(): string | undefined;
  record(extra?: Partial<CommandRecord>): CommandRecord;
}

/**
 * Run before a stream's receiver: its stdin, the pipe sshd fills one SSH packet at a time, grows
 * from the kernel's 64 KiB to 1 MiB (F_SETPIPE_SZ, 1031 on Linux; 1 MiB is the most a pipe gets
 * without privileges, /proc/sys/fs/pipe-max-size), so zfs recv's daemon reads in larger gulps:
 * bench/zfs-stream.ts measured streams 10% faster and the replica host's CPU per GiB 15% lower.
 * Best effort: perl-base is essential on Debian and Ubuntu, and where perl is missing or the kernel
 * refuses, the stream runs on the default pipe.
 */
const LARGE_STDIN_PIPE = `${sh`perl -e ${'fcntl(STDIN, 1031, 1 << 20)'}`.text} 2>/dev/null; `;

export interface StartOptions {
  /** Give the command's stdin a 1 MiB pipe first (LARGE_STDIN_PIPE); for the receiving side of a stream. */
  largeStdinPipe?: boolean;
}

export async function startRemoteProcess(pool: SshPool, host: string, command: ShellCommand, opts: StartOptions = {}): Promise<RemoteProcess> {
  const startedAt = new Date();
  const { channel, exit } = await pool.exec(host, PGID_PREFIX + (opts.largeStdinPipe ? LARGE_STDIN_PIPE : '') + command.text);
  const pgid = new PgidReader();
  const errChunks: Buffer[] = [];
  let errBytes = 0;
  channel.stderr.on('data', (rawChunk: Buffer) => {
    const chunk = pgid.feed(rawChunk);
    if (chunk.length === 0 || errBytes > STDERR_CAP) return;
    errBytes += chunk.length;
    errChunks.push(chunk);
  });
  // A cut connection makes ssh2 emit errors on open channels; the exit promise reports it.
  channel.on('error', () => undefined);
  let closed = false;
  let stopped: string | undefined;
  let status: ExitStatus | undefined;
  const done = exit.then((s) => {
    closed = true;
    status = s;
    return s;
  });
  const stderrText = () => Buffer.concat(errChunks).toString('utf8');
  return {
    host,
    command,
    channel,
    exit: done,
    stderr: stderrText,
    stoppedBecause: () => stopped,
    stop(why: string) {
      if (stopped !== undefined || closed) return;
      stopped = why;
      // Discard whatever it still prints: ssh2 emits 'close' only after the readable side has ended.
      channel.unpipe();
      channel.resume();
      try {
        channel.end(); // EOF: a receive sees a truncated stream and applies nothing
      } catch {
        /* already ended */
      }
      const group = pgid.pgid;
      if (group && group > 1) {
        const kill = `kill -TERM -- -${group} 2>/dev/null; sleep ${TERM_GRACE_MS / 1000}; kill -KILL -- -${group} 2>/dev/null; true`;
        // The host may be the unreachable one: then its sshd already ended the session, and with it the command.
        pool.exec(host, kill).then(
          ({ channel: c }) => c.resume().end(),
          () => undefined,
        );
      }
      setTimeout(() => {
        if (!closed) channel.close();
      }, TERM_GRACE_MS + 1_000).unref();
    },
    record(extra: Partial<CommandRecord> = {}): CommandRecord {
      const err = tail(redact(stderrText()), 2_000);
      return {
        host,
        command: redact(command.display),
        exitCode: status?.code ?? null,
        ...(status?.signal ? { signal: status.signal } : {}),
        startedAt: startedAt.toISOString(),
        durationMs: Date.now() - startedAt.getTime(),
        stdoutTail: '',
        stderrTail: err.text,
        truncated: err.truncated,
        ...(stopped ? { cancelled: true } : {}),
        ...extra,
      };
    },
  };
}
