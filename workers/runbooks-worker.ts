import { Worker, type WorkerOptions } from '@temporalio/worker';
import * as activities from '../activities';
import { closeSharedPool } from '../activities/ssh/shared-pool';
import { connectWorkerConnection, temporalSettings } from './connection';
import { runbookDataConverter } from './data-converter';
import { workerTaskQueue } from './task-queues';

export const workflowsPath = require.resolve('../workflows');

/**
 * By default a nondeterminism error fails the workflow task, which Temporal retries until a fixed
 * worker is deployed: the run stays open and nothing is lost. RUNBOOK_FAIL_ON_NONDETERMINISM=1 fails
 * the run instead (then its compensations do not run: prefer the default for real changes).
 */
function nondeterminismPolicy(): Pick<WorkerOptions, 'workflowFailureErrorTypes'> {
  return process.env.RUNBOOK_FAIL_ON_NONDETERMINISM === '1' ? { workflowFailureErrorTypes: { '*': ['NondeterminismError'] } } : {};
}

/** The one worker for every runbook: workflows and activities on task queue `runbooks`. */
export async function createRunbooksWorker(overrides: Partial<WorkerOptions> = {}): Promise<Worker> {
  // A caller that brings its own connection (a test, a script) owns it; opening another would leak it.
  const { connection, namespace } = overrides.connection ? { connection: overrides.connection, namespace: overrides.namespace ?? temporalSettings().namespace } : await connectWorkerConnection();
  return Worker.create({
    connection,
    namespace,
    taskQueue: workerTaskQueue(),
    workflowsPath,
    activities,
    dataConverter: runbookDataConverter,
    // Long commands (pvmove, zfs send) hold a slot each; the default of 100 would let one sweep starve the rest.
    maxConcurrentActivityTaskExecutions: 50,
    shutdownGraceTime: '5s',
    ...nondeterminismPolicy(),
    ...overrides,
  });
}

export async function runUntilSignalled(worker: Worker): Promise<void> {
  try {
    await worker.run();
  } finally {
    closeSharedPool();
  }
}
