import http from 'node:http';
import type { Duplex } from 'node:stream';
import { ensureRequestSchema, stateMonitorRequestSchema, stateRequestedSchema } from './api-types';
import {
  alreadyInitialized,
  badRequest,
  checkVersionHeader,
  errorBody,
  HttpError,
  internal,
  methodNotAllowed,
  newRequestId,
  noInstance,
  notFound,
  readJson,
  sendError,
  sendJson,
  sendNoContent,
} from './dropshot';
import { FaultsFile } from './faults';
import { migrateIn, migrateOut, MIGRATION_UPGRADE } from './migration';
import { validateSpec, Vm } from './vm';

// The emulated propolis-server: API 5.0.0 on one address and port (12400 on a lab sled host).
// Routes, status codes and error bodies follow shared/reference/domain-apis.md A and propolis's
// server.rs; see README.md for what is modelled and what is not.

export interface ServerOptions {
  address: string;
  port: number;
  faultsFile?: string | null;
  log?: (line: string) => void;
  /** Called with every VM state the server publishes (tests). */
  onPublish?: (vm: Vm) => void;
}

export interface PropolisEmulator {
  server: http.Server;
  url: string;
  current(): Vm | null;
  close(): Promise<void>;
}

function parseWith<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } } }, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (!r.success) throw badRequest(`unable to parse JSON body: ${r.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

export function startPropolisEmulator(opts: ServerOptions): Promise<PropolisEmulator> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${new Date().toISOString()} ${l}\n`));
  const faults = new FaultsFile(opts.faultsFile ?? null);
  let vm: Vm | null = null;

  const requireVm = (): Vm => {
    if (!vm) throw noInstance();
    return vm;
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, requestId: string): Promise<void> {
    checkVersionHeader(req);
    const url = new URL(req.url ?? '/', 'http://x');
    const route = `${req.method} ${url.pathname}`;
    const diskStatus = /^\/instance\/disk\/([^/]+)\/status$/.exec(url.pathname);
    if (/^\/instance\/migrate\/[^/]+\/start$/.test(url.pathname)) {
      // Only reachable without an Upgrade header.
      throw badRequest('websocket: the request is not a websocket upgrade');
    }
    switch (route) {
      case 'PUT /instance': {
        const body = parseWith(ensureRequestSchema, await readJson(req));
        if (vm && !vm.gone) {
          log(`request PUT /instance ${body.init.method} for ${body.properties.name} (${body.properties.id}): 409, ${vm.properties.name} (${vm.properties.id}) is there`);
          throw alreadyInitialized();
        }
        if (body.init.method === 'Spec') {
          try {
            validateSpec(body.init.value.spec);
          } catch (err) {
            throw badRequest(`failed to generate internal instance spec: ${(err as Error).message}`);
          }
          vm = new Vm(body.properties, body.init.value.spec, 'Spec', { faults, log, onPublish: opts.onPublish });
          log(`ensure ${body.properties.name} (${body.properties.id}) from a spec`);
          return sendJson(res, 201, { migrate: null }, requestId);
        }
        const v = body.init.value;
        const target = new Vm(body.properties, null, 'MigrationTarget', { faults, log, onPublish: opts.onPublish });
        // Published at gen 1 already migrating in, phase Sync (as propolis's initial state).
        target.migration.migration_in = { id: v.migration_id, state: 'Sync' };
        vm = target;
        log(`ensure ${body.properties.name} (${body.properties.id}) as target of migration ${v.migration_id} from ${v.src_addr}`);
        void migrateIn(target, { migrationId: v.migration_id, srcAddr: v.src_addr, replace: v.replace_components }).catch((err: unknown) => log(`migration in: ${(err as Error).message}`)); // runs on after the 201, as propolis's does
        return sendJson(res, 201, { migrate: { migration_id: v.migration_id } }, requestId);
      }
      case 'GET /instance': {
        const v = requireVm();
        return sendJson(res, 200, { instance: { properties: v.properties, state: v.state } }, requestId);
      }
      case 'GET /instance/spec': {
        const v = requireVm();
        const spec =
          v.spec && !(v.init === 'MigrationTarget' && v.migration.migration_in?.state !== 'Finish' && v.state === 'Migrating')
            ? { type: 'Present', value: v.spec }
            : { type: 'WaitingForMigrationSource' };
        return sendJson(res, 200, { properties: v.properties, state: v.state, spec }, requestId);
      }
      case 'PUT /instance/state': {
        const requested = parseWith(stateRequestedSchema, await readJson(req));
        const v = requireVm();
        const was = v.state;
        const err = v.requestState(requested);
        // The request log tests count changes by (one Run, one Stop per instance and run).
        log(`request PUT /instance/state ${requested} for ${v.properties.name} (${v.properties.id}) in ${was}: ${err ? err.status : 204}`);
        if (err) throw err;
        return sendNoContent(res, requestId);
      }
      case 'GET /instance/state-monitor': {
        const { gen } = parseWith(stateMonitorRequestSchema, await readJson(req));
        const v = requireVm();
        const abort = new AbortController();
        res.on('close', () => abort.abort());
        const r = await v.waitForGen(gen, abort.signal);
        if (abort.signal.aborted) return;
        if (r === 'gone') throw new HttpError(410, 'NoInstance', `No instance present; will never reach generation ${gen}`);
        return sendJson(res, 200, v.published(), requestId);
      }
      case 'GET /instance/migration-status': {
        const v = requireVm();
        return sendJson(res, 200, v.published().migration, requestId);
      }
      case 'GET /instance/serial/history': {
        const v = requireVm();
        const q = Object.fromEntries(url.searchParams) as Record<string, string>;
        return sendJson(res, 200, v.serial.history(q), requestId);
      }
      default:
        if (diskStatus && req.method === 'GET') {
          const v = requireVm();
          const id = decodeURIComponent(diskStatus[1]);
          const backend = v.spec?.components[id];
          if (backend?.type !== 'crucible_storage_backend') throw new HttpError(404, `No crucible backend for id ${id}`, 'Not Found');
          return sendJson(res, 200, { active: v.diskActive() }, requestId);
        }
        if (['/instance', '/instance/spec', '/instance/state', '/instance/state-monitor', '/instance/migration-status', '/instance/serial/history'].includes(url.pathname)) throw methodNotAllowed();
        throw notFound();
    }
  }

  const server = http.createServer((req, res) => {
    const requestId = newRequestId();
    handle(req, res, requestId).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : internal();
      if (!(err instanceof HttpError)) log(`internal error on ${req.method} ${req.url}: ${(err as Error).stack}`);
      if (!res.headersSent && !res.destroyed) sendError(res, e, requestId);
    });
  });

  // GET /instance/migrate/{id}/start with Upgrade: the source side of a migration.
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const requestId = newRequestId();
    const refuse = (err: HttpError) => {
      const body = JSON.stringify(errorBody(err, requestId));
      socket.end(`HTTP/1.1 ${err.status} ${http.STATUS_CODES[err.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    try {
      checkVersionHeader(req);
      const m = /^\/instance\/migrate\/([0-9a-fA-F-]{36})\/start$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
      if (!m || req.method !== 'GET') throw notFound();
      if (String(req.headers.upgrade).toLowerCase() !== MIGRATION_UPGRADE) throw badRequest(`this lab server migrates over "Upgrade: ${MIGRATION_UPGRADE}" only`);
      const v = requireVm();
      if (v.gone || v.state !== 'Running') throw new HttpError(403, `instance state change not allowed: cannot migrate out of an instance that is ${v.state}`, 'Forbidden');
      if (v.migration.migration_out && v.migration.migration_out.state !== 'Error' && v.migration.migration_out.state !== 'Finish')
        throw new HttpError(403, 'instance state change not allowed: Instance is already migrating out', 'Forbidden');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${MIGRATION_UPGRADE}\r\nconnection: Upgrade\r\n\r\n`);
      log(`migration ${m[1]} out of ${v.properties.name} starting`);
      void migrateOut(v, m[1], socket, head).catch((err: unknown) => log(`migration out: ${(err as Error).message}`)); // outlives the request
    } catch (err) {
      refuse(err instanceof HttpError ? err : internal());
    }
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address, () => {
      log(`propolis-server emulator (API ${'5.0.0'}) listening on ${opts.address}:${opts.port}`);
      resolve({
        server,
        url: `http://${opts.address}:${opts.port}`,
        current: () => vm,
        close: () =>
          new Promise<void>((r) => {
            vm?.upstairs?.close();
            void vm?.guest?.pause('server stopped');
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
