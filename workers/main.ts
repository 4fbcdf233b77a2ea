// Entry point: `npm run worker` (or `tsx workers/main.ts`). Runs every runbook on task queue `runbooks`
// until SIGINT/SIGTERM. Connection settings come from the standard TEMPORAL_* environment.
import { createRunbooksWorker, runUntilSignalled } from './runbooks-worker';

async function main(): Promise<void> {
  const worker = await createRunbooksWorker();
  console.log(`runbooks worker ${worker.options.identity} polling task queue ${worker.options.taskQueue}`);
  await runUntilSignalled(worker);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
