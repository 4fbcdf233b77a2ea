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
 * A real worker process (workers/main.ts), so a test can SIGKILL it like a crashed machine.
 * Resolves once it polls its task queue.
 */
export async function startWorkerProcess(opts: { taskQueue?: string; env?: Record<string, string>; logFile?: string; script?: string; args?: string[] } = {}): Promise<WorkerProcess> {
  const logFile = opts.logFile ?? path.join(testDataDir, `worker-${opts.taskQueue ?? 'runbooks'}-${Date.now()}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [tsxCli, path.join(repoRoot, opts.script ?? 'workers/main.ts'), ...(opts.args ?? [])], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...(existsSync(workflowBundleFile) ? { RUNBOOK_WORKFLOW_BUNDLE: workflowBundleFile } : {}),
      // A killed worker's runs move on after 2 s instead of 10 (see workers/runbooks-worker.ts).
      RUNBOOK_STICKY_QUEUE_TIMEOUT: '2s',
      ...(opts.taskQueue ? { RUNBOOK_TASK_QUEUE: opts.taskQueue } : {}),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', out],
    detached: true,
  });
  const pid = child.pid!;
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start within 60 s; see ${logFile}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (/polling (task queue )?\S+/.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} at start; see ${logFile}`));
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
