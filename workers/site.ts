// Entry point for an activities-only worker at a site: `tsx workers/site.ts <site>`.
// Hosts whose inventory entry names that site are only reachable from there; their activities are
// scheduled on task queue `site-<site>` and run here, while workflows stay on the central worker.
import { Worker } from '@temporalio/worker';
import * as activities from '../activities';
import { closeSharedPool } from '../activities/ssh/shared-pool';
import { connectWorkerConnection } from './connection';
import { runbookDataConverter } from './data-converter';
import { HEARTBEAT_DELIVERY } from './heartbeats';
import { siteTaskQueue } from '../common/task-queues';

export async function createSiteWorker(site: string): Promise<Worker> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(site)) throw new Error(`invalid site name ${JSON.stringify(site)}: lower-case letters, digits and dashes`);
  const { connection, namespace } = await connectWorkerConnection();
  return Worker.create({ connection, namespace, taskQueue: siteTaskQueue(site), activities, dataConverter: runbookDataConverter, shutdownGraceTime: '5s', ...HEARTBEAT_DELIVERY });
}

if (require.main === module) {
  const site = process.argv[2] ?? process.env.RUNBOOK_SITE;
  if (!site) {
    console.error('usage: tsx workers/site.ts <site>   (or set RUNBOOK_SITE)');
    process.exit(2);
  }
  createSiteWorker(site)
    .then(async (worker) => {
      console.log(`site worker for ${site} polling ${worker.options.taskQueue}`);
      try {
        await worker.run();
      } finally {
        closeSharedPool();
      }
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
