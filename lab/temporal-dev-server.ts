import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { RUNBOOK_SEARCH_ATTRIBUTES } from '../workflows/engine/search-attributes';

const repoRoot = path.resolve(__dirname, '..');
export const temporalBinary = path.join(repoRoot, '.tools', 'bin', 'temporal');
export const dataDir = process.env.RUNBOOK_DATA_DIR ?? path.join(repoRoot, '.data');
const pidFile = path.join(dataDir, 'temporal.pid');
const logFile = path.join(dataDir, 'temporal.log');

export const DEV_SERVER = { ip: '127.0.0.1', grpcPort: 7233, uiPort: 8233 } as const;
export const uiUrl = `http://${DEV_SERVER.ip}:${DEV_SERVER.uiPort}`;

type Log = (msg: string) => void;

async function grpcAnswers(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 1000 });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of the dev server this project started, if it is still running. */
export function ourDevServerPid(): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
}

/**
 * Each history shard reads its transfer and timer queues at most 20 times a second by default, a
 * token bucket: a run's first ~15 tasks go at once, then every workflow or activity task waits up to
 * 50 ms to be handed to matching, and a runbook step (one workflow task and one activity task) costs
 * ~100 ms instead of ~30 ms (bench/engine-step-cost.ts). A one-shard dev server has no other shard
 * to share the load with; the limit protects a cluster's database, not SQLite on one machine.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Record<string, number> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
  // Search attribute upserts (RunbookStep on every step) reach the UI's list through this queue.
  'history.visibilityProcessorMaxPollRPS': 1000,
};

/**
 * Start the real Temporal dev server (SQLite under .data/, UI on 127.0.0.1:8233, gRPC on 7233) with the
 * engine's search attributes, or reuse one that already answers. Returns whether this call started it,
 * so a caller (the test suite) stops only what it started.
 */
export async function ensureTemporalDevServer(log: Log = () => {}): Promise<{ started: boolean; pid?: number }> {
  const address = `${DEV_SERVER.ip}:${DEV_SERVER.grpcPort}`;
  if (await grpcAnswers(address)) {
    await ensureSearchAttributes(address);
    return { started: false, pid: ourDevServerPid() };
  }
  if (!existsSync(temporalBinary)) throw new Error(`the Temporal CLI is missing at ${temporalBinary}: run \`npm run setup\``);
  mkdirSync(dataDir, { recursive: true });
  const args = [
    'server', 'start-dev',
    '--ip', DEV_SERVER.ip,
    '--port', String(DEV_SERVER.grpcPort),
    '--ui-port', String(DEV_SERVER.uiPort),
    '--db-filename', path.join(dataDir, 'temporal.db'),
    '--log-level', 'warn',
    ...RUNBOOK_SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${a.cliType}`]),
    ...Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]),
  ];
  log(`starting the Temporal dev server (log: ${logFile})`);
  const out = openSync(logFile, 'a');
  const child = spawn(temporalBinary, args, { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  if (!child.pid) throw new Error('could not start the Temporal dev server');
  writeFileSync(pidFile, String(child.pid));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!pidAlive(child.pid)) throw new Error(`the Temporal dev server exited at start; see ${logFile}`);
    if (await grpcAnswers(address)) {
      await ensureSearchAttributes(address);
      log(`Temporal dev server ready: gRPC ${address}, UI ${uiUrl}`);
      return { started: true, pid: child.pid };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the Temporal dev server did not answer on ${address} within 60 s; see ${logFile}`);
}

/** A server started by someone else may lack our search attributes; add what is missing. */
async function ensureSearchAttributes(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    const missing = RUNBOOK_SEARCH_ATTRIBUTES.filter((a) => !(a.name in (existing.customAttributes ?? {})));
    if (missing.length === 0) return;
    await connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(missing.map((a) => [a.name, a.indexedValueType])),
    });
  } finally {
    await connection.close();
  }
}

export async function stopTemporalDevServer(log: Log = () => {}): Promise<void> {
  const pid = ourDevServerPid();
  if (pid === undefined) return;
  log(`stopping the Temporal dev server (pid ${pid})`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(pidFile, { force: true });
}
