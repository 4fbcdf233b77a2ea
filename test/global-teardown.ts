import { existsSync, readFileSync, rmSync } from 'node:fs';
import { stopTemporalDevServer } from '../lab/temporal-dev-server';
import { labDown } from '../lab/lab';
import { stateFile, workflowBundleFile } from './helpers/paths';

/** Stop exactly what global-setup started: the shared worker (by pid), the lab, and the server if it started it. */
export default async function globalTeardown(): Promise<void> {
  if (!existsSync(stateFile)) return;
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { startedServer: boolean; startedLab: boolean; workerPid: number };
  // Pids are reused quickly here: signal the group only if that pid is still our worker (by its command line).
  const cmdline = (() => {
    try {
      return readFileSync(`/proc/${state.workerPid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  })();
  if (cmdline.includes('workers/main.ts')) {
    try {
      process.kill(-state.workerPid, 'SIGTERM'); // its process group: tsx and the worker it runs
    } catch {
      /* already gone */
    }
  }
  if (state.startedLab && process.env.RUNBOOK_KEEP_LAB !== '1') await labDown();
  if (state.startedServer && process.env.RUNBOOK_KEEP_SERVER !== '1') await stopTemporalDevServer();
  rmSync(workflowBundleFile, { force: true });
  rmSync(stateFile, { force: true });
}
