// A runbooks worker held in reserve: it loads everything and connects (the slow part of a start, many
// seconds on a busy machine), prints "standing by", and begins polling only when a line arrives on
// stdin. Crash tests keep one warm while the active worker runs, so replacing a SIGKILLed worker
// costs the time Temporal takes to notice the loss, not a process start. SIGKILL ends it like any worker.
import { createRunbooksWorker, runUntilSignalled } from '../../workers/runbooks-worker';

async function main(): Promise<void> {
  const worker = await createRunbooksWorker();
  console.log(`standing by for task queue ${worker.options.taskQueue}`);
  await new Promise((resolve) => process.stdin.once('data', resolve));
  console.log(`runbooks worker ${worker.options.identity} polling task queue ${worker.options.taskQueue}`);
  await runUntilSignalled(worker);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
