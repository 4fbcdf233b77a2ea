import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DEV_SERVER_SETTINGS, startDevServer, type DevServerProcess } from '../lab/temporal-dev-server';
import { runbookDataConverter } from '../workers/data-converter';
import type { RunbookResult } from '../workflows/engine/runbook';
import { hostLines } from './helpers/lab-host';
import { repoRoot, testDataDir } from './helpers/paths';
import { startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

// The dev server runs SQLite in WAL mode with synchronous=NORMAL (lab/temporal-dev-server.ts): a commit
// is in the OS's page cache, not yet on disk, when the server answers. That must survive the server
// PROCESS dying at any moment. This test owns a dev server of its own (same settings, its own port and
// database file) so it can SIGKILL it twice in the middle of a run and start it again on the same file.
const port = 7250;
const address = `127.0.0.1:${port}`;
const dir = path.join(testDataDir, `server-crash-${randomUUID().slice(0, 8)}`);
const dbFile = path.join(dir, 'temporal.db');
const taskQueue = `server-crash-${randomUUID().slice(0, 8)}`;
let server: DevServerProcess | undefined;
let worker: WorkerProcess | undefined;
let connection: Connection | undefined;

const startServer = () => startDevServer({ grpcPort: port, headless: true, dbFile, logFile: path.join(dir, 'temporal.log'), settings: DEV_SERVER_SETTINGS });

async function linesAtLeast(file: string, n: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await hostLines('node1', file)).length >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} never reached ${n} lines`);
}

beforeAll(() => mkdirSync(dir, { recursive: true }));

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await connection?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the dev server SIGKILLed twice mid-run is restarted on its database, the run completes, and no step ran twice', async () => {
  server = await startServer();
  // The pragma took: SQLite keeps a write-ahead log next to the database only in WAL mode.
  expect(existsSync(`${dbFile}-wal`)).toBe(true);
  worker = await startWorkerProcess({ taskQueue, env: { TEMPORAL_ADDRESS: address } });
  connection = await Connection.connect({ address });
  const client = new Client({ connection, dataConverter: runbookDataConverter });
  const drillDir = `/var/tmp/engine-drill/${randomUUID()}`;
  const log = `${drillDir}/log`;
  const steps = 8;
  const handle = await client.workflow.start('engineDrill', {
    taskQueue,
    workflowId: `test/server-crash/${randomUUID()}`,
    args: [{ host: 'node1', dir: drillDir, steps, stepSeconds: 0.3 }],
  });

  // Kill it while a step's command is running on the host (its completion cannot be recorded), and
  // again a few steps later; each time start it again on the same database file.
  for (const after of [2, 5]) {
    await linesAtLeast(log, after);
    await server.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    server = await startServer();
  }

  const result = (await handle.result()) as RunbookResult<{ log: string[] }>;
  expect(result.outcome).toBe('succeeded');
  // Side effects counted on the host: each step's marker exactly once, in order.
  expect(await hostLines('node1', log)).toEqual(Array.from({ length: steps }, (_, i) => `do ${i + 1}`));
  // The steps that had finished before the first kill were not repeated.
  for (const name of ['step-1', 'step-2']) expect(result.audit.steps.find((s) => s.name === name)!.attempts).toHaveLength(1);
});

test('quick read-only steps (local activities) survive the dev server SIGKILLed while they run: each is recorded once', async () => {
  // Their results reach the database only with the completion of the workflow task that ran them; a
  // server lost before that never saw them, and the worker's next task runs them again.
  server ??= await startServer();
  worker ??= await startWorkerProcess({ taskQueue, env: { TEMPORAL_ADDRESS: address } });
  connection ??= await Connection.connect({ address });
  const client = new Client({ connection, dataConverter: runbookDataConverter });
  const steps = 4;
  const handle = await client.workflow.start('engineDrill', {
    taskQueue,
    workflowId: `test/server-crash/${randomUUID()}`,
    workflowTaskTimeout: '3s',
    args: [{ host: 'node1', dir: `/var/tmp/engine-drill/${randomUUID()}`, steps, action: 'read-true', stepSeconds: 0.5 }],
  });
  const hostsResolved = async () => ((await handle.fetchHistory()).events ?? []).some((e) => e.activityTaskCompletedEventAttributes);
  for (const deadline = Date.now() + 30_000; !(await hostsResolved());) {
    if (Date.now() > deadline) throw new Error('resolve-hosts never completed');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 800)); // the quick steps are running in one workflow task
  const markers = async () => ((await handle.fetchHistory()).events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
  expect(await markers()).toHaveLength(0); // none recorded yet: the server dies before it sees any
  await server.stop('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  server = await startServer();

  const result = (await handle.result()) as RunbookResult<unknown>;
  expect(result.outcome).toBe('succeeded');
  expect(result.audit.steps.filter((s) => s.name.startsWith('step-')).map((s) => [s.name, s.status, s.attempts.length])).toEqual(
    Array.from({ length: steps }, (_, i) => [`step-${i + 1}`, 'completed', 1]),
  );
  expect(await markers()).toHaveLength(steps);
});
