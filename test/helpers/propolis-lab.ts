import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { labDown, labUp } from '../../lab/lab';
import { readManifest } from '../../lab/manifest';
import { scenarioContext } from '../../lab/scenario-context';
import type { ScenarioContext } from '../../lab/scenarios/types';
import { CRUCIBLE_HOST, PORTS, REGION_DIRS, imageRecordPath, type ImageRecord } from '../../lab/scenarios/crucible';
import { MAAS_HOSTS, setRegionLabConfig } from '../../lab/scenarios/maas';
import { DESTINATION_SLED, judgeLiveMigration, seedBootRegions, propolisFaultsPath, propolisLogPath, SOURCE_SLED, type MigrationJudgement } from '../../lab/scenarios/propolis';
import type { Faults } from '../../lab/emulators/propolis';
import { testDataDir } from './paths';
import { startRunbook } from './temporal';
import { startHeldWorker, type HeldWorker } from './held-worker-process';
import { startWorkerProcess, type WorkerProcess } from './worker-process';
import { FAST_TIMINGS } from './maas-lab';

/**
 * A storage host and the propolis scenario's two sleds, in a lab folder of their own with a worker of
 * their own (so a test can SIGKILL it). The storage host is the crucible scenario's cru-sled (three
 * pools ready for regions; `seedRegions` makes the three regions from the OS image and runs their
 * downstairs, what the seedRegions runbook does, here done directly so the liveMigrate tests do not
 * depend on it), or with `storage: 'maas'` the maas scenario's proper-raptor and its MAAS region
 * (the chain: maasRepartition makes the pools, seedRegions the regions; MAAS's waits are FAST_TIMINGS).
 */
export interface PropolisLab {
  labDir: string;
  /** The storage host: cru-sled, or proper-raptor with storage 'maas'. */
  storage: { name: string; address: string };
  taskQueue: string;
  worker: WorkerProcess;
  ctx: Record<string, ScenarioContext>;
  /** `<storage address>:<port>` for dsc's ports 8810/8820/8830. */
  targets: string[];
  /** crucible storage only: the regions made directly and served (a no-op when they are). */
  seedRegions(opts?: { extentSize?: number; extentCount?: number }): Promise<void>;
  input(overrides?: Record<string, unknown>): Record<string, unknown> & { vm: { name: string } };
  start(input: unknown, workflowId?: string): Promise<WorkflowHandle>;
  faults(sled: 'source' | 'destination', faults: Partial<Faults>): void;
  /** The scenario's own check; with `image`, also every file of the OS image read back from each downstairs. */
  judge(opts?: { image?: boolean }): Promise<MigrationJudgement>;
  /** The propolis-server emulator's own log on a sled (its requests and state changes), from byte `from`. */
  serverLog(sled: 'source' | 'destination', from?: number): string;
  /** The files of the OS image the regions were made from (path -> sha256), as the crucible scenario built it. */
  imageFiles(): Record<string, string>;
  sh(host: string, script: string): Promise<string>;
  /**
   * SIGKILL the worker's process group and let a new worker take over. The new one was loaded in
   * the background beforehand and only starts polling now, so the run resumes as soon as Temporal
   * notices (its sticky-queue and heartbeat timeouts), not after a worker's start-up.
   */
  restartWorker(): Promise<void>;
  stop(): Promise<void>;
}

export const SLEDS = { source: SOURCE_SLED.name, destination: DESTINATION_SLED.name };
const SPARE_WORKERS = 3;

export async function startPropolisLab(name: string, opts: { storage?: 'crucible' | 'maas' } = {}): Promise<PropolisLab> {
  const onMaas = opts.storage === 'maas';
  const storage = onMaas ? MAAS_HOSTS.machine : CRUCIBLE_HOST;
  const previousLabDir = process.env.RUNBOOK_LAB_DIR;
  const labDir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  process.env.RUNBOOK_LAB_DIR = labDir;
  const log = (l: string) => (process.env.PROPOLIS_TEST_LOG ? process.stderr.write(`[${name}] ${l}\n`) : undefined);
  const restore = () => {
    if (previousLabDir === undefined) delete process.env.RUNBOOK_LAB_DIR;
    else process.env.RUNBOOK_LAB_DIR = previousLabDir;
  };
  const hosts = [storage.name, SOURCE_SLED.name, DESTINATION_SLED.name];
  const ctx = Object.fromEntries(hosts.map((h) => [h, scenarioContext(h, log)]));
  const taskQueue = `${name}-${randomUUID().slice(0, 8)}`;
  // A short sticky-queue timeout: a run whose worker was killed moves on to the next worker after
  // 200 ms, not half a second, on every one of the ~27 kills of live-migrate.test.ts (a live worker
  // that is slower than that only replays the run from its history: CPU, not a failure).
  const env = { RUNBOOK_INVENTORY: path.join(labDir, 'inventory.json'), RUNBOOK_LAB_DIR: labDir, RUNBOOK_ARCHIVE: '0', RUNBOOK_STICKY_QUEUE_TIMEOUT: '200ms' };
  const logFile = path.join(testDataDir, `worker-${taskQueue}.log`);
  let worker: WorkerProcess;
  // Workers loaded ahead, waiting to poll: kills come every few seconds in the crash tests, and a
  // worker takes a few seconds to load (many on a busy machine), so a few are kept ready.
  const spares: Array<Promise<HeldWorker>> = [];
  const downstairsLoops: number[] = [];
  const loadSpare = () => {
    const p = startHeldWorker({ taskQueue, env, logFile });
    p.catch(() => undefined); // awaited (and its error thrown) by the restart that needs it
    return p;
  };
  try {
    const t0 = Date.now();
    await labUp({ scenarios: [onMaas ? 'maas' : 'crucible', 'propolis'], log });
    if (onMaas) setRegionLabConfig(MAAS_HOSTS.region.name, { timings: FAST_TIMINGS });
    const t1 = Date.now();
    worker = await startWorkerProcess({ taskQueue, env, logFile });
    log(`lab up ${t1 - t0} ms, worker ${Date.now() - t1} ms`);
    for (let n = 0; n < SPARE_WORKERS; n++) spares.push(loadSpare());
  } catch (err) {
    await labDown({ log }).catch(() => undefined);
    restore();
    rmSync(labDir, { recursive: true, force: true });
    throw err;
  }
  const targets = PORTS.map((p) => `${storage.address}:${p}`);
  const sh = async (host: string, script: string) => {
    const r = await ctx[host].exec(script, { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`${host}: ${script.slice(0, 300)}\nexit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const lab: PropolisLab = {
    labDir,
    storage,
    taskQueue,
    get worker() {
      return worker;
    },
    ctx,
    targets,
    async seedRegions(opts = {}) {
      if (onMaas) throw new Error('seedRegions() seeds the crucible scenario; on the maas storage the seedRegions runbook does');
      const t0 = Date.now();
      downstairsLoops.push(...(await seedBootRegions(ctx[CRUCIBLE_HOST.name], opts)));
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
    // A kill that lands while the worker holds a workflow task (a quick step's activity had already
    // ended, and the worker was deciding the next step) loses that task: the server hands it to the
    // next worker when the task's timeout passes, 10 s by default (2 to 4 of the 27 kills of
    // live-migrate.test.ts waited that long). 3 s is still several times a full replay of a run's history on a loaded machine.
    start: (input, workflowId) => startRunbook('liveMigrate', input, { taskQueue, workflowId, workflowTaskTimeout: '3s' }),
    faults(sled, faults) {
      const file = propolisFaultsPath(ctx[sled === 'source' ? SOURCE_SLED.name : DESTINATION_SLED.name].hostDir);
      writeFileSync(`${file}.tmp`, JSON.stringify(faults));
      renameSync(`${file}.tmp`, file);
    },
    judge: (opts = {}) => judgeLiveMigration({ targets, ...(opts.image ? { imageFiles: lab.imageFiles() } : {}) }),
    serverLog(sled, from = 0) {
      const file = propolisLogPath(ctx[sled === 'source' ? SOURCE_SLED.name : DESTINATION_SLED.name].hostDir);
      return existsSync(file) ? readFileSync(file).subarray(from).toString('utf8') : '';
    },
    imageFiles: () => (JSON.parse(readFileSync(imageRecordPath(ctx[storage.name].hostDir), 'utf8')) as ImageRecord).files,
    sh,
    async restartWorker() {
      await worker.stop('SIGKILL');
      const t0 = Date.now();
      spares.push(loadSpare());
      const next = await spares.shift()!;
      next.release();
      worker = next;
      log(`worker killed; the next one polls after ${Date.now() - t0} ms`);
    },
    async stop() {
      try {
        await worker.stop('SIGKILL');
        for (const spare of spares.splice(0)) await (await spare.catch(() => null))?.stop('SIGKILL');
        // The downstairs first (the seedRegions runbook's under runsv, the ones seeded here by their
        // loops' pids): with region files open on its pools, the crucible teardown cannot export them
        // and waits, then forces (about a minute).
        await ctx[storage.name]
          .exec(`for p in ${PORTS.join(' ')}; do d=/run/sv/crucible-downstairs-$p; if [ -d $d ]; then sv force-stop $d; sv exit $d $d/log; fi; done >/dev/null 2>&1; true`)
          .catch(() => undefined);
        for (const pid of downstairsLoops) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        if (readdirSync(path.join(labDir, 'hosts')).some((h) => readManifest(h))) await labDown({ log });
      } finally {
        restore();
        rmSync(labDir, { recursive: true, force: true });
      }
    },
  };
  return lab;
}
