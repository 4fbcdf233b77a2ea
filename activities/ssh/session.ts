import { Context } from '@temporalio/activity';
import type { CommandRecord, StepOutput } from '../../common/step';
import type { ShellCommand } from './command';
import { assertSucceeded, runRemote, type RemoteRunOptions, type RemoteRunResult } from './exec';
import type { SshPool } from './pool';

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // called outside an activity (a benchmark, the lab's own checks)
  }
}

/**
 * The commands one activity runs on one host. Inside an activity it heartbeats while a command
 * runs (so a dead worker is noticed) and passes the activity's cancellation to the remote command.
 * It keeps every command's record, which the activity returns for the audit log.
 */
export class HostSession {
  readonly commands: CommandRecord[] = [];
  private readonly context = activityContext();

  constructor(
    private readonly pool: SshPool,
    readonly host: string,
  ) {}

  /** Run and return the result whatever the exit code. */
  async run(command: ShellCommand, opts: RemoteRunOptions = {}): Promise<RemoteRunResult> {
    const ctx = this.context;
    // Beat from the start and every second until the command returns, not only from the first
    // progress tick: connecting to a host (a new worker's first ssh2 handshake, on a loaded machine)
    // can take seconds, and a step with a 5 s heartbeat timeout would be retried while it still runs.
    // A local activity (an engine's quick step) has no heartbeat: the workflow task waiting on it
    // is what notices a dead worker.
    const beat = ctx && !ctx.info.isLocal ? (details: Record<string, unknown>) => ctx.heartbeat(details) : undefined;
    let last: Record<string, unknown> = { command: command.display.slice(0, 200), elapsedMs: 0 };
    beat?.(last);
    const alive = beat ? setInterval(() => beat(last), 1_000) : undefined;
    let result: RemoteRunResult;
    try {
      result = await runRemote(this.pool, this.host, command, {
        ...opts,
        signal: opts.signal ?? ctx?.cancellationSignal,
        onProgress: (p) => {
          opts.onProgress?.(p);
          last = { command: command.display.slice(0, 200), ...p };
          beat?.(last);
        },
      });
    } finally {
      clearInterval(alive);
    }
    this.commands.push(result.record);
    ctx?.cancellationSignal.throwIfAborted?.();
    return result;
  }

  /** Run and throw (with the command's record attached) unless the exit code is in okExitCodes (default 0). */
  async check(command: ShellCommand, opts: RemoteRunOptions & { what?: string } = {}): Promise<RemoteRunResult> {
    return assertSucceeded(await this.run(command, opts), opts.okExitCodes, opts.what);
  }

  output<T>(value: T): StepOutput<T> {
    return { value, commands: this.commands };
  }
}
