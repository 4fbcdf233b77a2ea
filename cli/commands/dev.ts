import { spawn } from 'node:child_process';
import path from 'node:path';
import { CliError, EXIT } from '../exit-codes';
import type { Output } from './runs';
import { startCommand } from './runs';
import { renderTour, tourStops, workflowUiLink } from './tour';

const repoRoot = path.resolve(__dirname, '..', '..');

/**
 * `npm start`: the Temporal dev server, the lab with every scenario and a worker; then what a new
 * operator should see first: hostFacts, the real job (fixReadonlyData on the broken host, in plan
 * mode, with its plan printed), and a numbered tour with one copy-paste command per runbook. It keeps
 * serving until Ctrl-C, and then stops the worker and the lab it started.
 */
export async function devCommand(opts: { scenario?: string[] }, o: Output): Promise<number> {
  const began = Date.now();
  const { scenarios } = await import('../../lab/scenarios');
  const unknown = (opts.scenario ?? []).filter((s) => !scenarios[s]);
  if (unknown.length) throw new CliError(`unknown lab scenario${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known scenarios: ${Object.keys(scenarios).join(', ')}`, EXIT.usage);
  const { ensureTemporalDevServer, uiUrl } = await import('../../lab/temporal-dev-server');
  const { labUp, labDown, labStatus } = await import('../../lab/lab');
  const { catalog, examplesDir } = await import('../../runbooks/catalog');
  const { HOST } = await import('../../lab/scenarios/readonly-data');
  const elapsed = () => `${((Date.now() - began) / 1000).toFixed(0)} s`;
  await ensureTemporalDevServer((l) => o.out(l));
  // A lab that is already up (a test run, another terminal) is used and left up on Ctrl-C.
  const labWasUp = labStatus().some((h) => h.running);
  // Every scenario in the registry (--scenario only narrows nothing: they are all wanted on a first run).
  const all = [...new Set(['base', ...Object.keys(scenarios), ...(opts.scenario ?? [])])];
  o.out(`bringing up the lab: ${all.join(', ')}`);
  await labUp({ scenarios: all, log: (l) => o.out(l) });
  const worker = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(repoRoot, 'workers', 'main.ts')], { stdio: ['ignore', 'inherit', 'inherit'] });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    o.out(`\nstopping the worker${labWasUp ? '' : ' and the lab'} (the Temporal server keeps running; \`npm run runbook -- server stop\` stops it)`);
    if (worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
    if (!labWasUp) await labDown({ log: (l) => o.out(l) });
    process.exit(0);
  };
  // Event handlers do not await: a failure while stopping is reported here, not left unhandled.
  const stopAndExit = () => {
    stop().catch((err: unknown) => {
      o.out(`stopping failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
  };
  process.on('SIGINT', stopAndExit);
  process.on('SIGTERM', stopAndExit);
  worker.once('exit', (code) => {
    if (!stopping) {
      o.out(`the worker exited (${code}); stopping`);
      stopAndExit();
    }
  });
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

  o.out(`\n[${elapsed()}] hostFacts: read-only facts from the lab's hosts`);
  const factsId = `hostFacts/tour-${stamp}`;
  const facts = await startCommand('hostFacts', { input: path.join(repoRoot, 'runbooks', 'hostFacts', 'examples', 'lab.json'), wait: true, id: factsId }, o);
  o.out(`  ${workflowUiLink(uiUrl, factsId)}`);

  o.out(`\n[${elapsed()}] the real job: ${HOST.name}'s /data is read-only and out of room (seed 002). fixReadonlyData's plan (changes nothing):`);
  const planId = `fixReadonlyData/plan-${stamp}`;
  const plan = await startCommand('fixReadonlyData', { input: path.join(repoRoot, 'runbooks', 'fixReadonlyData', 'examples', 'lab.json'), plan: true, wait: true, id: planId }, o);
  o.out(`  ${workflowUiLink(uiUrl, planId)}`);
  o.out(`  To repair it: tour step 1 below; it stops for approval before rebuild-offset-pvs and release-deleted-files (approve in the UI, or: npm run runbook -- approve <workflowId> <step>).`);

  o.out(`\n[${elapsed()}] ${renderTour(tourStops(catalog, { uiUrl, stamp, repoRoot, examplesDir })).join('\n')}`);
  o.out(`\nTemporal Web UI: ${uiUrl}/namespaces/default/workflows   Operators' guide: docs/operators.md`);
  o.out('Serving until Ctrl-C.');
  if (facts !== EXIT.ok) o.out('(the hostFacts run failed; see above)');
  if (plan !== EXIT.ok) o.out('(the fixReadonlyData plan failed; see above)');
  await new Promise(() => undefined);
  return EXIT.ok;
}
