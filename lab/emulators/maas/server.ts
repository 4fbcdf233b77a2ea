import { appendFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { authenticate } from './auth';
import { LEVEL_RANK, RESULT_TYPE, type EventLevel } from './enums';
import { ApiError, badRequest, notFound } from './errors';
import { first, parseBody, parseQuery, type Params } from './form';
import { Region } from './region';
import { renderBlockDevice, renderMachine, renderPartition, renderResultSet, renderScript } from './render';
import { findScript, upsertScript } from './scripts';
import type { MachineState, UserState } from './state';

// The region API's HTTP side: OAuth, `op=` dispatch, routes under /MAAS/api/2.0/, MAAS's error
// answers, and a request log (one JSON line per request) a test reads to prove what was called.

export const API_BASE = '/MAAS/api/2.0/';
/** Lab only (no such path in MAAS): re-read the state file a test has just re-seeded. */
export const LAB_RELOAD_PATH = '/MAAS/lab/reload';

export const CAPABILITIES = [
  'networks-management',
  'static-ipaddresses',
  'ipv6-deployment-ubuntu',
  'devices-management',
  'storage-deployment-ubuntu',
  'network-deployment-ubuntu',
  'bridging-interface-ubuntu',
  'bridging-automatic-ubuntu',
  'authenticate-api',
];

interface Reply {
  status: number;
  body: unknown;
  text?: boolean;
}

const ok = (body: unknown): Reply => ({ status: 200, body });
const unknownOp = (method: string, op: string | undefined): ApiError => new ApiError(400, `Unrecognised signature: method=${method} op=${op ?? 'None'}`);

function p(params: Params, key: string): string | undefined {
  return first(params, key);
}

export function createServer(dir: string): http.Server {
  const region = new Region(dir);
  const logFile = path.join(dir, 'requests.jsonl');
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://maas');
      const method = req.method ?? 'GET';
      let reply: Reply;
      let user: string | undefined;
      const params = parseQuery(url.search);
      try {
        parseBody(req.headers['content-type'], Buffer.concat(chunks), params);
        if (url.pathname === LAB_RELOAD_PATH && method === 'POST') {
          region.reload();
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
          res.end('reloaded');
          return; // not in the request log: it is the lab's, not the API's
        }
        if (!url.pathname.startsWith(API_BASE)) throw new ApiError(404, 'Not Found');
        const route = url.pathname.slice(API_BASE.length).replace(/\/+$/, '');
        if (route === 'version' && method === 'GET') {
          reply = ok({ capabilities: CAPABILITIES, version: '3.4.1', subversion: 'lab-emulator' });
        } else {
          region.state = region.state; // one in-memory state, saved after each change
          const auth = authenticate(req.headers.authorization, region.state.users);
          if (!auth.ok) throw new ApiError(auth.status, auth.body);
          user = auth.user.username;
          reply = dispatch(region, auth.user, method, route, params);
        }
      } catch (err) {
        if (err instanceof ApiError) reply = { status: err.status, body: err.body, text: typeof err.body === 'string' };
        else reply = { status: 500, body: `lab emulator error: ${(err as Error).stack ?? String(err)}`, text: true };
      }
      const op = p(params, 'op');
      try {
        appendFileSync(logFile, `${JSON.stringify({ at: new Date().toISOString(), method, path: url.pathname, op: op ?? null, status: reply.status, user: user ?? null })}\n`);
      } catch {
        // the log is for tests; a full disk must not break the API
      }
      const send = () => {
        // No keep-alive: a client reusing a socket the server just timed out gets "other side closed".
        res.setHeader('connection', 'close');
        if (reply.text || typeof reply.body === 'string') {
          res.writeHead(reply.status, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(String(reply.body));
        } else {
          res.writeHead(reply.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(reply.body));
        }
      };
      const hold = region.config.faults.holdReply;
      const route = url.pathname.slice(API_BASE.length).replace(/\/+$/, '');
      if (hold && hold.request === `${method} ${route}${op ? ` op=${op}` : ''}`) setTimeout(send, hold.ms);
      else send();
    });
  });
}

function dispatch(region: Region, user: UserState, method: string, route: string, params: Params): Reply {
  const op = p(params, 'op');
  const parts = route.split('/');
  const st = region.state;

  if (parts[0] === 'users' && parts.length === 1) {
    if (method === 'GET' && op === 'whoami') return ok({ username: user.username, email: `${user.username}@lab`, is_superuser: user.is_superuser, is_local: true });
    throw unknownOp(method, op);
  }

  if (parts[0] === 'machines' && parts.length === 1) {
    if (method === 'GET' && !op) {
      const hostnames = params.get('hostname')?.map((f) => f.value);
      const ids = params.get('id')?.map((f) => f.value);
      return ok(st.machines.filter((m) => (!hostnames || hostnames.includes(m.hostname)) && (!ids || ids.includes(m.system_id))).map(renderMachine));
    }
    if (method === 'POST' && op === 'allocate') return ok(renderMachine(region.allocate(user, p(params, 'system_id'), p(params, 'comment'))));
    throw unknownOp(method, op);
  }

  if ((parts[0] === 'machines' || parts[0] === 'nodes') && parts.length >= 2) {
    const m = region.machine(parts[1]);
    if (parts.length === 2) return machineOp(region, user, m, method, op, params);
    if (parts[2] === 'blockdevices') return blockDevices(m, method, op, parts.slice(3));
    if (parts[2] === 'results') return results(region, m, method, op, params, parts.slice(3));
    throw notFound('resource');
  }

  if (parts[0] === 'events' && parts.length === 1) {
    if (method === 'GET' && op === 'query') return ok(queryEvents(region, params));
    throw unknownOp(method, op);
  }

  if (parts[0] === 'scripts') {
    if (parts.length === 1) {
      if (method === 'GET' && !op) {
        const type = p(params, 'type');
        const typeNo = type === undefined ? undefined : (RESULT_TYPE[type] ?? Number(type));
        return ok(st.scripts.filter((s) => typeNo === undefined || s.type === typeNo).map(renderScript));
      }
      if (method === 'POST' && !op) {
        const s = upsertScript(st, params);
        region.save();
        return ok(renderScript(s));
      }
      throw unknownOp(method, op);
    }
    const s = findScript(st, parts[1]);
    if (method === 'GET' && !op) return ok(renderScript(s));
    if (method === 'GET' && op === 'download') return { status: 200, body: s.script, text: true };
    if (method === 'PUT' && !op) {
      upsertScript(st, params, s);
      region.save();
      return ok(renderScript(s));
    }
    if (method === 'DELETE' && !op) {
      st.scripts.splice(st.scripts.indexOf(s), 1);
      region.save();
      return { status: 204, body: '', text: true };
    }
    throw unknownOp(method, op);
  }
  throw new ApiError(404, 'Not Found');
}

function machineOp(region: Region, user: UserState, m: MachineState, method: string, op: string | undefined, params: Params): Reply {
  const all = Object.fromEntries([...params].map(([k, v]) => [k, v[0]?.value]));
  if (method === 'GET' && !op) return ok(renderMachine(m));
  if (method === 'GET' && op === 'query_power_state') return ok({ state: m.power_type === 'manual' ? 'unknown' : m.power_state });
  if (method !== 'POST') throw unknownOp(method, op);
  switch (op) {
    case 'commission':
      region.commission(m, user, all);
      break;
    case 'deploy':
      region.deploy(m, user, all);
      break;
    case 'release':
      region.release(m, user, all);
      break;
    case 'abort':
      region.abort(m, user, all);
      break;
    case 'mark_broken':
      region.markBroken(m, user, all);
      break;
    case 'mark_fixed':
      region.markFixed(m, user);
      break;
    case 'set_storage_layout':
      region.setStorageLayout(m, user, all);
      break;
    default:
      throw unknownOp(method, op);
  }
  return ok(renderMachine(m));
}

function blockDevices(m: MachineState, method: string, op: string | undefined, rest: string[]): Reply {
  if (method !== 'GET' || op) throw unknownOp(method, op);
  if (rest.length === 0) return ok(m.disks.map((d) => renderBlockDevice(m, d)));
  const d = m.disks.find((x) => String(x.id) === rest[0] || x.name === rest[0]);
  if (!d) throw notFound('BlockDevice');
  if (rest.length === 1) return ok(renderBlockDevice(m, d));
  if (rest[1] !== 'partitions' && rest[1] !== 'partition') throw notFound('resource');
  if (rest.length === 2) return ok(d.partitions.map((x) => renderPartition(m, d, x)));
  const part = d.partitions.find((x) => String(x.id) === rest[2] || `${d.name}-part${x.index}` === rest[2]);
  if (!part) throw notFound('Partition');
  return ok(renderPartition(m, d, part));
}

function results(region: Region, m: MachineState, method: string, op: string | undefined, params: Params, rest: string[]): Reply {
  if (method !== 'GET') throw unknownOp(method, op);
  const includeOutput = ['1', 'true', 'True'].includes(p(params, 'include_output') ?? '');
  const filters = (p(params, 'filters') ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const scripts = region.state.scripts;
  const pick = (r: { name: string; script_id: number | null; id: number }) =>
    !filters.length || filters.some((f) => f === r.name || String(r.id) === f || scripts.some((s) => s.id === r.script_id && s.tags.includes(f)));
  if (rest.length === 0) {
    if (op) throw unknownOp(method, op);
    const type = p(params, 'type');
    const typeNo = type === undefined ? undefined : RESULT_TYPE[type];
    if (type !== undefined && typeNo === undefined) throw badRequest('type', `Unknown type: ${type}`);
    const sets = region.state.resultSets.filter((s) => s.system_id === m.system_id && (typeNo === undefined || s.type === typeNo));
    return ok(sets.map((s) => renderResultSet(s, s.results.filter(pick), includeOutput)));
  }
  const key = rest[0];
  const id = key === 'current-commissioning' ? m.currentCommissioningSet : key === 'current-installation' ? m.currentInstallationSet : key === 'current-testing' ? m.currentTestingSet : Number(key);
  const set = region.set(Number.isInteger(id) ? id : null);
  if (!set || set.system_id !== m.system_id) throw notFound('ScriptSet');
  const chosen = set.results.filter(pick);
  if (!op) return ok(renderResultSet(set, chosen, includeOutput));
  if (op !== 'download') throw unknownOp(method, op);
  const output = p(params, 'output') ?? 'combined';
  const field = output === 'stdout' ? 'stdout' : output === 'stderr' ? 'stderr' : output === 'result' ? 'result' : 'output';
  if (output === 'all') return { status: 200, text: true, body: chosen.map((r) => `${r.name} dir: ${r.name}\n${r.output}`).join('\n') };
  if (chosen.length === 1) return { status: 200, text: true, body: chosen[0][field] };
  return { status: 200, text: true, body: chosen.map((r) => `----- ${r.name} -----\n${r[field]}`).join('\n') };
}

function queryEvents(region: Region, params: Params) {
  const ids = params.get('id')?.map((f) => f.value);
  const hostnames = params.get('hostname')?.map((f) => f.value);
  const level = (p(params, 'level') ?? 'INFO').toUpperCase() as EventLevel;
  if (!(level in LEVEL_RANK)) throw badRequest('level', `Unknown level: ${level}`);
  const limit = Math.min(1000, Number(p(params, 'limit') ?? 100) || 100);
  const after = p(params, 'after');
  const before = p(params, 'before');
  let events = region.state.events.filter(
    (e) =>
      (!ids || ids.includes(e.node)) &&
      (!hostnames || hostnames.includes(e.hostname)) &&
      LEVEL_RANK[e.level] >= LEVEL_RANK[level] &&
      (after === undefined || e.id > Number(after)) &&
      (before === undefined || e.id < Number(before)),
  );
  // Newest first; with after=, the oldest ones after it.
  events = after !== undefined ? events.slice(0, limit).reverse() : events.reverse().slice(0, limit);
  const q = (extra: string) => `/MAAS/api/2.0/events/?op=query${ids ? ids.map((i) => `&id=${i}`).join('') : ''}${extra}`;
  return {
    count: events.length,
    events: events.map((e) => ({ username: e.username, node: e.node, hostname: e.hostname, id: e.id, level: e.level, created: formatCreated(e.created), type: e.type, description: e.description })),
    next_uri: events.length ? q(`&after=${events[0].id}`) : q(''),
    prev_uri: events.length ? q(`&before=${events[events.length - 1].id}`) : q(''),
  };
}

/** "Fri, 07 Dec. 2018 20:11:08", as MAAS's events API prints `created`. */
function formatCreated(iso: string): string {
  const d = new Date(iso);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan.', 'Feb.', 'March', 'April', 'May', 'June', 'July', 'Aug.', 'Sept.', 'Oct.', 'Nov.', 'Dec.'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
