// Run the engine drill's `true` steps against a dev server of a given configuration and profile
// them from the history. Shared by bench/engine-step-cost.ts (before/after in one run) and
// bench/step-profile.ts (one thing toggled at a time).
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type WorkerOptions } from '@temporalio/worker';
import { startDevServer, type DevServerSettings } from '../lab/temporal-dev-server';
import { runbookDataConverter } from '../workers/data-converter';
import { createRunbooksWorker } from '../workers/runbooks-worker';
import type { RunbookResult } from '../workflows/engine/runbook';
import { profileLocalSteps, profileSteps, type StepProfile } from './history-profile';

export interface StepRunConfig {
  label: string;
  server: DevServerSettings;
  worker?: Partial<WorkerOptions>;
  /** engineDrill input overrides (e.g. action). */
  drill?: Record<string, unknown>;
  /** The workflow that runs the steps: engineDrill (default) or bench/bare-steps-workflow.ts's bareSteps. */
  workflowType?: 'engineDrill' | 'bareSteps';
}

export interface StepRunResult {
  label: string;
  profile: StepProfile;
  wallPerStep: number;
  /** CPU time per step (ms), which load on the machine does not inflate the way it inflates latency. */
  cpuPerStep: { server: number; worker: number };
  /** The worker's own latency metrics over the measured run: mean ms per observation, by metric. */
  workerMeans: Record<string, number>;
}

/** Where the worker's Prometheus metrics are served, when the bench installed them (installWorkerMetrics). */
let metricsAddress: string | undefined;

/**
 * The worker's own timing, from the SDK core's latency histograms (served for scraping): must run
 * before the first worker connection of the process.
 */
export function installWorkerMetrics(bindAddress = '127.0.0.1:9464'): void {
  Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { metrics: { prometheus: { bindAddress } } } });
  metricsAddress = bindAddress;
}

/** utime + stime of a process, ms (all its threads). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  // after the command: state is field 3, utime 14, stime 15 (1-based in proc(5)), in clock ticks
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function scrapeLatencies(): Promise<Map<string, { sum: number; count: number }>> {
  const out = new Map<string, { sum: number; count: number }>();
  if (!metricsAddress) return out;
  const text = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  for (const line of text.split('\n')) {
    const m = /^(temporal_\w*latency\w*)_(sum|count)(?:\{[^}]*\})? ([\d.e+-]+)$/.exec(line);
    if (!m) continue;
    const entry = out.get(m[1]) ?? { sum: 0, count: 0 };
    entry[m[2] as 'sum' | 'count'] += Number(m[3]);
    out.set(m[1], entry);
  }
  return out;
}

function meansBetween(before: Map<string, { sum: number; count: number }>, after: Map<string, { sum: number; count: number }>): Record<string, number> {
  const means: Record<string, number> = {};
  for (const [name, a] of after) {
    const b = before.get(name) ?? { sum: 0, count: 0 };
    const n = a.count - b.count;
    // core reports these histograms in milliseconds
    if (n > 0) means[name] = (a.sum - b.sum) / n;
  }
  return means;
}

/**
 * A private dev server (its own port and database file, headless, started and stopped here) so the
 * configurations compared never share state, and a developer's own server on 7233 is left alone.
 */
export async function runSteps(config: StepRunConfig, opts: { host: string; steps: number; port: number }): Promise<StepRunResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-server-'));
  const server = await startDevServer({ grpcPort: opts.port, headless: true, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log'), settings: config.server });
  try {
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, dataConverter: runbookDataConverter });
    const workerConnection = await NativeConnection.connect({ address: server.address });
    const taskQueue = `bench-${process.pid}`;
    const worker = await createRunbooksWorker({ connection: workerConnection, namespace: 'default', taskQueue, ...config.worker });
    const running = worker.run();
    try {
      // one warm-up run so bundle loading and the SSH connection are not counted
      for (const warm of [true, false]) {
        const before = warm ? undefined : await scrapeLatencies();
        const cpuBefore = { server: processCpuMs(server.pid), worker: ownCpuMs() };
        const started = Date.now();
        const workflowId = `bench/engine-step/${Date.now()}`;
        const steps = warm ? 3 : opts.steps;
        const args = config.workflowType === 'bareSteps' ? [{ host: opts.host, steps }] : [{ host: opts.host, dir: '/var/tmp/engine-drill/bench', action: 'true', steps, ...config.drill }];
        const result = (await client.workflow.execute(config.workflowType ?? 'engineDrill', { taskQueue, workflowId, args })) as Pick<RunbookResult<unknown>, 'outcome'>;
        if (warm) continue;
        const wall = Date.now() - started;
        if (result.outcome !== 'succeeded') throw new Error(`bench run ${result.outcome}`);
        const cpuPerStep = { server: (processCpuMs(server.pid) - cpuBefore.server) / opts.steps, worker: (ownCpuMs() - cpuBefore.worker) / opts.steps };
        const workerMeans = meansBetween(before!, await scrapeLatencies());
        const history = await client.workflow.getHandle(workflowId).fetchHistory();
        const events = history.events ?? [];
        // Quick steps (local activities) leave markers instead of activity events.
        const profile = events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'drillTrue') ? profileSteps(events, 'drillTrue') : profileLocalSteps(events, 'drillTrue');
        return { label: config.label, profile, wallPerStep: wall / opts.steps, cpuPerStep, workerMeans };
      }
      throw new Error('unreachable');
    } finally {
      worker.shutdown();
      await running;
      await workerConnection.close();
      await connection.close();
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
