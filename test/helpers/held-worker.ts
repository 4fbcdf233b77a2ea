// A runbooks worker for crash tests, made ahead of need: it connects and loads the workflow code,
// prints "ready", and starts polling only when a line arrives on stdin. A test that kills the
// running worker at a step boundary releases one of these at once, so each resume costs the run's
// own timeouts, not a worker's start-up (which a loaded CI machine stretches to many seconds).
import { createRunbooksWorker, runUntilSignalled } from '../../workers/runbooks-worker';

async function main(): Promise<void> {
  const worker = await createRunbooksWorker();
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  process.stdout.write(`held worker ${worker.options.identity} polling task queue ${worker.options.taskQueue}\n`);
  await runUntilSignalled(worker);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
