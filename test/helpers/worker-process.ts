import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, tsxCli, workflowBundleFile, testDataDir } from './paths';

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawn a worker script under tsx (with the prebundled workflow code and the tests' short sticky
 * queue) in its own process group, and resolve once its stdout shows `ready`. Shared by the worker
 * that polls at once and the held one (held-worker-process.ts).
 */
export async function spawnWorkerScript(opts: {
  script: string;
  args?: string[];
  env?: Record<string, string>;
  logFile: string;
  /** 'pipe' for a worker that waits for a word on stdin. */
  stdin: 'ignore' | 'pipe';
  ready: RegExp;
  what: string;
}): Promise<WorkerProcess> {
  const out = openSync(opts.logFile, 'a');
  const child = spawn(process.execPath, [tsxCli, path.join(repoRoot, opts.script), ...(opts.args ?? [])], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...(existsSync(workflowBundleFile) ? { RUNBOOK_WORKFLOW_BUNDLE: workflowBundleFile } : {}),
      // A killed worker's runs move on after 2 s instead of 10 (see workers/runbooks-worker.ts).
      RUNBOOK_STICKY_QUEUE_TIMEOUT: '2s',
      ...opts.env,
    },
    stdio: [opts.stdin, 'pipe', out],
    detached: true,
  });
  const pid = child.pid!;
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${opts.what} did not start within 60 s; see ${opts.logFile}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (opts.ready.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.what} exited with ${code} at start; see ${opts.logFile}`));
    });
  });
  child.stdout!.resume();
  return {
    child,
    pid,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      // tsx runs the worker in a child process: signal the whole group (the worker is spawned detached,
      // so it leads one), or a SIGKILL would leave the real worker running.
      process.kill(-pid, signal);
      await exited;
    },
  };
}

/**
 * A real worker process (workers/main.ts), so a test can SIGKILL it like a crashed machine.
 * Resolves once it polls its task queue.
 */
export function startWorkerProcess(opts: { taskQueue?: string; env?: Record<string, string>; logFile?: string; script?: string; args?: string[] } = {}): Promise<WorkerProcess> {
  return spawnWorkerScript({
    script: opts.script ?? 'workers/main.ts',
    args: opts.args,
    env: { ...(opts.taskQueue ? { RUNBOOK_TASK_QUEUE: opts.taskQueue } : {}), ...opts.env },
    logFile: opts.logFile ?? path.join(testDataDir, `worker-${opts.taskQueue ?? 'runbooks'}-${Date.now()}.log`),
    stdin: 'ignore',
    ready: /polling (task queue )?\S+/,
    what: 'worker',
  });
}
