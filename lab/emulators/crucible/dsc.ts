import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { UsageError, all, one, parse, uint, type OptSpec } from './args';
import { CommandError, type Io } from './io';
import { readRegionDef } from './region';

// `dsc`, Crucible's downstairs controller (domain-apis.md B5): `create` makes N regions at
// `<region-dir>/<port>` with fixed uuids, `start` runs a downstairs on each (optionally creating
// them first) and answers a small HTTP control API, `cmd` talks to that API. Enough for an operator
// to compare with what a runbook does; the runbook itself does not use dsc (no import option).

const COMMON: OptSpec[] = [
  { long: 'block-size', value: 'BLOCK_SIZE' },
  { long: 'extent-size', value: 'EXTENT_SIZE' },
  { long: 'extent-count', value: 'EXTENT_COUNT' },
  { long: 'encrypted', flag: true },
  { long: 'ds-bin', value: 'DS_BIN' },
  { long: 'output-dir', value: 'OUTPUT_DIR' },
  { long: 'region-dir', multiple: true, value: 'REGION_DIR' },
  { long: 'region-count', value: 'REGION_COUNT' },
  { long: 'port-base', value: 'PORT_BASE' },
  { long: 'cleanup', flag: true },
];
const START_ONLY: OptSpec[] = [
  { long: 'create', flag: true },
  { long: 'control', value: 'CONTROL' },
  { long: 'read-only', flag: true },
];

export const DSC_DEFAULTS = {
  blockSize: 4096,
  extentSize: 100,
  extentCount: 15,
  dsBin: 'target/release/crucible-downstairs',
  outputDir: '/tmp/dsc',
  regionDir: '/var/tmp/dsc/region',
  regionCount: 3,
  portBase: 8810,
  control: '127.0.0.1:9998',
};

export function dscUuid(port: number): string {
  return `12345678-0000-0000-0000-${String(port).padStart(12, '0')}`;
}

interface Plan {
  dsBin: string;
  outputDir: string;
  regions: Array<{ cid: number; port: number; dir: string; uuid: string }>;
  geometry: { blockSize: number; extentSize: number; extentCount: number; encrypted: boolean };
}

function plan(p: ReturnType<typeof parse>): Plan {
  const count = uint(p, 'region-count', DSC_DEFAULTS.regionCount, 'REGION_COUNT');
  const base = uint(p, 'port-base', DSC_DEFAULTS.portBase, 'PORT_BASE');
  const dirs = all(p, 'region-dir');
  const regionDirs = dirs.length === 0 ? [DSC_DEFAULTS.regionDir] : dirs;
  if (regionDirs.length !== 1 && regionDirs.length !== count) {
    throw new CommandError(`Need either one region dir or one per region (${count}), got ${regionDirs.length}`);
  }
  const regions = Array.from({ length: count }, (_, cid) => {
    const port = base + 10 * cid;
    return { cid, port, dir: path.join(regionDirs.length === 1 ? regionDirs[0] : regionDirs[cid], String(port)), uuid: dscUuid(port) };
  });
  return {
    dsBin: one(p, 'ds-bin') ?? DSC_DEFAULTS.dsBin,
    outputDir: one(p, 'output-dir') ?? DSC_DEFAULTS.outputDir,
    regions,
    geometry: {
      blockSize: uint(p, 'block-size', DSC_DEFAULTS.blockSize, 'BLOCK_SIZE'),
      extentSize: uint(p, 'extent-size', DSC_DEFAULTS.extentSize, 'EXTENT_SIZE'),
      extentCount: uint(p, 'extent-count', DSC_DEFAULTS.extentCount, 'EXTENT_COUNT'),
      encrypted: p.flags.has('encrypted'),
    },
  };
}

function createRegions(pl: Plan, cleanup: boolean, io: Io): void {
  for (const r of pl.regions) {
    if (existsSync(r.dir)) {
      if (!cleanup) throw new CommandError(`Remove region ${JSON.stringify(r.dir)} before running`);
      io.out(`Removing existing region ${JSON.stringify(r.dir)}\n`);
      rmSync(r.dir, { recursive: true, force: true });
    }
    const g = pl.geometry;
    const args = ['create', '-d', r.dir, '--uuid', r.uuid, '--extent-count', String(g.extentCount), '--extent-size', String(g.extentSize), '--block-size', String(g.blockSize)];
    if (g.encrypted) args.push('--encrypted');
    io.out(`Creating region ${r.dir}: ${pl.dsBin} ${args.join(' ')}\n`);
    const res = spawnSync(pl.dsBin, args, { encoding: 'utf8' });
    if (res.error) throw new CommandError(`cannot run ${pl.dsBin}: ${res.error.message}`);
    if (res.status !== 0) throw new CommandError(`${pl.dsBin} create for ${r.dir} failed (exit ${res.status}): ${res.stderr.trim()}`);
  }
}

export function dscCommand(args: string[], io: Io): Promise<number> | number {
  const [sub, ...rest] = args;
  if (sub === 'create') {
    const p = parse(rest, COMMON);
    createRegions(plan(p), p.flags.has('cleanup'), io);
    return 0;
  }
  if (sub === 'start') return start(rest, io);
  if (sub === 'cmd') return cmd(rest, io);
  throw new UsageError(sub === undefined ? "'dsc' requires a subcommand but one was not provided\n  [subcommands: create, start, cmd]" : `unrecognized subcommand '${sub}'`);
}

type State = 'Stopped' | 'Starting' | 'Running' | 'Stopping' | 'Exit';

async function start(args: string[], io: Io): Promise<number> {
  const p = parse(args, [...COMMON, ...START_ONLY]);
  if (p.flags.has('cleanup') && !p.flags.has('create')) throw new UsageError("the argument '--cleanup' requires '--create'");
  const pl = plan(p);
  if (p.flags.has('create')) createRegions(pl, p.flags.has('cleanup'), io);
  for (const r of pl.regions) readRegionDef(r.dir);
  mkdirSync(pl.outputDir, { recursive: true });
  const mode = p.flags.has('read-only') ? 'ro' : 'rw';
  const procs = new Map<number, { child: ChildProcess | null; state: State }>();
  const launch = (cid: number) => {
    const r = pl.regions[cid];
    const log = openSync(path.join(pl.outputDir, `downstairs-${r.port}.txt`), 'a');
    const child = spawn(pl.dsBin, ['run', '-p', String(r.port), '-d', r.dir, '--mode', mode], { stdio: ['ignore', log, log] });
    const entry: { child: ChildProcess | null; state: State } = { child, state: 'Running' };
    procs.set(cid, entry);
    child.on('exit', () => {
      entry.state = entry.state === 'Stopping' ? 'Stopped' : 'Exit';
      entry.child = null;
    });
  };
  const stop = (cid: number) => {
    const e = procs.get(cid);
    if (e?.child) {
      e.state = 'Stopping';
      e.child.kill('SIGTERM');
    }
  };
  pl.regions.forEach((r) => launch(r.cid));
  const [host, portText] = (one(p, 'control') ?? DSC_DEFAULTS.control).split(':');
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const cidMatch = /^\/(state|stop|start)\/cid\/([0-9]+)$/.exec(url);
    if (cidMatch) {
      const cid = Number(cidMatch[2]);
      if (!procs.has(cid)) return reply(400, { message: `Invalid client ID: ${cid}` });
      if (cidMatch[1] === 'state') return reply(200, procs.get(cid)?.state);
      if (cidMatch[1] === 'stop') stop(cid);
      else if (!procs.get(cid)?.child) launch(cid);
      return reply(204, null);
    }
    if (url === '/allrunning')
      return reply(
        200,
        [...procs.values()].every((e) => e.state === 'Running'),
      );
    if (url === '/stop/all') {
      procs.forEach((_, cid) => stop(cid));
      return reply(204, null);
    }
    if (url === '/start/all') {
      procs.forEach((e, cid) => e.child || launch(cid));
      return reply(204, null);
    }
    if (url === '/region-info') {
      const d = readRegionDef(pl.regions[0].dir);
      return reply(200, { block_size: d.block_size, blocks_per_extent: d.extent_size.value, extent_count: d.extent_count });
    }
    if (url === '/shutdown') {
      reply(204, null);
      procs.forEach((_, cid) => stop(cid));
      setTimeout(() => process.exit(0), 200);
      return;
    }
    reply(404, { message: `no such control endpoint ${url}` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host, resolve);
  });
  io.out(`dsc: ${pl.regions.length} downstairs started (ports ${pl.regions.map((r) => r.port).join(', ')}), control on http://${host}:${portText}\n`);
  return await new Promise<number>((resolve) => {
    const quit = () => {
      procs.forEach((_, cid) => stop(cid));
      setTimeout(() => {
        resolve(0);
        process.exit(0);
      }, 200);
    };
    process.once('SIGTERM', quit);
    process.once('SIGINT', quit);
  });
}

async function cmd(args: string[], io: Io): Promise<number> {
  const p = parse(
    args,
    [
      { long: 'server', value: 'SERVER' },
      { long: 'cid', short: 'c', value: 'CID' },
    ],
    { positionals: 1 },
  );
  const server = (one(p, 'server') ?? `http://${DSC_DEFAULTS.control}`).replace(/\/$/, '');
  const what = p.positionals[0];
  const cid = () => {
    const c = one(p, 'cid');
    if (c === undefined) throw new UsageError('the following required arguments were not provided:\n  --cid <CID>');
    return uint(p, 'cid', 0, 'CID');
  };
  const routes: Record<string, () => string> = {
    shutdown: () => '/shutdown',
    'start-all': () => '/start/all',
    'stop-all': () => '/stop/all',
    start: () => `/start/cid/${cid()}`,
    stop: () => `/stop/cid/${cid()}`,
    state: () => `/state/cid/${cid()}`,
    'all-running': () => '/allrunning',
    'region-info': () => '/region-info',
  };
  if (what === undefined || !routes[what]) throw new UsageError(what === undefined ? "'dsc cmd' requires a subcommand" : `unrecognized subcommand '${what}'`);
  let res: Response;
  try {
    res = await fetch(`${server}${routes[what]()}`, { method: ['state', 'all-running', 'region-info'].includes(what) ? 'GET' : 'POST' });
  } catch (err) {
    throw new CommandError(`cannot reach dsc at ${server}: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new CommandError(`dsc answered ${res.status}: ${text}`);
  if (text) {
    const body = JSON.parse(text) as unknown;
    io.out(`${typeof body === 'string' ? body : JSON.stringify(body)}\n`);
  }
  return 0;
}
