import { ApplicationFailure } from '@temporalio/common';
import type { CommandRecord } from '../../workflows/engine/types';
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
  tailChars?: number;
}

export interface RemoteRunResult {
  stdout: string;
  stderr: string;
  record: CommandRecord;
}

const TERM_GRACE_MS = 2_000;

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
  const channel = await pool.exec(host, command.text);

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
    keep(stdout, chunk, stdoutBytes);
    lastLine = lastNonEmptyLine(chunk) ?? lastLine;
    opts.onStdout?.(chunk);
  });
  channel.stderr.on('data', (chunk: Buffer) => {
    stderrBytes += chunk.length;
    keep(stderr, chunk, stderrBytes);
    lastLine = lastNonEmptyLine(chunk) ?? lastLine;
    opts.onStderr?.(chunk);
  });

  const stop = () => {
    // OpenSSH delivers "signal" channel requests to the session's process; closing the channel
    // afterwards makes sure nothing of ours keeps the connection busy.
    channel.signal('TERM');
    setTimeout(() => {
      channel.signal('KILL');
      channel.close();
    }, TERM_GRACE_MS).unref();
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
  const progress = opts.onProgress
    ? setInterval(() => opts.onProgress!({ elapsedMs: Date.now() - started, stdoutBytes, stderrBytes, lastLine }), opts.progressIntervalMs ?? 1_000)
    : undefined;

  if (opts.stdin !== undefined) channel.end(opts.stdin);
  else channel.end();

  const { code, signal } = await new Promise<{ code: number | null; signal?: string }>((resolve) => {
    let exit: { code: number | null; signal?: string } = { code: null };
    channel.on('exit', (code: number | null, signalName?: string) => {
      exit = { code: code ?? null, signal: signalName ?? undefined };
    });
    channel.on('close', () => resolve(exit));
  });
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
    truncated: outTail.truncated || errTail.truncated || stdoutBytes > maxCapture || stderrBytes > maxCapture,
    ...(timedOut ? { timedOut } : {}),
    ...(cancelled ? { cancelled } : {}),
  };
  return { stdout: out, stderr: err, record };
}

function lastNonEmptyLine(chunk: Buffer): string | undefined {
  const lines = chunk.toString('utf8').split(/[\r\n]+/).filter((l) => l.trim() !== '');
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
