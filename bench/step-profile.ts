// Profile a runbook step one change at a time: each named variant runs the engine drill's `true`
// steps on its own fresh dev server and prints where the step's time goes (bench/history-profile.ts).
// Usage: tsx bench/step-profile.ts [variant ...]   (default: all; BENCH_STEPS=40)
import { labStatus, labDown, labUp } from '../lab/lab';
import { DEV_SERVER_SETTINGS_BEFORE, type DevServerSettings } from '../lab/temporal-dev-server';
import { closeSharedPool } from '../activities/ssh/shared-pool';
import { phaseTable } from './history-profile';
import { installWorkerMetrics, runSteps, type StepRunConfig } from './step-run';

const base: DevServerSettings = DEV_SERVER_SETTINGS_BEFORE;
const wal = { journal_mode: 'wal', synchronous: 'normal' };
const eager = { 'system.enableActivityEagerExecution': true };

export const VARIANTS: Record<string, StepRunConfig> = {
  baseline: { label: 'baseline', server: base },
  'wal-full': { label: 'WAL, sync FULL', server: { ...base, sqlitePragmas: { journal_mode: 'wal', synchronous: 'full' } } },
  wal: { label: 'WAL, sync NORMAL', server: { ...base, sqlitePragmas: wal } },
  'sync-off': { label: 'sync OFF (no durability)', server: { ...base, sqlitePragmas: { journal_mode: 'wal', synchronous: 'off' } } },
  eager: { label: 'eager activities', server: { ...base, dynamicConfig: { ...base.dynamicConfig, ...eager } } },
  'wal-eager': { label: 'WAL + eager', server: { sqlitePragmas: wal, dynamicConfig: { ...base.dynamicConfig, ...eager } } },
  'off-eager': { label: 'sync OFF + eager', server: { sqlitePragmas: { journal_mode: 'wal', synchronous: 'off' }, dynamicConfig: { ...base.dynamicConfig, ...eager } } },
  'wal-eager-main-thread': { label: 'WAL + eager, workflows on the main thread', server: { sqlitePragmas: wal, dynamicConfig: { ...base.dynamicConfig, ...eager } }, worker: { debugMode: true } },
  'wal-eager-2-threads': { label: 'WAL + eager, 2 workflow threads', server: { sqlitePragmas: wal, dynamicConfig: { ...base.dynamicConfig, ...eager } }, worker: { workflowThreadPoolSize: 2 } },
  'wal-eager-1-poller': {
    label: 'WAL + eager, 1 poller each',
    server: { sqlitePragmas: wal, dynamicConfig: { ...base.dynamicConfig, ...eager } },
    worker: { workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 2 }, activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 1 } },
  },
};

async function main(): Promise<void> {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(VARIANTS);
  const steps = Number(process.env.BENCH_STEPS ?? 40);
  installWorkerMetrics();
  const labWasUp = labStatus().some((h) => h.running);
  await labUp({ scenarios: ['base'] });
  try {
    const results = [];
    for (const [i, name] of names.entries()) {
      const variant = VARIANTS[name];
      if (!variant) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
      const r = await runSteps(variant, { host: 'node1', steps, port: 7300 + i });
      results.push({ label: r.label, profile: r.profile });
      console.log(`${r.label}: CPU per step: server ${r.cpuPerStep.server.toFixed(1)} ms, worker ${r.cpuPerStep.worker.toFixed(1)} ms; wall per step ${r.wallPerStep.toFixed(1)} ms`);
      console.log(
        `${r.label}: worker's own means (ms): ${Object.entries(r.workerMeans)
          .map(([k, v]) => `${k.replace(/^temporal_/, '')} ${v.toFixed(2)}`)
          .join(', ')}`,
      );
      console.log(
        `${r.label}: workflow tasks per step ${r.profile.workflowTasksPerStep.toFixed(2)}, events per step ${JSON.stringify(Object.fromEntries(Object.entries(r.profile.eventsPerStep).map(([k, v]) => [k, +v.toFixed(2)])))}`,
      );
    }
    console.log(`\n${phaseTable(results).join('\n')}`);
  } finally {
    closeSharedPool();
    if (!labWasUp) await labDown();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
