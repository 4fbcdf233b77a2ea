// Entry point: `npm run worker` (or `tsx workers/main.ts`). Runs every runbook on task queue `runbooks`
// until SIGINT/SIGTERM. Connection settings come from the standard TEMPORAL_* environment.
import { archiverSettings, startArchiver } from './archiver';
import { connectClient } from './connection';
import { createRunbooksWorker, runUntilSignalled } from './runbooks-worker';

async function main(): Promise<void> {
  const worker = await createRunbooksWorker();
  console.log(`runbooks worker ${worker.options.identity} polling task queue ${worker.options.taskQueue}`);
  // Histories of ended runs go to archive/ before the server's retention drops them (see archiver.ts).
  const archive = archiverSettings();
  const client = archive.enabled ? await connectClient() : undefined;
  const archiver = client ? startArchiver(client, { dir: archive.dir, intervalMs: archive.intervalMs }) : undefined;
  try {
    await runUntilSignalled(worker);
  } finally {
    await archiver?.stop();
    await client?.connection.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
