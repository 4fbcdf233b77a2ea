import { Transform, type TransformCallback } from 'node:stream';
import type { CommandRecord } from '../../common/step';
import type { ShellCommand } from '../ssh/command';
import type { ExitStatus, SshPool } from '../ssh/pool';
import { startRemoteProcess, type RemoteProcess } from './remote-process';

// Pipes one host's command stdout (zfs send) into another host's command stdin (zfs recv) through
// this worker: two ssh2 channels joined with pipe(), so a slow receiver pauses the sender end to end
// (ssh2 stops granting window to the sending sshd, whose pipe fills, which blocks `zfs send`). The
// stream never touches disk here and never holds more than a few channel windows in memory.
//
// Whatever ends the transfer early (a cancelled activity, a timeout, either connection cut, either
// side failing), BOTH remote commands are stopped: the receiver gets EOF mid-stream, so `zfs recv`
// rejects the truncated stream and leaves the replica at its previous snapshot; the sender's group is
// killed so no `zfs send` keeps a snapshot busy.

/** How long one side may go on after the other ended (see armTail). */
const TAIL_GRACE_MS = 30_000;

export interface PipeProgress {
  bytes: number;
  elapsedMs: number;
  bytesPerSecond: number;
}

export interface PipeOptions {
  from: { host: string; command: ShellCommand };
  to: { host: string; command: ShellCommand };
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Average rate cap, bytes per second (syncoid's --target-bwlimit); none by default. */
  bytesPerSecond?: number;
  onProgress?: (p: PipeProgress) => void;
  progressIntervalMs?: number;
  /** The receiver's stdin grows to 1 MiB first (remote-process.ts LARGE_STDIN_PIPE); default true. */
  largeReceivePipe?: boolean;
}

export interface PipeResult {
  bytes: number;
  durationMs: number;
  sender: CommandRecord;
  receiver: CommandRecord;
  senderExit: ExitStatus;
  receiverExit: ExitStatus;
  senderStderr: string;
  receiverStderr: string;
  /** Why the transfer was stopped early, if it was. */
  stopped?: string;
  timedOut: boolean;
  cancelled: boolean;
}

/** Counts bytes and, when asked, holds chunks back so the average rate stays under a cap. */
class Meter extends Transform {
  bytes = 0;
  private readonly started = Date.now();

  constructor(private readonly bytesPerSecond?: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (!this.bytesPerSecond) return done(null, chunk);
    const due = this.started + (this.bytes / this.bytesPerSecond) * 1000;
    const wait = due - Date.now();
    if (wait <= 0) return done(null, chunk);
    setTimeout(() => done(null, chunk), wait);
  }
}

export async function pipeBetweenHosts(pool: SshPool, opts: PipeOptions): Promise<PipeResult> {
  const started = Date.now();
  // Open the receiver first: if the replica is unreachable nothing is sent at all.
  const receiver = await startRemoteProcess(pool, opts.to.host, opts.to.command, { largeStdinPipe: opts.largeReceivePipe ?? true });
  let sender: RemoteProcess;
  try {
    sender = await startRemoteProcess(pool, opts.from.host, opts.from.command);
  } catch (err) {
    receiver.stop(`the sender on ${opts.from.host} could not start`);
    await receiver.exit;
    throw err;
  }
  // Without a rate cap the channels are joined directly and a 'data' listener counts the bytes: one
  // stream hop less per 32 KiB packet (bench/zfs-stream.ts measures both). pipe() still pauses the
  // sender whenever the receiver's channel is full, so backpressure is unchanged.
  const counted = { bytes: 0 };
  const meter = opts.bytesPerSecond ? new Meter(opts.bytesPerSecond) : null;
  if (meter) {
    meter.on('error', () => undefined);
    sender.channel.pipe(meter).pipe(receiver.channel);
  } else {
    sender.channel.on('data', (chunk: Buffer) => {
      counted.bytes += chunk.length;
    });
    sender.channel.pipe(receiver.channel);
  }
  const bytesSoFar = () => meter?.bytes ?? counted.bytes;
  // zfs recv prints nothing on stdout, but ssh2 emits a channel's 'close' only once its readable side
  // has ended, so it is drained.
  receiver.channel.resume();

  let timedOut = false;
  let cancelled = false;
  const stopBoth = (why: string) => {
    if (meter) {
      sender.channel.unpipe(meter);
      meter.unpipe(receiver.channel);
    } else sender.channel.unpipe(receiver.channel);
    sender.stop(why);
    receiver.stop(why);
  };

  // The receiver failing (it refused the stream, or its connection was cut) leaves the sender blocked
  // on a full pipe: stop it. The sender ending badly (non-zero, or no exit status
  // because its connection was cut) may have delivered a clean-looking EOF: stop the receiver too.
  void receiver.exit.then((s) => {
    if (s.code !== 0) stopBoth(s.code === null ? `the connection to the receiver ${opts.to.host} was lost` : `zfs recv on ${opts.to.host} failed (exit ${s.code})`);
  });
  void sender.exit.then((s) => {
    if (s.code !== 0) stopBoth(s.code === null ? `the connection to the sender ${opts.from.host} was lost` : `zfs send on ${opts.from.host} failed (exit ${s.code})`);
  });

  // Once one side has ended, the other has at most the data still in flight (a few channel windows)
  // to finish. A side that has not ended TAIL_GRACE_MS later is hung (seen under load: a child of a
  // sweep heartbeated in a stream of a few KiB for nine minutes, and its run never ended); stop both,
  // so the step fails as an interrupted stream and its retry starts over (or finds it arrived, by guid).
  let tail: NodeJS.Timeout | undefined;
  const armTail = (waitingFor: string) => {
    tail ??= setTimeout(() => stopBoth(`${waitingFor} did not end within ${TAIL_GRACE_MS / 1000} s of the other side`), TAIL_GRACE_MS);
  };
  void receiver.exit.then(() => armTail(`zfs send on ${opts.from.host}`));
  void sender.exit.then(() => armTail(`zfs recv on ${opts.to.host}`));

  const onAbort = () => {
    cancelled = true;
    stopBoth('cancelled');
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        stopBoth(`timed out after ${opts.timeoutMs} ms`);
      }, opts.timeoutMs)
    : undefined;
  const progress = opts.onProgress
    ? setInterval(() => {
        const elapsedMs = Date.now() - started;
        const bytes = bytesSoFar();
        opts.onProgress!({ bytes, elapsedMs, bytesPerSecond: Math.round(bytes / Math.max(elapsedMs / 1000, 0.001)) });
      }, opts.progressIntervalMs ?? 1_000)
    : undefined;

  const [senderExit, receiverExit] = await Promise.all([sender.exit, receiver.exit]);
  if (timer) clearTimeout(timer);
  if (tail) clearTimeout(tail);
  if (progress) clearInterval(progress);
  opts.signal?.removeEventListener('abort', onAbort);
  const stopped = sender.stoppedBecause() ?? receiver.stoppedBecause();
  return {
    bytes: bytesSoFar(),
    durationMs: Date.now() - started,
    sender: sender.record({ stdoutTail: `(${bytesSoFar()} bytes streamed to ${opts.to.host})` }),
    receiver: receiver.record({ ...(timedOut ? { timedOut } : {}) }),
    senderExit,
    receiverExit,
    senderStderr: sender.stderr(),
    receiverStderr: receiver.stderr(),
    ...(stopped ? { stopped } : {}),
    timedOut,
    cancelled,
  };
}
