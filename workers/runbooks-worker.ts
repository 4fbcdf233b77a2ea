import { Worker, type WorkerOptions } from '@temporalio/worker';
import * as activities from '../activities';
import { closeSharedPool } from '../activities/ssh/shared-pool';
import { connectWorkerConnection, temporalSettings } from './connection';
import { runbookDataConverter } from './data-converter';
import { workerTaskQueue } from './task-queues';
import { bundleWorkflows } from './workflow-bundle';
import { HEARTBEAT_DELIVERY } from './heartbeats';

/**
 * By default a nondeterminism error fails the workflow task, which Temporal retries until a fixed
 * worker is deployed: the run stays open and nothing is lost. RUNBOOK_FAIL_ON_NONDETERMINISM=1 fails
 * the run instead (then its compensations do not run: prefer the default for real changes).
 */
function nondeterminismPolicy(): Pick<WorkerOptions, 'workflowFailureErrorTypes'> {
  return process.env.RUNBOOK_FAIL_ON_NONDETERMINISM === '1' ? { workflowFailureErrorTypes: { '*': ['NondeterminismError'] } } : {};
}

/**
 * RUNBOOK_WORKFLOW_BUNDLE names workflow code bundled ahead of time (`npx tsx scripts/bundle-workflows.ts`):
 * the worker then starts in about a second instead of webpacking the workflows again, which is what a
 * deployment does, and what lets the test suite restart workers at every step boundary. The bundle
 * must come from the same checkout: a stale one replays old code against new histories.
 */
async function workflowCode(overrides: Partial<WorkerOptions>): Promise<Pick<WorkerOptions, 'workflowBundle'>> {
  // A bundle carries its interceptors (workers/workflow-bundle.ts).
  if (overrides.workflowBundle) return { workflowBundle: overrides.workflowBundle };
  const codePath = process.env.RUNBOOK_WORKFLOW_BUNDLE;
  // Bundled here rather than by Worker.create: the same code, without webpack's statistics in the log.
  return { workflowBundle: codePath ? { codePath } : await bundleWorkflows() };
}

/**
 * How long a workflow task waits on this worker's sticky queue before any worker may take it (the
 * SDK's default, 10 s, unless RUNBOOK_STICKY_QUEUE_TIMEOUT says otherwise): after a worker dies
 * without shutting down, that is how long its open runs stall. The crash tests, which kill a worker
 * at every step boundary, set it to 2 s.
 */
function stickyQueue(): Pick<WorkerOptions, 'stickyQueueScheduleToStartTimeout'> {
  const timeout = process.env.RUNBOOK_STICKY_QUEUE_TIMEOUT;
  return timeout ? { stickyQueueScheduleToStartTimeout: timeout as WorkerOptions['stickyQueueScheduleToStartTimeout'] } : {};
}

/** The one worker for every runbook: workflows and activities on task queue `runbooks`. */
export async function createRunbooksWorker(overrides: Partial<WorkerOptions> = {}): Promise<Worker> {
  // A caller that brings its own connection (a test, a script) owns it; opening another would leak it.
  const { connection, namespace } = overrides.connection ? { connection: overrides.connection, namespace: overrides.namespace ?? temporalSettings().namespace } : await connectWorkerConnection();
  return Worker.create({
    connection,
    namespace,
    taskQueue: workerTaskQueue(),
    ...(await workflowCode(overrides)),
    activities,
    dataConverter: runbookDataConverter,
    // Long commands (pvmove, zfs send) hold a slot each; the default of 100 would let one sweep starve the rest.
    maxConcurrentActivityTaskExecutions: 50,
    ...HEARTBEAT_DELIVERY,
    shutdownGraceTime: '5s',
    ...stickyQueue(),
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
