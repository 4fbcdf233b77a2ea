import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { labDown, labUp } from '../../lab/lab';
import { readManifest } from '../../lab/manifest';
import { scenarioContext } from '../../lab/scenario-context';
import type { ScenarioContext } from '../../lab/scenarios/types';
import { CRUCIBLE_HOST, PORTS, REGION_DIRS } from '../../lab/scenarios/crucible';
import { DESTINATION_SLED, judgeLiveMigration, seedBootRegions, propolisFaultsPath, SOURCE_SLED, type MigrationJudgement } from '../../lab/scenarios/propolis';
import type { Faults } from '../../lab/emulators/propolis';
import { repoRoot, testDataDir } from './paths';
import { startRunbook } from './temporal';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

/**
 * The crucible scenario's storage host and the propolis scenario's two sleds, in a lab folder of
 * their own with a worker of their own (so a test can SIGKILL it). `seedRegions` makes the three
 * regions from the OS image and runs their downstairs (what the seedRegions runbook does; here
 * done directly, so the liveMigrate tests do not depend on it).
 */
export interface PropolisLab {
  labDir: string;
  taskQueue: string;
  worker: WorkerProcess;
  ctx: Record<string, ScenarioContext>;
  targets: string[];
  seedRegions(opts?: { extentSize?: number; extentCount?: number }): Promise<void>;
  input(overrides?: Record<string, unknown>): Record<string, unknown> & { vm: { name: string } };
  start(input: unknown, workflowId?: string): Promise<WorkflowHandle>;
  faults(sled: 'source' | 'destination', faults: Partial<Faults>): void;
  judge(): Promise<MigrationJudgement>;
  sh(host: string, script: string): Promise<string>;
  restartWorker(): Promise<void>;
  stop(): Promise<void>;
}

export const SLEDS = { source: SOURCE_SLED.name, destination: DESTINATION_SLED.name };

export async function startPropolisLab(name: string): Promise<PropolisLab> {
  const previousLabDir = process.env.RUNBOOK_LAB_DIR;
  const labDir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  process.env.RUNBOOK_LAB_DIR = labDir;
  const log = (l: string) => (process.env.PROPOLIS_TEST_LOG ? process.stderr.write(`[${name}] ${l}\n`) : undefined);
  const restore = () => {
    if (previousLabDir === undefined) delete process.env.RUNBOOK_LAB_DIR;
    else process.env.RUNBOOK_LAB_DIR = previousLabDir;
  };
  const hosts = [CRUCIBLE_HOST.name, SOURCE_SLED.name, DESTINATION_SLED.name];
  const ctx = Object.fromEntries(hosts.map((h) => [h, scenarioContext(h, log)]));
  const taskQueue = `${name}-${randomUUID().slice(0, 8)}`;
  const env = { RUNBOOK_INVENTORY: path.join(labDir, 'inventory.json'), RUNBOOK_LAB_DIR: labDir, RUNBOOK_ARCHIVE: '0' };
  const logFile = path.join(testDataDir, `worker-${taskQueue}.log`);
  let worker: WorkerProcess;
  try {
    const t0 = Date.now();
    await labUp({ scenarios: ['crucible', 'propolis'], log });
    const t1 = Date.now();
    worker = await startWorkerProcess({ taskQueue, env, logFile });
    log(`lab up ${t1 - t0} ms, worker ${Date.now() - t1} ms`);
  } catch (err) {
    await labDown({ log }).catch(() => undefined);
    restore();
    rmSync(labDir, { recursive: true, force: true });
    throw err;
  }
  const targets = PORTS.map((p) => `${CRUCIBLE_HOST.address}:${p}`);
  const sh = async (host: string, script: string) => {
    const r = await ctx[host].exec(script, { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`${host}: ${script.slice(0, 300)}\nexit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const lab: PropolisLab = {
    labDir,
    taskQueue,
    get worker() {
      return worker;
    },
    ctx,
    targets,
    async seedRegions(opts = {}) {
      const t0 = Date.now();
      await seedBootRegions(ctx[CRUCIBLE_HOST.name], opts);
      log(`regions seeded and served in ${Date.now() - t0} ms`);
    },
    input(overrides = {}) {
      return {
        source: SOURCE_SLED.name,
        destination: DESTINATION_SLED.name,
        vm: { name: `vm-${randomUUID().slice(0, 8)}`, vcpus: 2, memoryMiB: 512 },
        disk: { name: 'disk0', slot: 1 },
        regions: { host: CRUCIBLE_HOST.name, downstairs: REGION_DIRS.map((dir, i) => ({ dir, port: PORTS[i] })) },
        approve: ['migrate'],
        ...overrides,
      } as Record<string, unknown> & { vm: { name: string } };
    },
    start: (input, workflowId) => startRunbook('liveMigrate', input, { taskQueue, workflowId }),
    faults(sled, faults) {
      const file = propolisFaultsPath(ctx[sled === 'source' ? SOURCE_SLED.name : DESTINATION_SLED.name].hostDir);
      writeFileSync(`${file}.tmp`, JSON.stringify(faults));
      renameSync(`${file}.tmp`, file);
    },
    judge: () => judgeLiveMigration({ targets }),
    sh,
    async restartWorker() {
      await worker.stop('SIGKILL');
      worker = await startWorkerProcess({ taskQueue, env, logFile });
    },
    async stop() {
      try {
        await worker.stop('SIGKILL');
        if (readdirSync(path.join(labDir, 'hosts')).some((h) => readManifest(h))) await labDown({ log });
      } finally {
        restore();
        rmSync(labDir, { recursive: true, force: true });
      }
    },
  };
  return lab;
}
