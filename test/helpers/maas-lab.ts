import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { maasRequest, type MaasResponse } from '../../activities/maas/client';
import { labDown, labUp } from '../../lab/lab';
import { readManifest } from '../../lab/manifest';
import { scenarioContext } from '../../lab/scenario-context';
import { apiKeyFile, MACHINE_SYSTEM_ID, MAAS_HOSTS, regionStateDir, reloadRegion, resetMachine, seedRegion, setRegionLabConfig } from '../../lab/scenarios/maas';
import type { LabConfig } from '../../lab/emulators/maas/state';
import type { ScenarioContext } from '../../lab/scenarios/types';
import { repoRoot, testDataDir } from './paths';
import { startRunbook, testClient } from './temporal';
import { startHeldWorker, type HeldWorker } from './held-worker-process';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

/** Lab timings fast enough for tests (the emulator's defaults are for operators trying it out). */
export const FAST_TIMINGS: LabConfig['timings'] = { bootMs: 150, releaseMs: 150, cloudInitMs: 1200, nodeTimeoutMs: 6000, nodeTimeoutMinutes: 30 };

/**
 * The maas scenario (proper-raptor + the region emulator) in a lab folder of its own, optionally with
 * a worker process of its own reading that lab's inventory (the MAAS endpoint `lab-maas` and its key
 * file), so a test can SIGKILL the worker without touching the shared one.
 */
export interface MaasLab {
  labDir: string;
  baseUrl: string;
  systemId: string;
  machine: ScenarioContext;
  taskQueue: string;
  worker: WorkerProcess | null;
  key(user?: 'admin' | 'operator'): string;
  call(method: string, p: string, params?: Record<string, string>, opts?: { user?: 'admin' | 'operator' | null; multipart?: boolean }): Promise<MaasResponse>;
  json<T = any>(method: string, p: string, params?: Record<string, string>): Promise<T>;
  configure(config: { timings?: Partial<LabConfig['timings']>; faults?: LabConfig['faults'] }): void;
  /** The emulator's request log (one entry per API request). */
  requests(): Array<{ method: string; path: string; op: string | null; status: number }>;
  waitForStatus(statuses: string[], timeoutMs?: number): Promise<any>;
  sh(script: string): Promise<string>;
  start(type: string, input: unknown, workflowId?: string): Promise<WorkflowHandle>;
  /**
   * SIGKILL the worker (its whole process group) and put the standby worker in its place. With the
   * run's handle, its sticky task queue is reset at once, so its next workflow task goes straight
   * to the replacement instead of waiting out the dead worker's sticky schedule-to-start timeout.
   */
  restartWorker(run?: WorkflowHandle): Promise<void>;
  /** Have a standby worker loaded and connected before the first restartWorker() needs it. */
  warmStandby(): Promise<void>;
  /**
   * Seed 000 again without rebuilding the lab (about a second): proper-raptor's pools and files gone,
   * its disk back to EFI + one big root, the region re-seeded (machine Deployed, power type as given,
   * default ipmi) and reloaded by the running emulator, lab timings FAST_TIMINGS, no faults, and an
   * empty request log.
   */
  reset(opts?: { powerType?: string }): Promise<void>;
  /** What a plan must not change: the disk's table, the links, the pools, the loop-file folder. */
  fingerprint(): Promise<string>;
  stop(): Promise<void>;
}

export async function startMaasLab(name: string, opts: { worker?: boolean } = {}): Promise<MaasLab> {
  const previousLabDir = process.env.RUNBOOK_LAB_DIR;
  const labDir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  process.env.RUNBOOK_LAB_DIR = labDir;
  const log = (l: string) => (process.env.MAAS_TEST_LOG ? process.stderr.write(`[${name}] ${l}\n`) : undefined);
  const restore = () => {
    if (previousLabDir === undefined) delete process.env.RUNBOOK_LAB_DIR;
    else process.env.RUNBOOK_LAB_DIR = previousLabDir;
  };
  const taskQueue = `${name}-${randomUUID().slice(0, 8)}`;
  // Sticky queue 1 s: a killed worker's run stalls that long before the replacement takes it.
  const env = { RUNBOOK_INVENTORY: path.join(labDir, 'inventory.json'), RUNBOOK_LAB_DIR: labDir, RUNBOOK_ARCHIVE: '0', RUNBOOK_STICKY_QUEUE_TIMEOUT: '1s' };
  const logFile = path.join(testDataDir, `worker-${taskQueue}.log`);
  let worker: WorkerProcess | null = null;
  // A worker loaded ahead of the next restartWorker() (held-worker.ts), so a kill costs only Temporal
  // noticing it. Its failure to start surfaces at the restart that needs it.
  let standby: Promise<HeldWorker> | null = null;
  const startStandby = () => {
    const p = startHeldWorker({ taskQueue, env, logFile });
    void p.catch(() => undefined); // not lost: the restart that uses it awaits p and throws its error
    return p;
  };
  let timings = FAST_TIMINGS;
  try {
    await labUp({ scenarios: ['maas'], log });
    setRegionLabConfig(MAAS_HOSTS.region.name, { timings });
    if (opts.worker) worker = await startWorkerProcess({ taskQueue, env, logFile });
  } catch (err) {
    await labDown({ log }).catch(() => undefined);
    restore();
    rmSync(labDir, { recursive: true, force: true });
    throw err;
  }
  const baseUrl = `http://${MAAS_HOSTS.region.address}:5240/MAAS/`;
  const machine = scenarioContext(MAAS_HOSTS.machine.name, log);
  const key = (user: 'admin' | 'operator' = 'admin') => readFileSync(apiKeyFile(user), 'utf8').trim();
  const lab: MaasLab = {
    labDir,
    baseUrl,
    systemId: MACHINE_SYSTEM_ID,
    machine,
    taskQueue,
    get worker() {
      return worker;
    },
    key,
    call: (method, p, params, o = {}) => maasRequest(baseUrl, o.user === null ? null : key(o.user ?? 'admin'), method, p, params, { multipart: o.multipart }),
    async json(method, p, params) {
      const r = await lab.call(method, p, params);
      if (r.status !== 200) throw new Error(`${method} ${p} → ${r.status}: ${r.text}`);
      return JSON.parse(r.text);
    },
    configure(config) {
      timings = { ...timings, ...config.timings };
      setRegionLabConfig(MAAS_HOSTS.region.name, { timings, faults: config.faults ?? {} });
    },
    requests() {
      const file = path.join(regionStateDir(MAAS_HOSTS.region.name), 'requests.jsonl');
      return readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    },
    async waitForStatus(statuses, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let m: any;
      while (Date.now() < deadline) {
        m = await lab.json('GET', `machines/${MACHINE_SYSTEM_ID}/`);
        if (statuses.includes(m.status_name)) return m;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`machine still ${m?.status_name} after ${timeoutMs} ms, wanted ${statuses.join('|')}`);
    },
    async sh(script) {
      const r = await machine.exec(script);
      if (r.code !== 0) throw new Error(`proper-raptor: ${script.slice(0, 200)}\nexit ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    start: (type, input, workflowId) => startRunbook(type, input, { taskQueue, workflowId }),
    async warmStandby() {
      standby ??= startStandby();
      await standby;
    },
    async restartWorker(run) {
      const next = standby ?? startStandby();
      await worker?.stop('SIGKILL');
      if (run) {
        const c = await testClient();
        await c.workflowService.resetStickyTaskQueue({ namespace: c.options.namespace, execution: { workflowId: run.workflowId } });
      }
      const held = await next;
      held.release();
      worker = held;
      standby = startStandby();
    },
    async reset(o = {}) {
      await resetMachine(machine);
      seedRegion(MAAS_HOSTS.region.name, MAAS_HOSTS.machine.name, MAAS_HOSTS.machine.address, { keepKeys: true, powerType: o.powerType });
      timings = FAST_TIMINGS;
      setRegionLabConfig(MAAS_HOSTS.region.name, { timings });
      await reloadRegion(MAAS_HOSTS.region.address);
      writeFileSync(path.join(regionStateDir(MAAS_HOSTS.region.name), 'requests.jsonl'), '');
    },
    fingerprint: () =>
      lab.sh('sfdisk -J $(readlink -f /dev/disk/by-dname/sda); ls -l /dev/disk/by-dname /dev/disk/by-partuuid; zpool list -H -o name,health; ls -la /var/lib/crucible-pools; cloud-init status'),
    async stop() {
      try {
        await worker?.stop('SIGKILL');
        await (await standby?.catch(() => null))?.stop('SIGKILL');
        if (readdirSync(path.join(labDir, 'hosts')).some((h) => readManifest(h))) await labDown({ log });
      } finally {
        restore();
        rmSync(labDir, { recursive: true, force: true });
      }
    },
  };
  return lab;
}
