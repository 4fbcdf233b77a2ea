import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { ensureTemporalDevServer, stopTemporalDevServer } from '../../lab/temporal-dev-server';
import { connectClient, connectWorkerConnection } from '../../workers/connection';
import { runbookDataConverter } from '../../workers/data-converter';
import { workflowInterceptorModules } from '../../workers/workflow-interceptors';
import * as activities from './activities';

// The engine tier's setup: the real dev server (reused if one answers, e.g. during the whole suite)
// and an in-process worker for workflows.ts and the stand-in activities on a task queue of its own,
// so it never takes tasks of the suite's worker, nor the suite's worker its tasks. No lab.

export interface EngineTier {
  client: Client;
  /** Start an engineTier run; `log` is filled in (a fresh file in a temporary folder). */
  start(input: Record<string, unknown>): Promise<{ handle: WorkflowHandle; log: string }>;
  /** The lines the stand-in activities appended. */
  lines(log: string): string[];
  stop(): Promise<void>;
}

export async function startEngineTier(): Promise<EngineTier> {
  // The runs fail on purpose; the worker's per-run warnings would bury the test report. Errors still show.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const t0 = Date.now();
  const server = await ensureTemporalDevServer((l) => process.stderr.write(`[engine-tier] ${l}\n`));
  const { connection, namespace } = await connectWorkerConnection();
  const taskQueue = `engine-tier-${randomUUID()}`;
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    interceptors: { workflowModules: workflowInterceptorModules },
    activities,
    dataConverter: runbookDataConverter,
    shutdownGraceTime: '1s',
  });
  const running = worker.run();
  process.stderr.write(`[engine-tier] server ${server.started ? 'started' : 'reused'} and worker bundled in ${Date.now() - t0} ms\n`);
  const client = await connectClient();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'engine-tier-'));
  return {
    client,
    async start(input) {
      const log = path.join(dir, `${randomUUID()}.log`);
      const handle = await client.workflow.start('engineTier', { taskQueue, workflowId: `test/engineTier/${randomUUID()}`, args: [{ log, ...input }] });
      return { handle, log };
    },
    lines(log) {
      return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    },
    async stop() {
      worker.shutdown();
      await running;
      await client.connection.close();
      await connection.close();
      rmSync(dir, { recursive: true, force: true });
      if (server.started) await stopTemporalDevServer();
    },
  };
}
