// Records the histories CI replays (test/histories/<runbook>/<case>.json) from real runs on the lab.
//
//   npx tsx scripts/record-histories.ts                 # every case of every runbook
//   npx tsx scripts/record-histories.ts --runbook engineDrill --case approved
//   npx tsx scripts/record-histories.ts --list
//
// It starts the dev server and the lab hosts the cases need when they are not up (and leaves them up,
// like `runbook lab up`), and runs its own worker in this process on a private task queue, so the
// histories come from the workflow code in this checkout and not from some other worker polling
// `runbooks`. Re-record after a change that is meant to alter what runbooks do; see docs/operators.md
// for when a change needs patched() instead.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { labUp } from '../lab/lab';
import { ensureTemporalDevServer } from '../lab/temporal-dev-server';
import { catalog } from '../runbooks/catalog';
import { connectClient } from '../workers/connection';
import { createRunbooksWorker } from '../workers/runbooks-worker';
import { defaultInventoryPath, type Inventory } from '../activities/ssh/inventory';
import { genericCases } from './recordings/generic';
import type { RecordingCase } from './recordings/types';

const repoRoot = path.resolve(__dirname, '..');
export const historiesDir = path.join(repoRoot, 'test', 'histories');
const CASE_TIMEOUT_MS = 180_000;

/** Generic cases for every runbook, overridden or extended by scripts/recordings/<runbook>.ts. */
export function allCases(): RecordingCase[] {
  const byKey = new Map<string, RecordingCase>();
  for (const c of genericCases()) byKey.set(`${c.runbook}/${c.name}`, c);
  for (const entry of catalog) {
    const file = path.join(__dirname, 'recordings', `${entry.name}.ts`);
    if (!existsSync(file)) continue;
    const own = (require(file) as { cases: RecordingCase[] }).cases;
    for (const c of own) byKey.set(`${c.runbook}/${c.name}`, c);
  }
  return [...byKey.values()];
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} took longer than ${CASE_TIMEOUT_MS / 1000} s`)), CASE_TIMEOUT_MS).unref())]);
}

async function record(client: Client, taskQueue: string, c: RecordingCase): Promise<string> {
  const uniq = `${c.name}-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  if (c.prepare) await c.prepare();
  const handle = await client.workflow.start(c.runbook, { taskQueue, workflowId: `recorded/${c.runbook}/${uniq}`, args: [c.input(uniq)] });
  if (c.drive) await c.drive(handle);
  let history;
  if (c.end === 'RUNNING') {
    history = await handle.fetchHistory();
    await handle.cancel();
    await handle.result().catch(() => undefined); // let it compensate; the snapshot is already taken
  } else {
    await handle.result().catch(() => undefined);
    const status = (await handle.describe()).status.name;
    if (status !== c.end) throw new Error(`${c.runbook}/${c.name} ended ${status}, expected ${c.end}; not saved (workflow ${handle.workflowId})`);
    history = await handle.fetchHistory();
  }
  const file = path.join(historiesDir, c.runbook, `${c.name}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 1)}\n`);
  return file;
}

/**
 * The worker in this process reads a copy of the lab inventory with the cases' extra hosts added, so
 * recording never changes the inventory other workers use.
 */
function usePrivateInventory(cases: RecordingCase[]): void {
  const lab = JSON.parse(readFileSync(defaultInventoryPath(), 'utf8')) as Inventory;
  const template = Object.values(lab.hosts)[0];
  for (const c of cases) {
    for (const [name, extra] of Object.entries(c.extraHosts ?? {})) {
      lab.hosts[name] = { ...template, address: extra.address, port: extra.port ?? 22, tags: ['recording'] };
    }
  }
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'record-histories-')), 'inventory.json');
  writeFileSync(file, JSON.stringify(lab, null, 2));
  process.env.RUNBOOK_INVENTORY = file;
}

async function main(): Promise<void> {
  const opts = new Command()
    .option('--runbook <name...>', 'only these runbooks')
    .option('--case <name...>', 'only these cases')
    .option('--list', 'list the cases and exit')
    .parse()
    .opts<{ runbook?: string[]; case?: string[]; list?: boolean }>();
  const cases = allCases().filter((c) => (!opts.runbook || opts.runbook.includes(c.runbook)) && (!opts.case || opts.case.includes(c.name)));
  if (opts.list || !cases.length) {
    for (const c of cases) console.log(`${c.runbook}/${c.name}  (ends ${c.end}${c.scenarios?.length ? `; lab: ${c.scenarios.join(', ')}` : ''})`);
    if (!cases.length) console.error('no case matches');
    return;
  }
  const log = (l: string) => console.error(`[record] ${l}`);
  await ensureTemporalDevServer(log);
  await labUp({ scenarios: [...new Set(['base', ...cases.flatMap((c) => c.scenarios ?? [])])], log });
  usePrivateInventory(cases);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const taskQueue = `record-histories-${randomUUID()}`;
  const worker = await createRunbooksWorker({ taskQueue });
  const client = await connectClient();
  const failures: string[] = [];
  try {
    await worker.runUntil(async () => {
      for (const c of cases) {
        const t0 = Date.now();
        try {
          const file = await withTimeout(record(client, taskQueue, c), `${c.runbook}/${c.name}`);
          log(`${path.relative(repoRoot, file)} (${Date.now() - t0} ms)`);
        } catch (err) {
          failures.push(`${c.runbook}/${c.name}: ${(err as Error).message}`);
          log(`FAILED ${c.runbook}/${c.name}: ${(err as Error).message}`);
        }
      }
    });
  } finally {
    await client.connection.close();
  }
  if (failures.length) {
    console.error(`${failures.length} case(s) not recorded:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
