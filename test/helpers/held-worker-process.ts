import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, tsxCli, workflowBundleFile } from './paths';
import type { WorkerProcess } from './worker-process';

/** A worker process loaded and waiting (held-worker.ts): `release()` makes it poll. */
export interface HeldWorker extends WorkerProcess {
  release(): void;
}

/** Starts a held worker on `taskQueue`; resolves once it is loaded and waiting. */
export async function startHeldWorker(opts: { taskQueue: string; env?: Record<string, string>; logFile: string }): Promise<HeldWorker> {
  const out = openSync(opts.logFile, 'a');
  const child = spawn(process.execPath, [tsxCli, path.join(repoRoot, 'test', 'helpers', 'held-worker.ts')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...(existsSync(workflowBundleFile) ? { RUNBOOK_WORKFLOW_BUNDLE: workflowBundleFile } : {}),
      RUNBOOK_STICKY_QUEUE_TIMEOUT: '2s',
      RUNBOOK_TASK_QUEUE: opts.taskQueue,
      ...opts.env,
    },
    stdio: ['pipe', 'pipe', out],
    // Its own process group, so a SIGKILL takes tsx's child (the worker itself) with it.
    detached: true,
  });
  const pid = child.pid!;
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`held worker did not load within 60 s; see ${opts.logFile}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (/^ready$/m.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`held worker exited with ${code} while loading; see ${opts.logFile}`));
    });
  });
  child.stdout!.resume();
  return {
    child,
    pid,
    release: () => child.stdin!.write('go\n'),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-pid, signal);
      await exited;
    },
  };
}
