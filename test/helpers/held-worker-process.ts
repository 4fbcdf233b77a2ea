import { spawnWorkerScript, type WorkerProcess } from './worker-process';

/** A worker process loaded and waiting (held-worker.ts): `release()` makes it poll. */
export interface HeldWorker extends WorkerProcess {
  release(): void;
}

/** Starts a held worker on `taskQueue`; resolves once it is loaded and waiting. */
export async function startHeldWorker(opts: { taskQueue: string; env?: Record<string, string>; logFile: string }): Promise<HeldWorker> {
  const worker = await spawnWorkerScript({
    script: 'test/helpers/held-worker.ts',
    env: { RUNBOOK_TASK_QUEUE: opts.taskQueue, ...opts.env },
    logFile: opts.logFile,
    stdin: 'pipe',
    ready: /^ready$/m,
    what: 'held worker',
  });
  return { ...worker, release: () => worker.child.stdin!.write('go\n') };
}
