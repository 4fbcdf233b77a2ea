import { ApplicationFailure } from '@temporalio/common';
import type { CommandRecord } from '../../common/step';
import type { ShellCommand } from './command';
import { COMMAND_FAILED, COMMAND_TIMED_OUT } from './errors';
import type { SshPool } from './pool';
import { redact, tail } from './redact';

export interface RemoteRunOptions {
  /** Per-command limit; the remote command is stopped when it passes. */
  timeoutMs?: number;
  stdin?: string | Buffer;
  /** Exit codes that count as success (default [0]). */
  okExitCodes?: number[];
  /** Stop the remote command when this fires (an activity's cancellation signal). */
  signal?: AbortSignal;
  /** Called at most every `progressIntervalMs` while the command runs (activity heartbeats). */
  onProgress?: (p: { elapsedMs: number; stdoutBytes: number; stderrBytes: number; lastLine: string }) => void;
  progressIntervalMs?: number;
  /** Streaming consumers (e.g. pvmove's progress lines). */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Full output kept for parsing; tails in the record are much smaller. */
  maxCaptureBytes?: number;
  /** Stdout goes to onStdout only, none of it kept (output parsed as it streams, too big to hold). */
  discardStdout?: boolean;
  tailChars?: number;
}

export interface RemoteRunResult {
  stdout: string;
  stderr: string;
  record: CommandRecord;
}

const TERM_GRACE_MS = 2_000;

// sshd makes each session's shell a process-group leader, and OpenSSH refuses "signal" requests for
// root sessions ("session signalling requires privilege separation"). So every command first reports
// its process group on stderr, and stopping it means `kill -- -<pgid>` over a second channel.
const PGID_MARK = '\x1erbpgid:';
const PGID_END = '\x1e';
export const PGID_PREFIX = `printf '\\036rbpgid:%s\\036' "$$" >&2; `;

/** Strips the process-group report from the start of stderr. Exported for streams (activities/zfs-replication). */
export class PgidReader {
  pgid?: number;
  private pending: Buffer | undefined = Buffer.alloc(0);

  /** Returns the stderr bytes that belong to the command. */
  feed(chunk: Buffer): Buffer {
    if (!this.pending) return chunk;
    const buf = Buffer.concat([this.pending, chunk]);
    const text = buf.toString('latin1');
    if (!text.startsWith(PGID_MARK.slice(0, Math.min(PGID_MARK.length, text.length)))) {
      this.pending = undefined; // not our report (a shell that printed first): pass through
      return buf;
    }
    const end = text.indexOf(PGID_END, PGID_MARK.length);
    if (end < 0) {
      if (buf.length > 64) {
        this.pending = undefined;
        return buf;
      }
      this.pending = buf;
      return Buffer.alloc(0);
    }
    this.pgid = Number(text.slice(PGID_MARK.length, end));
    this.pending = undefined;
    return buf.subarray(end + PGID_END.length);
  }
}

/**
 * Run one command on a host over the pooled connection. Output streams in; the record keeps redacted
 * tails for the audit log. A timeout or a cancellation sends TERM, then KILL, to the remote process.
 */
export async function runRemote(pool: SshPool, host: string, command: ShellCommand, opts: RemoteRunOptions = {}): Promise<RemoteRunResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const maxCapture = opts.maxCaptureBytes ?? 64 * 1024 * 1024;
  const tailChars = opts.tailChars ?? 4_096;
  const startedAt = new Date();
  const started = Date.now();
  const { channel, exit } = await pool.exec(host, PGID_PREFIX + command.text);
  const pgidReader = new PgidReader();

  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let stdoutBytes = 0;
  let stderrBytes = 0;
  let lastLine = '';
  let timedOut = false;
  let cancelled = false;

  const keep = (into: Buffer[], chunk: Buffer, size: number) => {
    if (size <= maxCapture) into.push(chunk);
  };
  channel.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
    if (!opts.discardStdout) keep(stdout, chunk, stdoutBytes);
    lastLine = lastNonEmptyLine(chunk) ?? lastLine;
    opts.onStdout?.(chunk);
  });
  channel.stderr.on('data', (raw: Buffer) => {
    const chunk = pgidReader.feed(raw);
    if (chunk.length === 0) return;
    stderrBytes += chunk.length;
    keep(stderr, chunk, stderrBytes);
    lastLine = lastNonEmptyLine(chunk) ?? lastLine;
    opts.onStderr?.(chunk);
  });

  let closed = false;
  const stop = () => {
    const pgid = pgidReader.pgid;
    if (pgid && pgid > 1) {
      const kill = `kill -TERM -- -${pgid} 2>/dev/null; sleep ${TERM_GRACE_MS / 1000}; kill -KILL -- -${pgid} 2>/dev/null; true`;
      pool.exec(host, kill).then(
        ({ channel: c }) => c.resume().end(),
        () => undefined,
      );
    } else channel.signal('TERM'); // no report yet: the best we can do (works for non-root sessions)
    setTimeout(() => {
      if (!closed) channel.close();
    }, TERM_GRACE_MS + 1_000).unref();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutMs);
  const onAbort = () => {
    cancelled = true;
    stop();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const progress = opts.onProgress ? setInterval(() => opts.onProgress!({ elapsedMs: Date.now() - started, stdoutBytes, stderrBytes, lastLine }), opts.progressIntervalMs ?? 1_000) : undefined;

  if (opts.stdin !== undefined) channel.end(opts.stdin);
  else channel.end();

  const { code, signal } = await exit;
  closed = true;
  clearTimeout(timer);
  if (progress) clearInterval(progress);
  opts.signal?.removeEventListener('abort', onAbort);

  const out = Buffer.concat(stdout).toString('utf8');
  const err = Buffer.concat(stderr).toString('utf8');
  const outTail = tail(redact(out), tailChars);
  const errTail = tail(redact(err), tailChars);
  const record: CommandRecord = {
    host,
    command: redact(command.display),
    exitCode: code,
    ...(signal ? { signal } : {}),
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - started,
    stdoutTail: outTail.text,
    stderrTail: errTail.text,
    truncated: outTail.truncated || errTail.truncated || opts.discardStdout === true || stdoutBytes > maxCapture || stderrBytes > maxCapture,
    ...(timedOut ? { timedOut } : {}),
    ...(cancelled ? { cancelled } : {}),
  };
  return { stdout: out, stderr: err, record };
}

function lastNonEmptyLine(chunk: Buffer): string | undefined {
  const lines = chunk
    .toString('utf8')
    .split(/[\r\n]+/)
    .filter((l) => l.trim() !== '');
  return lines.at(-1)?.slice(0, 200);
}

/** Throw a failure carrying the command record (so the engine audits it) unless the command succeeded. */
export function assertSucceeded(result: RemoteRunResult, okExitCodes: number[] = [0], what?: string): RemoteRunResult {
  const { record } = result;
  if (record.timedOut) {
    throw ApplicationFailure.create({
      message: `${what ?? record.command} on ${record.host} timed out after ${record.durationMs} ms`,
      type: COMMAND_TIMED_OUT,
      details: [record],
    });
  }
  if (record.exitCode === null || !okExitCodes.includes(record.exitCode)) {
    const lastErr = record.stderrTail.trim().split('\n').slice(-3).join(' | ');
    throw ApplicationFailure.create({
      message: `${what ?? record.command} on ${record.host} failed (exit ${record.exitCode ?? record.signal ?? 'none'})${lastErr ? `: ${lastErr}` : ''}`,
      type: COMMAND_FAILED,
      details: [record],
    });
  }
  return result;
}
