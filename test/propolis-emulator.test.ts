import http from 'node:http';
import net from 'node:net';
import { propolisRequest, type PropolisResponse } from '../activities/propolis/http';
import { startPropolisEmulator, type PropolisEmulator } from '../lab/emulators/propolis';
import { migrationEnsure, specEnsure, vcrJson } from './helpers/propolis-fixtures';

// Golden tests of the propolis-server emulator's API 5.0.0 against shared/reference/domain-apis.md A
// and propolis's server.rs: every response shape, status code and error body. The servers run in
// this process on 127.0.0.1 (the test runs in its own network namespace). Parts that need a
// running guest on Crucible downstairs are in propolis-guest.test.ts.

const ADDR = '127.0.0.1';
const VM_ID = '11111111-2222-4333-8444-555555555555';
const DST_ID = '11111111-2222-4333-8444-666666666666';
const MIGRATION_ID = '99999999-2222-4333-8444-555555555555';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Three targets nothing listens on: a guest on them never activates (it stays Starting). */
const DEAD_VCR = vcrJson({ blockSize: 512, blocksPerExtent: 4096, extentCount: 8, targets: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'] }, 1);

let emu: PropolisEmulator;
let port = 0;
const quiet = () => undefined;

async function fresh(): Promise<void> {
  await emu?.close();
  emu = await startPropolisEmulator({ address: ADDR, port: 0, log: quiet });
  port = (emu.server.address() as net.AddressInfo).port;
}

function call(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown, apiVersion?: string | null): Promise<PropolisResponse> {
  return propolisRequest({ address: ADDR, port }, method, path, body, { apiVersion });
}

/** The body with its request_id checked (a UUID) and replaced, so it compares as a golden. */
function golden(r: PropolisResponse): { status: number; body: unknown } {
  const b = r.body as Record<string, unknown> | null;
  if (b && typeof b === 'object' && 'request_id' in b) {
    expect(b.request_id).toMatch(UUID_RE);
    return { status: r.status, body: { ...b, request_id: '<id>' } };
  }
  return { status: r.status, body: b };
}

const err = (status: number, message: string, error_code?: string) => ({ status, body: error_code === undefined ? { request_id: '<id>', message } : { request_id: '<id>', error_code, message } });
const NO_INSTANCE = err(424, 'Server not initialized (no instance)', 'NoInstance');
const forbidden = (reason: string) => err(403, 'Forbidden', `instance state change not allowed: ${reason}`);

beforeAll(fresh);
afterAll(async () => emu?.close());

test('the api-version header: missing, unparseable or newer than 5.0.0 is a 400 as dropshot answers; 5.0.0 and older are served', async () => {
  expect(golden(await call('GET', '/instance', undefined, null))).toEqual(err(400, 'missing expected header "api-version"'));
  expect(golden(await call('GET', '/instance', undefined, '6.0.0'))).toEqual(err(400, 'server does not support this API version: 6.0.0'));
  expect(golden(await call('GET', '/instance', undefined, '5.0.1'))).toEqual(err(400, 'server does not support this API version: 5.0.1'));
  expect((await call('GET', '/instance', undefined, 'five')).status).toBe(400);
  expect(((await call('GET', '/instance', undefined, 'five')).body as { message: string }).message).toMatch(/^bad value for header "api-version": .*: five$/);
  expect(golden(await call('GET', '/instance', undefined, '5.0.0'))).toEqual(NO_INSTANCE);
  expect(golden(await call('GET', '/instance', undefined, '1.0.0'))).toEqual(NO_INSTANCE);
  // The version is checked before routing.
  expect(golden(await call('GET', '/nowhere', undefined, null))).toEqual(err(400, 'missing expected header "api-version"'));
  expect(golden(await call('GET', '/nowhere'))).toEqual(err(404, 'Not Found'));
  expect(golden(await call('POST', '/instance', {}))).toEqual(err(405, 'Method Not Allowed'));
});

test('every instance endpoint answers 424 NoInstance before ensure', async () => {
  for (const [method, path, body] of [
    ['GET', '/instance'],
    ['GET', '/instance/spec'],
    ['PUT', '/instance/state', 'Run'],
    ['GET', '/instance/state-monitor', { gen: 0 }],
    ['GET', '/instance/migration-status'],
    ['GET', '/instance/serial/history?most_recent=10'],
    ['GET', '/instance/disk/disk0-backend/status'],
  ] as Array<['GET' | 'PUT', string, unknown?]>) {
    expect([path, golden(await call(method, path, body))]).toEqual([path, NO_INSTANCE]);
  }
});

test('PUT /instance: a bad body or spec is a 400 and creates nothing; a Spec ensure is 201 {"migrate":null}; a second is 409 AlreadyInitialized', async () => {
  await fresh();
  const parse = await call('PUT', '/instance', { properties: {} });
  expect(parse.status).toBe(400);
  expect((parse.body as { message: string }).message).toMatch(/^unable to parse JSON body: /);

  const missingBackend = specEnsure(VM_ID, DEAD_VCR);
  (missingBackend.init.value.spec.components.disk0.component as { backend_id: string }).backend_id = 'nope';
  expect(golden(await call('PUT', '/instance', missingBackend))).toEqual(err(400, 'failed to generate internal instance spec: component disk0 refers to backend nope, which is not in the spec'));

  const badVcr = await call('PUT', '/instance', specEnsure(VM_ID, '{"type":"volume"'));
  expect(badVcr.status).toBe(400);
  expect((badVcr.body as { message: string }).message).toMatch(/^failed to generate internal instance spec: component disk0-backend: request_json is not JSON/);
  expect(golden(await call('GET', '/instance'))).toEqual(NO_INSTANCE);

  expect(golden(await call('PUT', '/instance', specEnsure(VM_ID, DEAD_VCR)))).toEqual({ status: 201, body: { migrate: null } });
  expect(golden(await call('PUT', '/instance', specEnsure(VM_ID, DEAD_VCR)))).toEqual(err(409, 'instance already initialized', 'AlreadyInitialized'));
  expect(golden(await call('PUT', '/instance', specEnsure(DST_ID, DEAD_VCR)))).toEqual(err(409, 'instance already initialized', 'AlreadyInitialized'));
});

test('GET /instance, /instance/spec, migration-status, state-monitor and disk status of a created instance', async () => {
  const ensure = specEnsure(VM_ID, DEAD_VCR);
  expect(golden(await call('GET', '/instance'))).toEqual({ status: 200, body: { instance: { properties: ensure.properties, state: 'Creating' } } });
  expect(golden(await call('GET', '/instance/spec'))).toEqual({ status: 200, body: { properties: ensure.properties, state: 'Creating', spec: { type: 'Present', value: ensure.init.value.spec } } });
  expect(golden(await call('GET', '/instance/migration-status'))).toEqual({ status: 200, body: { migration_in: null, migration_out: null } });
  expect(golden(await call('GET', '/instance/state-monitor', { gen: 1 }))).toEqual({ status: 200, body: { gen: 1, state: 'Creating', migration: { migration_in: null, migration_out: null } } });
  expect(golden(await call('GET', '/instance/state-monitor', { gen: 0 }))).toEqual({ status: 200, body: { gen: 1, state: 'Creating', migration: { migration_in: null, migration_out: null } } });
  expect((await call('GET', '/instance/state-monitor', {})).status).toBe(400);
  expect(golden(await call('GET', '/instance/disk/disk0-backend/status'))).toEqual({ status: 200, body: { active: false } });
  expect(golden(await call('GET', '/instance/disk/disk0/status'))).toEqual(err(404, 'Not Found', 'No crucible backend for id disk0'));
});

test('PUT /instance/state: 204/403 by state, state-monitor blocks until a newer gen and answers 410 once the instance is gone', async () => {
  expect(golden(await call('PUT', '/instance/state', 'Reboot'))).toEqual(forbidden('Operation requires an active instance'));
  const bad = await call('PUT', '/instance/state', 'Pause');
  expect(bad.status).toBe(400);

  // A monitor for gen 2 waits; Run (the disk never activates here) publishes Starting at gen 2.
  const waiting = call('GET', '/instance/state-monitor', { gen: 2 });
  let settled = false;
  void waiting.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 200));
  expect(settled).toBe(false);
  expect(golden(await call('PUT', '/instance/state', 'Run'))).toEqual({ status: 204, body: null });
  expect(golden(await waiting)).toEqual({ status: 200, body: { gen: 2, state: 'Starting', migration: { migration_in: null, migration_out: null } } });

  expect(golden(await call('PUT', '/instance/state', 'Run'))).toEqual({ status: 204, body: null }); // a duplicate is ignored
  expect(golden(await call('PUT', '/instance/state', 'Reboot'))).toEqual(forbidden('Instance is currently starting'));

  // Stop while starting: the activation is abandoned and the instance halts.
  const far = call('GET', '/instance/state-monitor', { gen: 99 });
  expect(golden(await call('PUT', '/instance/state', 'Stop'))).toEqual({ status: 204, body: null });
  expect(golden(await far)).toEqual(err(410, 'No instance present; will never reach generation 99', 'NoInstance'));
  const last = golden(await call('GET', '/instance/state-monitor', { gen: 0 }));
  expect(last.body).toMatchObject({ state: 'Destroyed' });
  expect(golden(await call('GET', '/instance'))).toMatchObject({ status: 200, body: { instance: { state: 'Destroyed' } } });

  expect(golden(await call('PUT', '/instance/state', 'Run'))).toEqual(forbidden('Instance has already halted'));
  expect(golden(await call('PUT', '/instance/state', 'Reboot'))).toEqual(forbidden('Instance has already halted'));
  expect(golden(await call('PUT', '/instance/state', 'Stop'))).toEqual({ status: 204, body: null });
  // A halted instance can be replaced by a new one.
  expect(golden(await call('PUT', '/instance', specEnsure(DST_ID, DEAD_VCR)))).toEqual({ status: 201, body: { migrate: null } });
  expect(golden(await call('GET', '/instance/state-monitor', { gen: 0 }))).toEqual({ status: 200, body: { gen: 1, state: 'Creating', migration: { migration_in: null, migration_out: null } } });
});

test('GET /instance/serial/history: exactly one of from_start and most_recent; bytes as numbers and the end offset', async () => {
  expect(golden(await call('GET', '/instance/serial/history'))).toEqual(err(400, 'Exactly one of from_start or most_recent must be specified.'));
  expect(golden(await call('GET', '/instance/serial/history?from_start=0&most_recent=5'))).toEqual(err(400, 'Exactly one of from_start or most_recent must be specified.'));
  const r = golden(await call('GET', '/instance/serial/history?from_start=0'));
  expect(r).toEqual({ status: 200, body: { data: [], last_byte_offset: 0 } });
});

test('a migration target waits for its source (spec WaitingForMigrationSource, PUT state 503), and fails (Failed, migration_in Error) when the source refuses', async () => {
  await fresh();
  // A "source" that accepts the connection and never answers keeps the target in Sync.
  const held: net.Socket[] = [];
  const silent = net.createServer((s) => held.push(s));
  await new Promise<void>((r) => silent.listen(0, ADDR, r));
  const silentPort = (silent.address() as net.AddressInfo).port;
  try {
    const ensure = migrationEnsure(DST_ID, MIGRATION_ID, `${ADDR}:${silentPort}`, DEAD_VCR);
    expect(golden(await call('PUT', '/instance', ensure))).toEqual({ status: 201, body: { migrate: { migration_id: MIGRATION_ID } } });
    expect(golden(await call('GET', '/instance/spec'))).toEqual({ status: 200, body: { properties: ensure.properties, state: 'Migrating', spec: { type: 'WaitingForMigrationSource' } } });
    expect(golden(await call('GET', '/instance/migration-status'))).toEqual({ status: 200, body: { migration_in: { id: MIGRATION_ID, state: 'Sync' }, migration_out: null } });
    expect(golden(await call('PUT', '/instance/state', 'Run'))).toEqual(err(503, 'Service Unavailable'));
    expect(golden(await call('PUT', '/instance', ensure))).toEqual(err(409, 'instance already initialized', 'AlreadyInitialized'));
  } finally {
    for (const s of held) s.destroy();
    silent.close();
  }

  // A source with no instance refuses the migration (424 on its start endpoint): the target fails.
  const source = await startPropolisEmulator({ address: ADDR, port: 0, log: quiet });
  const srcPort = (source.server.address() as net.AddressInfo).port;
  try {
    await fresh();
    const ensure = migrationEnsure(DST_ID, MIGRATION_ID, `${ADDR}:${srcPort}`, DEAD_VCR);
    expect((await call('PUT', '/instance', ensure)).status).toBe(201);
    const failed = golden(await call('GET', '/instance/state-monitor', { gen: 3 }));
    expect(failed).toEqual({ status: 200, body: { gen: 3, state: 'Failed', migration: { migration_in: { id: MIGRATION_ID, state: 'Error' }, migration_out: null } } });
    const serial = golden(await call('GET', '/instance/serial/history?most_recent=2000'));
    expect(Buffer.from((serial.body as { data: number[] }).data).toString()).toMatch(/refused the migration: HTTP 424 .*"error_code":"NoInstance"/);
    expect(golden(await call('PUT', '/instance/state', 'Run'))).toEqual(forbidden('Instance failed to start or halted due to a failure'));
    expect(golden(await call('PUT', '/instance/state', 'Stop'))).toEqual({ status: 204, body: null });
  } finally {
    await source.close();
  }
});

test('the migration start endpoint: the upgrade is refused with dropshot bodies when the header, the instance or its state is wrong', async () => {
  await fresh();
  const upgrade = (headers: Record<string, string>) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const req = http.request({ host: ADDR, port, path: `/instance/migrate/${MIGRATION_ID}/start`, headers: { connection: 'Upgrade', upgrade: 'propolis-lab-migration', ...headers } });
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('response', (res) => {
        let t = '';
        res.on('data', (d: Buffer) => (t += d.toString()));
        res.on('end', () => resolve(golden({ status: res.statusCode ?? 0, body: JSON.parse(t), text: t })));
      });
      req.on('error', reject);
      req.end();
    });
  expect(await upgrade({})).toEqual(err(400, 'missing expected header "api-version"'));
  expect(await upgrade({ 'api-version': '1.0.0' })).toEqual(NO_INSTANCE);
  await call('PUT', '/instance', specEnsure(VM_ID, DEAD_VCR));
  expect(await upgrade({ 'api-version': '1.0.0' })).toEqual(forbidden('cannot migrate out of an instance that is Creating'));
  // Without the upgrade it is not a websocket request.
  expect(golden(await call('GET', `/instance/migrate/${MIGRATION_ID}/start`))).toEqual(err(400, 'websocket: the request is not a websocket upgrade'));
});
