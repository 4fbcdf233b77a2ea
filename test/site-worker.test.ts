import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunbookResult } from '../workflows/engine/runbook';
import type { HostFacts } from '../activities/facts/host-facts';
import { defaultInventoryPath } from '../activities/ssh/inventory';
import { closeTestClient, startRunbook } from './helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

const workers: WorkerProcess[] = [];
afterAll(async () => {
  for (const w of workers) await w.stop('SIGTERM');
  await closeTestClient();
});

test("a host that belongs to a site gets its activities on that site's task queue, run by an activities-only worker, even in a quick step", async () => {
  // The same lab, but node2 is declared to live at site "edge" (reachable only from there).
  const inventory = JSON.parse(readFileSync(defaultInventoryPath(), 'utf8'));
  inventory.hosts = { node1: inventory.hosts.node1, node2: { ...inventory.hosts.node2, site: 'edge' } };
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'site-inventory-')), 'inventory.json');
  writeFileSync(file, JSON.stringify(inventory, null, 2));
  const env = { RUNBOOK_INVENTORY: file };
  const taskQueue = `site-test-${randomUUID().slice(0, 8)}`;
  workers.push(await startWorkerProcess({ taskQueue, env }));
  workers.push(await startWorkerProcess({ script: 'workers/site.ts', args: ['edge'], env }));

  const handle = await startRunbook('hostFacts', { hosts: ['node1', 'node2'] }, { taskQueue });
  const result = (await handle.result()) as RunbookResult<{ hosts: HostFacts[] }>;
  expect(result.value.hosts.map((h) => h.hostname)).toEqual(['node1', 'node2']);

  const history = await handle.fetchHistory();
  const queues = (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === 'collectHostFacts')
    .map((a) => a!.taskQueue?.name)
    .sort();
  // node2's step goes to its site's worker; node1's quick step ran on the workflow's own worker as a
  // local activity (a site host's steps never do: its worker is another process).
  expect(queues).toEqual(['site-edge']);
  expect((history.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(1);
  expect(result.audit.steps.find((s) => s.name === 'resolve-hosts')?.summary).toBe('node1, node2@edge');
});
