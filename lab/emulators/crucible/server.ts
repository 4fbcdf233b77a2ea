import http from 'node:http';
import net from 'node:net';
import { errorBody, methodNotAllowed, newRequestId, notFound, type HttpError } from '../propolis/dropshot';
import { UsageError, one, parse, required, uint, type OptSpec } from './args';
import { CommandError, logCommand, type Io } from './io';
import { Region, regionJsonPath } from './region';

// `crucible-downstairs run`: serves one region over the lab's line protocol (PROTOCOL.md), on PORT,
// with the repair server on PORT+4000: HTTP as Crucible's (dropshot, unversioned), of which the lab
// answers what an operator's tools ask: GET /region-info (the RegionDefinition, as region.json holds
// it) and GET /region-mode (read-only or not). The generation rules are the downstairs' own
// (domain-apis.md B4): checked at negotiation, in Crucible's order and words.

export const RUN_OPTS: OptSpec[] = [
  { long: 'address', short: 'a', value: 'ADDRESS' },
  { long: 'data', short: 'd', value: 'DIRECTORY' },
  { long: 'port', short: 'p', value: 'PORT' },
  { long: 'mode', value: 'MODE' },
  { long: 'lossy', flag: true },
  { long: 'oximeter', value: 'OXIMETER' },
  { long: 'read-errors', flag: true },
  { long: 'write-errors', flag: true },
  { long: 'flush-errors', flag: true },
  { long: 'trace-endpoint', short: 't', value: 'TRACE_ENDPOINT' },
  { long: 'cert-pem', value: 'CERT_PEM' },
  { long: 'key-pem', value: 'KEY_PEM' },
  { long: 'root-cert-pem', value: 'ROOT_CERT_PEM' },
];

export const REPAIR_PORT_OFFSET = 4000;

interface Session {
  upstairs_id: string;
  session_id: string;
  gen: number;
  readOnly: boolean;
  socket: net.Socket;
}

type Request = { id?: unknown; op?: unknown; [k: string]: unknown };

export class Downstairs {
  private active: Session | null = null;

  constructor(
    readonly region: Region,
    readonly readOnly: boolean,
  ) {}

  regionInfo(): Record<string, unknown> {
    const r = this.region;
    return { block_size: r.blockSize, blocks_per_extent: r.blocksPerExtent, extent_count: r.extentCount, uuid: r.def.uuid };
  }

  negotiate(req: Request, socket: net.Socket): { session: Session } | { error: string } {
    const gen = req.gen;
    const upstairs = req.upstairs_id;
    const sessionId = req.session_id;
    const readOnly = req.read_only === true;
    if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 0 || typeof upstairs !== 'string' || typeof sessionId !== 'string') {
      return { error: 'negotiate needs upstairs_id, session_id (strings) and gen (an unsigned integer)' };
    }
    if (!readOnly && this.readOnly) return { error: 'downstairs is read-only' };
    if (gen === 0) return { error: 'Generation 0 is illegal' };
    const session: Session = { upstairs_id: upstairs, session_id: sessionId, gen, readOnly, socket };
    if (readOnly) return { session };
    const { maxGen } = this.region.maxGenFlush();
    if (gen < maxGen + 1) return { error: `Generation number is too low: requested ${gen}, found ${maxGen + 1}` };
    const a = this.active;
    if (a && a.socket !== socket) {
      if (a.gen > gen) return { error: `Current gen ${a.gen} is > requested gen of ${gen}` };
      if (a.gen === gen && (a.upstairs_id !== upstairs || a.session_id !== sessionId)) {
        return { error: `Same gen, but UUIDs ${a.upstairs_id}/${a.session_id} don't match ${upstairs}/${sessionId}` };
      }
      if (a.gen < gen || a.upstairs_id !== upstairs || a.session_id !== sessionId) {
        a.socket.end(`${JSON.stringify({ event: 'no-longer-active', by: { upstairs_id: upstairs, session_id: sessionId, gen } })}\n`);
      }
    }
    this.active = session;
    return { session };
  }

  handle(req: Request, session: Session | null): Record<string, unknown> {
    const r = this.region;
    switch (req.op) {
      case 'ping':
        return { ok: true };
      case 'region-info': {
        const { maxGen, maxFlush } = r.maxGenFlush();
        const a = this.active;
        return { ok: true, region: this.regionInfo(), max_stored_gen: maxGen, max_flush: maxFlush, active: a ? { upstairs_id: a.upstairs_id, session_id: a.session_id, gen: a.gen } : null };
      }
      case 'read':
      case 'write':
      case 'flush': {
        if (!session) return { ok: false, error: `${req.op} before a successful negotiate` };
        if (!session.readOnly && this.active !== session) return { ok: false, error: 'this session is no longer active' };
        if (req.op === 'read') {
          const block = req.block;
          const count = req.count;
          if (typeof block !== 'number' || typeof count !== 'number') return { ok: false, error: 'read needs block and count' };
          return { ok: true, data: r.read(block, count).toString('base64') };
        }
        if (session.readOnly) return { ok: false, error: `${req.op} on a read-only session` };
        if (req.op === 'write') {
          if (typeof req.block !== 'number' || typeof req.data !== 'string') return { ok: false, error: 'write needs block and data' };
          r.write(req.block, Buffer.from(req.data, 'base64'));
          return { ok: true };
        }
        const f = req.flush_number;
        if (typeof f !== 'number' || !Number.isSafeInteger(f) || f < 0) return { ok: false, error: 'flush needs flush_number' };
        r.flush(session.gen, f);
        return { ok: true };
      }
      default:
        return { ok: false, error: `unknown op ${JSON.stringify(req.op)}` };
    }
  }

  /**
   * One request to the repair server. Real Crucible also serves extent files to a repairing
   * downstairs there (/newextent, /extent/{eid}/files, /extent/{eid}/repair-ready, /work); the lab
   * does not repair, so those answer 501 rather than pretend.
   */
  serveRepair(req: http.IncomingMessage, res: http.ServerResponse): void {
    const requestId = newRequestId();
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': requestId });
      res.end(text);
    };
    const fail = (err: HttpError) => send(err.status, errorBody(err, requestId));
    const route = (req.url ?? '/').split('?')[0];
    const answers: Record<string, () => unknown> = { '/region-info': () => this.region.def, '/region-mode': () => this.readOnly };
    const known = route in answers || /^\/(newextent\/\d+\/[a-z_]+|extent\/\d+\/(files|repair-ready)|work)$/.test(route);
    if (!known) return fail(notFound());
    if (req.method !== 'GET') return fail(methodNotAllowed());
    const answer = answers[route];
    if (!answer) return send(501, { request_id: requestId, message: `${route} is not modelled by the lab's downstairs (it does not repair)` });
    send(200, answer());
  }

  /** Serves one connection: JSON lines in, JSON lines out. */
  serve(socket: net.Socket): void {
    let session: Session | null = null;
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (session && this.active === session) this.active = null;
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.trim()) continue;
        let req: Request;
        try {
          req = JSON.parse(line) as Request;
        } catch {
          socket.write(`${JSON.stringify({ id: null, ok: false, error: 'not a JSON object' })}\n`);
          continue;
        }
        const id = req.id ?? null;
        let res: Record<string, unknown>;
        try {
          if (req.op === 'negotiate') {
            const n = this.negotiate(req, socket);
            if ('error' in n) {
              socket.end(`${JSON.stringify({ id, ok: false, error: n.error })}\n`);
              return;
            }
            session = n.session;
            const { maxGen, maxFlush } = this.region.maxGenFlush();
            res = { ok: true, region: this.regionInfo(), max_stored_gen: maxGen, max_flush: maxFlush };
          } else {
            res = this.handle(req, session);
          }
        } catch (err) {
          res = { ok: false, error: (err as Error).message };
        }
        socket.write(`${JSON.stringify({ id, ...res })}\n`);
      }
    });
  }
}

function listen(server: net.Server, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function runCommand(args: string[], io: Io): Promise<number> {
  const p = parse(args, RUN_OPTS);
  const dir = required(p, 'data', 'DIRECTORY');
  const address = one(p, 'address') ?? '0.0.0.0';
  const port = uint(p, 'port', 9000, 'PORT');
  const mode = one(p, 'mode') ?? 'rw';
  if (mode !== 'rw' && mode !== 'ro') throw new UsageError(`invalid value '${mode}' for '--mode <MODE>'\n  [possible values: ro, rw]`);
  const tls = ['cert-pem', 'key-pem', 'root-cert-pem'].filter((k) => one(p, k) !== undefined);
  if (tls.length) throw new CommandError('TLS (--cert-pem/--key-pem/--root-cert-pem) is not modelled by the lab emulator');
  if (port + REPAIR_PORT_OFFSET > 65535) throw new CommandError(`port ${port} leaves no room for the repair port ${port + REPAIR_PORT_OFFSET}`);
  const region = new Region(dir, mode === 'rw');
  for (let n = 0; n < region.extentCount; n++) region.meta(n);
  const ds = new Downstairs(region, mode === 'ro');
  io.out(`Opened existing region file ${JSON.stringify(regionJsonPath(dir))}\n`);
  io.out(`UUID: ${region.def.uuid}\nBlocks per extent:${region.blocksPerExtent} Total Extents: ${region.extentCount}\n`);
  const main = net.createServer((s) => ds.serve(s));
  const repair = http.createServer((req, res) => ds.serveRepair(req, res));
  try {
    await listen(main, port, address);
    await listen(repair, port + REPAIR_PORT_OFFSET, address);
  } catch (err) {
    logCommand(io, `run -p ${port}: cannot listen: ${(err as Error).message}`);
    throw new CommandError(`cannot listen: ${(err as Error).message}`);
  }
  logCommand(io, `run -p ${port} -d ${dir}: serving region ${region.def.uuid}`);
  io.out(`Using address: ${address}:${port}\nRepair listens on ${address}:${port + REPAIR_PORT_OFFSET}\n`);
  return await new Promise<number>((resolve) => {
    const stop = () => {
      main.close();
      repair.close();
      region.close();
      resolve(0);
      // Open client connections would keep the loop alive; a stopping downstairs drops them.
      process.exit(0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
