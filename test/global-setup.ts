import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureTemporalDevServer } from '../lab/temporal-dev-server';
import { labStatus, labUp } from '../lab/lab';
import { repoRoot, stateFile, workflowBundleFile, testDataDir } from './helpers/paths';
import { writeWorkflowBundle } from '../workers/workflow-bundle';
import { startWorkerProcess } from './helpers/worker-process';

/**
 * The suite runs against the real Temporal dev server (started here unless one already answers), the
 * lab's base hosts, and one shared worker process on task queue `runbooks`. global-teardown stops
 * exactly what this started.
 */
export default async function globalSetup(): Promise<void> {
  mkdirSync(testDataDir, { recursive: true });
  const log = (l: string) => process.stderr.write(`[setup] ${l}\n`);
  // Bundled once here: each of the suite's many worker restarts then takes about a second, not ten.
  const bundled = Date.now();
  await writeWorkflowBundle(workflowBundleFile);
  log(`workflow code bundled in ${Date.now() - bundled} ms: ${workflowBundleFile}`);
  const server = await ensureTemporalDevServer(log);
  // A lab someone already runs (a developer's `npm start`, another test run) is used and left up.
  const labWasUp = labStatus().some((h) => h.running);
  const lab = await labUp({ scenarios: ['base'], log });
  const worker = await startWorkerProcess({ logFile: path.join(testDataDir, 'test-worker.log') });
  worker.child.unref();
  worker.child.stdout?.destroy();
  writeFileSync(stateFile, JSON.stringify({ startedServer: server.started, startedLab: !labWasUp, workerPid: worker.pid, labHosts: lab.hosts.map((h) => h.name) }));
}
