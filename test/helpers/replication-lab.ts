import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { labDown, labUp } from '../../lab/lab';
import { readManifest } from '../../lab/manifest';
import { scenarioContext } from '../../lab/scenario-context';
import { scenarios } from '../../lab/scenarios';
import type { ScenarioContext } from '../../lab/scenarios/types';
import { checkProjectReplicas, createZfsProjectsScenario, generateProjects, type ProjectsManifest } from '../../lab/scenarios/zfs-projects';
import type { CheckOptions, ProjectPlacement, ProjectsCheckResult } from '../../lab/scenarios/zfs-projects/check';
import type { GenerateOptions } from '../../lab/scenarios/zfs-projects/plan';
import { testDataDir } from './paths';
import { startRunbook, testClient } from './temporal';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

/**
 * The zfs-projects scenario's three compute hosts (real sshd + one zfs-fuse daemon and pool each) in
 * a lab folder of their own, with a worker process of their own on a task queue of their own that
 * reads this lab's inventory. So a replication test can cut connections, stop sshds and SIGKILL its
 * worker without touching the shared test worker or a developer's lab, and the catalog's host names
 * (compute1..3) work as they do in `runbook lab up --scenario zfs-projects`.
 */
export interface ReplicationLab {
  hosts: string[];
  taskQueue: string;
  labDir: string;
  ctx: Record<string, ScenarioContext>;
  worker: WorkerProcess;
  generate(opts: Partial<GenerateOptions> & { count: number; seed: string }): Promise<ProjectsManifest>;
  start(type: string, input: unknown, workflowId?: string): Promise<WorkflowHandle>;
  check(projects: ProjectPlacement[], opts?: CheckOptions): Promise<ProjectsCheckResult>;
  /** Run a script in a host (nsenter, works while its sshd is down); throws unless it exits 0 within 60 s. */
  sh(host: string, script: string): Promise<string>;
  /**
   * Terminate every run still open on this lab's task queue (and the ones this lab started): a test
   * that failed or timed out must not leave a run that goes on changing the hosts under later tests.
   * Returns the workflow ids it terminated.
   */
  terminateOpenRuns(reason: string): Promise<string[]>;
  restartWorker(): Promise<void>;
  stop(): Promise<void>;
}

/** `base` picks the hosts' addresses: 127.0.0.<base>..<base+2>, distinct per test file. */
export async function startReplicationLab(name: string, base: number): Promise<ReplicationLab> {
  const previousLabDir = process.env.RUNBOOK_LAB_DIR;
  const labDir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  process.env.RUNBOOK_LAB_DIR = labDir;
  const scenarioName = `${name}-lab`;
  const hosts = [1, 2, 3].map((n) => ({ name: `compute${n}`, address: `127.0.0.${base + n - 1}` }));
  scenarios[scenarioName] = createZfsProjectsScenario({ name: scenarioName, hosts, projects: null, poolBytes: 8 * 2 ** 30 });
  const log = (l: string) => (process.env.REPLICATION_TEST_LOG ? process.stderr.write(`[${name}] ${l}\n`) : undefined);
  const restore = () => {
    delete scenarios[scenarioName];
    if (previousLabDir === undefined) delete process.env.RUNBOOK_LAB_DIR;
    else process.env.RUNBOOK_LAB_DIR = previousLabDir;
  };
  const ctx = Object.fromEntries(hosts.map((h) => [h.name, scenarioContext(h.name, log)]));
  const taskQueue = `${name}-${randomUUID().slice(0, 8)}`;
  const env = { RUNBOOK_INVENTORY: path.join(labDir, 'inventory.json'), RUNBOOK_LAB_DIR: labDir, RUNBOOK_ARCHIVE: '0' };
  const logFile = path.join(testDataDir, `worker-${taskQueue}.log`);
  let worker: WorkerProcess;
  const started = new Set<string>();
  try {
    await labUp({ scenarios: [scenarioName], log });
    worker = await startWorkerProcess({ taskQueue, env, logFile });
  } catch (err) {
    // Leave no half-built lab, and no RUNBOOK_LAB_DIR pointing at it for the next test file.
    await labDown({ log }).catch(() => undefined);
    restore();
    rmSync(labDir, { recursive: true, force: true });
    throw err;
  }
  const lab: ReplicationLab = {
    hosts: hosts.map((h) => h.name),
    taskQueue,
    labDir,
    ctx,
    get worker() {
      return worker;
    },
    // The seed gets this lab's suffix: project ids (and so the workflow ids `replicate/<project>`)
    // must not collide with runs an aborted earlier test left open on the server.
    generate: (opts) =>
      generateProjects(
        hosts.map((h) => ctx[h.name]),
        { divergedWrite: 0, divergedSnapshot: 0, missingBaseOlderCommon: 0, missingBaseNoCommon: 0, ...opts, seed: `${opts.seed}/${path.basename(labDir)}` },
      ),
    async start(type, input, workflowId) {
      const handle = await startRunbook(type, input, { taskQueue, workflowId });
      started.add(handle.workflowId);
      return handle;
    },
    check: (projects, opts) =>
      within(CHECK_BOUND_MS, `lab.check of ${projects.length} projects`, checkProjectReplicas(Object.values(ctx), projects, { compareContent: 'all', requireQuota: true, ...opts })),
    async sh(host, script) {
      const r = await ctx[host].exec(script, { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`${host}: ${script.slice(0, 200)}\nexit ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    async terminateOpenRuns(reason) {
      const client = await testClient();
      const ids = new Set(started);
      started.clear();
      // Runs this lab did not start itself (children of a sweep, a sweep the CLI started) poll its queue too.
      for await (const w of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` })) ids.add(w.workflowId);
      const terminated: string[] = [];
      await Promise.all(
        [...ids].map(async (id) => {
          const handle = client.workflow.getHandle(id);
          const d = await handle.describe().catch(() => null);
          if (d?.status.name !== 'RUNNING') return;
          await handle.terminate(reason).then(
            () => terminated.push(id),
            () => undefined,
          );
        }),
      );
      return terminated;
    },
    async restartWorker() {
      await worker.stop('SIGKILL');
      worker = await startWorkerProcess({ taskQueue, env, logFile });
    },
    async stop() {
      try {
        await lab.terminateOpenRuns('the test file ended').catch(() => undefined);
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

/** A lab check reads every file of every snapshot it compares: bounded, so a hang fails the test with a name. */
const CHECK_BOUND_MS = 120_000;

/** `promise`, or a failure after `ms` that names what was awaited. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A project made by hand on `host`: quota, files of a few sizes (plus `bigMiB` of random data), one snapshot-free head. */
export async function createProject(lab: ReplicationLab, host: string, opts: { quotaBytes?: number; bigMiB?: number } = {}): Promise<string> {
  const id = randomUUID();
  const ds = `projects/${id}`;
  await lab.sh(
    host,
    [
      `zfs create -o quota=${opts.quotaBytes ?? 1024 * 2 ** 20} ${ds}`,
      `mkdir -p /projects/${id}/src /projects/${id}/data`,
      `printf 'hello\\n' > /projects/${id}/README`,
      `head -c 70000 /dev/urandom > /projects/${id}/src/a.bin`,
      `head -c 3000 /dev/urandom > /projects/${id}/data/b.csv`,
      `ln -s src/a.bin /projects/${id}/latest`,
      opts.bigMiB ? `head -c ${opts.bigMiB}M /dev/urandom > /projects/${id}/data/big.bin` : 'true',
    ].join(' && '),
  );
  return id;
}

/** The snapshots of a dataset on a host, oldest first, as `name guid` pairs (read outside the runbook). */
export async function snapshotsOn(lab: ReplicationLab, host: string, dataset: string): Promise<Array<{ name: string; guid: string }>> {
  const out = await lab.ctx[host].exec(`zfs get -Hp -d 1 -o name,property,value guid,createtxg ${dataset}`, { timeoutMs: 60_000 });
  if (out.code !== 0) return [];
  const snaps = new Map<string, { name: string; guid: string; txg: number }>();
  for (const line of out.stdout.trim().split('\n')) {
    const [name, prop, value] = line.split('\t');
    if (!name?.includes('@')) continue;
    const s = snaps.get(name) ?? { name: name.slice(name.indexOf('@') + 1), guid: '', txg: 0 };
    if (prop === 'guid') s.guid = value;
    if (prop === 'createtxg') s.txg = Number(value);
    snaps.set(name, s);
  }
  return [...snaps.values()].sort((a, b) => a.txg - b.txg).map(({ name, guid }) => ({ name, guid }));
}

/** One property of a dataset, read with plain `zfs get -H` in the host. */
export async function zfsProperty(lab: ReplicationLab, host: string, dataset: string, property: string): Promise<{ value: string; source: string }> {
  const out = await lab.sh(host, `zfs get -Hp -o value,source ${property} ${dataset}`);
  const [value, source] = out.trim().split('\t');
  return { value, source };
}
