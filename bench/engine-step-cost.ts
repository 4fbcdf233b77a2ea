// Benchmark: what one runbook step costs. Side by side, in one run:
//   A. a runbook step that runs `true` on a lab host (engineDrill action "true": workflow task,
//      activity scheduling, SSH over the pooled connection, audit) — the engine's per-step cost;
//   B. the same command over a warm ssh2 connection (our SSH layer alone);
//   C. `ssh host true` with OpenSSH's client (a new connection each time, as a shell script does).
// Usage: npm run bench  (needs root for the lab; starts the dev server and lab if they are down)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { sh } from '../activities/ssh/command';
import { runRemote } from '../activities/ssh/exec';
import { defaultInventoryPath, loadInventory } from '../activities/ssh/inventory';
import { sharedPool, closeSharedPool } from '../activities/ssh/shared-pool';
import { labUp } from '../lab/lab';
import { ensureTemporalDevServer } from '../lab/temporal-dev-server';
import { connectClient } from '../workers/connection';
import { createRunbooksWorker } from '../workers/runbooks-worker';
import type { RunbookResult } from '../workflows/engine/runbook';
import { fmtMs, median, percentile } from './stats';

const HOST = 'node1';
const STEPS = Number(process.env.BENCH_STEPS ?? 40);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40);

async function viaRunbook(): Promise<{ perStep: number[]; wallPerStep: number }> {
  const client = await connectClient();
  const taskQueue = `bench-${process.pid}`;
  const worker: Worker = await createRunbooksWorker({ taskQueue });
  const running = worker.run();
  try {
    // one warm-up run so bundle loading and the SSH connection are not counted
    for (const warm of [true, false]) {
      const started = Date.now();
      const result = (await client.workflow.execute('engineDrill', {
        taskQueue,
        workflowId: `bench/engine-step/${Date.now()}`,
        args: [{ host: HOST, dir: '/var/tmp/engine-drill/bench', action: 'true', steps: warm ? 3 : STEPS }],
      })) as RunbookResult<unknown>;
      if (warm) continue;
      const wall = Date.now() - started;
      if (result.outcome !== 'succeeded') throw new Error(`bench run ${result.outcome}`);
      // Per step = time between consecutive drillTrue schedulings, from the server's event timestamps
      // (workflow-side Date.now() is the activation time and too coarse for this).
      const handle = client.workflow.getHandle(result.audit.workflowId);
      const history = await handle.fetchHistory();
      const scheduled = (history.events ?? [])
        .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'drillTrue')
        .map((e) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6));
      const perStep = scheduled.slice(1).map((t, i) => t - scheduled[i]);
      return { perStep, wallPerStep: wall / STEPS };
    }
    throw new Error('unreachable');
  } finally {
    worker.shutdown();
    await running;
    await client.connection.close();
  }
}

async function viaWarmSsh2(): Promise<number[]> {
  const pool = sharedPool();
  await runRemote(pool, HOST, sh`true`); // connect once
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = process.hrtime.bigint();
    const r = await runRemote(pool, HOST, sh`true`);
    if (r.record.exitCode !== 0) throw new Error('true failed');
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return samples;
}

function viaOpenSshClient(): number[] {
  const inventory = loadInventory(defaultInventoryPath());
  const host = inventory.hosts[HOST];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-ssh-'));
  const knownHosts = path.join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${host.address} ${host.hostKey}\n`);
  const key = 'file' in host.key ? host.key.file : '';
  readFileSync(key); // fail early if missing
  const args = ['-i', key, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `${host.user}@${host.address}`, 'true'];
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync('ssh', args, { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`ssh exited ${r.status}`);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return samples;
}

async function main(): Promise<void> {
  await ensureTemporalDevServer();
  await labUp({ scenarios: ['base'] });
  const runbook = await viaRunbook();
  const ssh2 = await viaWarmSsh2();
  const openssh = viaOpenSshClient();
  closeSharedPool();
  const a = median(runbook.perStep);
  const b = median(ssh2);
  const c = median(openssh);
  const rows = [
    ['A. runbook step running `true` (engine)', a, percentile(runbook.perStep, 90)],
    ['B. `true` over a warm ssh2 connection', b, percentile(ssh2, 90)],
    ['C. `ssh host true` (OpenSSH client)', c, percentile(openssh, 90)],
  ] as const;
  console.log(`\nPer-step cost on ${HOST} (${STEPS} runbook steps, ${SAMPLES} samples each, ${os.cpus().length} cores)\n`);
  console.log('| what | median | p90 |');
  console.log('|---|---|---|');
  for (const [what, med, p90] of rows) console.log(`| ${what} | ${fmtMs(med)} | ${fmtMs(p90)} |`);
  console.log(`\nrunbook wall time per step (incl. workflow start/finish, resolve-hosts, read-log): ${fmtMs(runbook.wallPerStep)}`);
  console.log(`runbook steps 1-10: median ${fmtMs(median(runbook.perStep.slice(0, 10)))}; steps 11+: median ${fmtMs(median(runbook.perStep.slice(10)))}`);
  console.log(`ratios: A/B = ${(a / b).toFixed(1)}x   A/C = ${(a / c).toFixed(2)}x   C/B = ${(c / b).toFixed(1)}x`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
