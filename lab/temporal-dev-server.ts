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
export const DEV_SERVER_DYNAMIC_CONFIG_BEFORE: Record<string, number> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
  // Search attribute upserts (RunbookStep on every step) reach the UI's list through this queue.
  'history.visibilityProcessorMaxPollRPS': 1000,
};

export const DEV_SERVER_DYNAMIC_CONFIG: Record<string, number | boolean | string> = {
  ...DEV_SERVER_DYNAMIC_CONFIG_BEFORE,
  // Eager activity dispatch: the reply to the workflow task that schedules an activity on the
  // worker's own task queue carries the activity task itself, instead of a transfer-queue task, a
  // matching round trip and a poll (~10 ms of a ~40 ms step, bench/step-profile.ts). The activity's
  // start is recorded in the same write as the workflow task's completion, so a worker that dies
  // holding it is noticed by the heartbeat timeout like any started activity. The worker side is on
  // by default (allowEagerDispatch, maxEagerActivityReservationsPerWorkflowTask); the server's flag is
  // off by default. Activities routed to a site's queue are dispatched the ordinary way.
  'system.enableActivityEagerExecution': true,
  // The timer queue never fires a task earlier than now + this shift (default 1 s): every durable
  // timer (a step's retry backoff of 250 ms) and every activity timeout (a killed worker's heartbeat
  // timeout) came a second late. A kill and resume in live-migrate.test.ts cost ~5 s, two of them
  // this floor. The shift lets a cluster's timer readers batch; one SQLite dev server has nothing to
  // batch for.
  'history.timerProcessorMaxTimeShift': '10ms',
};

/**
 * The dev server's SQLite (the embedded default: one file under .data/) runs in its default rollback
 * journal with synchronous=FULL: every commit creates, syncs and deletes a journal file, and a step
 * makes at least two commits. WAL with synchronous=NORMAL appends each commit to the write-ahead log
 * and syncs only at checkpoints. A commit is in the OS's page cache when it returns, so it survives
 * a crash of the server PROCESS (test/server-crash.test.ts SIGKILLs it mid-run); a power loss or a
 * kernel crash can roll back the last commits (the database stays consistent, but work a worker did
 * in that window may be done again; our acts check before they act). A production cluster does not
 * use this: it runs on PostgreSQL/MySQL/Cassandra with their own durable commit settings.
 */
export const DEV_SERVER_SQLITE_PRAGMAS: Record<string, string> = { journal_mode: 'wal', synchronous: 'normal' };

/** How a dev server is configured: the dynamic config values and SQLite pragmas it starts with. */
export interface DevServerSettings {
  dynamicConfig: Record<string, number | boolean | string>;
  sqlitePragmas: Record<string, string>;
}

/** What `npm start`, the tests and the benchmarks start. */
export const DEV_SERVER_SETTINGS: DevServerSettings = { dynamicConfig: DEV_SERVER_DYNAMIC_CONFIG, sqlitePragmas: DEV_SERVER_SQLITE_PRAGMAS };

/** The configuration before the step-cost work (for the benchmark's before/after). */
export const DEV_SERVER_SETTINGS_BEFORE: DevServerSettings = { dynamicConfig: DEV_SERVER_DYNAMIC_CONFIG_BEFORE, sqlitePragmas: {} };

/** RUNBOOK_DEV_SERVER_CONFIG=before starts the dev server as it was before (to compare, or to rule it out). */
function configuredSettings(): DevServerSettings {
  return process.env.RUNBOOK_DEV_SERVER_CONFIG === 'before' ? DEV_SERVER_SETTINGS_BEFORE : DEV_SERVER_SETTINGS;
}

export interface DevServerOptions {
  ip?: string;
  grpcPort?: number;
  uiPort?: number;
  /** Without a UI (a benchmark's own server). */
  headless?: boolean;
  dbFile?: string;
  logFile?: string;
  pidFile?: string;
  settings?: DevServerSettings;
}

export interface DevServerProcess {
  pid: number;
  address: string;
  /** SIGTERM (or the given signal), and wait until it is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function devServerArgs(o: Required<Omit<DevServerOptions, 'pidFile'>>): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    o.ip,
    '--port',
    String(o.grpcPort),
    ...(o.headless ? ['--headless'] : ['--ui-port', String(o.uiPort)]),
    '--db-filename',
    o.dbFile,
    '--log-level',
    'warn',
    ...RUNBOOK_SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${a.cliType}`]),
    ...Object.entries(o.settings.dynamicConfig).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]),
    ...Object.entries(o.settings.sqlitePragmas).flatMap(([key, value]) => ['--sqlite-pragma', `${key}=${value}`]),
  ];
}

async function stopPid(pid: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!pidAlive(pid)) return;
  process.kill(pid, signal);
  const deadline = Date.now() + 15_000;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Start a dev server process (detached: it outlives the caller unless stopped) and wait until it
 * answers with the engine's search attributes in place.
 */
export async function startDevServer(opts: DevServerOptions = {}, log: Log = () => {}): Promise<DevServerProcess> {
  const o = {
    ip: opts.ip ?? DEV_SERVER.ip,
    grpcPort: opts.grpcPort ?? DEV_SERVER.grpcPort,
    uiPort: opts.uiPort ?? DEV_SERVER.uiPort,
    headless: opts.headless ?? false,
    dbFile: opts.dbFile ?? path.join(dataDir, 'temporal.db'),
    logFile: opts.logFile ?? logFile,
    settings: opts.settings ?? configuredSettings(),
  };
  const address = `${o.ip}:${o.grpcPort}`;
  if (!existsSync(temporalBinary)) throw new Error(`the Temporal CLI is missing at ${temporalBinary}: run \`npm run setup\``);
  mkdirSync(path.dirname(o.dbFile), { recursive: true });
  log(`starting the Temporal dev server (log: ${o.logFile})`);
  const out = openSync(o.logFile, 'a');
  const child = spawn(temporalBinary, devServerArgs(o), { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  if (!child.pid) throw new Error('could not start the Temporal dev server');
  const pid = child.pid;
  if (opts.pidFile) writeFileSync(opts.pidFile, String(pid));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) throw new Error(`the Temporal dev server exited at start; see ${o.logFile}`);
    if (await grpcAnswers(address)) {
      await ensureSearchAttributes(address);
      log(`Temporal dev server ready: gRPC ${address}${o.headless ? '' : `, UI http://${o.ip}:${o.uiPort}`}`);
      return { pid, address, stop: (signal) => stopPid(pid, signal) };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stopPid(pid, 'SIGKILL');
  throw new Error(`the Temporal dev server did not answer on ${address} within 60 s; see ${o.logFile}`);
}

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
  mkdirSync(dataDir, { recursive: true });
  const server = await startDevServer({ pidFile }, log);
  return { started: true, pid: server.pid };
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
  await stopPid(pid);
  rmSync(pidFile, { force: true });
}
