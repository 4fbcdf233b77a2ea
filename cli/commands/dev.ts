import { spawn } from 'node:child_process';
import path from 'node:path';
import { EXIT } from '../exit-codes';
import type { Output } from './runs';
import { startCommand } from './runs';

const repoRoot = path.resolve(__dirname, '..', '..');

/**
 * `npm start`: the Temporal dev server, the lab and a worker, then a hostFacts run against the lab;
 * it keeps serving until Ctrl-C, and then stops the worker and the lab it started.
 */
export async function devCommand(opts: { scenario?: string[] }, o: Output): Promise<number> {
  const { ensureTemporalDevServer, uiUrl } = await import('../../lab/temporal-dev-server');
  const { labUp, labDown, labStatus } = await import('../../lab/lab');
  await ensureTemporalDevServer((l) => o.out(l));
  // A lab that is already up (a test run, another terminal) is used and left up on Ctrl-C.
  const labWasUp = labStatus().some((h) => h.running);
  await labUp({ scenarios: ['base', ...(opts.scenario ?? [])], log: (l) => o.out(l) });
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
  o.out('running hostFacts against the lab:');
  const code = await startCommand('hostFacts', { input: path.join(repoRoot, 'runbooks', 'hostFacts', 'examples', 'lab.json'), wait: true }, o);
  o.out(`\nTemporal Web UI: ${uiUrl}/namespaces/default/workflows`);
  o.out('Serving until Ctrl-C. Try: npm run runbook -- start engineDrill --input runbooks/engineDrill/examples/lab.json --wait');
  if (code !== EXIT.ok) o.out('(the hostFacts run failed; see above)');
  await new Promise(() => undefined);
  return EXIT.ok;
}
