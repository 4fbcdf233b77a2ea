import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { propolisRequest } from '../activities/propolis/http';
import { buildCrucibleEmulator } from '../lab/emulators/crucible';
import { DESTINATION_PHASES, SOURCE_PHASES, startPropolisEmulator, type PropolisEmulator } from '../lab/emulators/propolis';
import { migrationEnsure, specEnsure, vcrJson } from './helpers/propolis-fixtures';

// Golden tests of the propolis-server emulator with a running guest: two servers in this process,
// three real crucible-downstairs emulator processes on a small ext4 image (in this test's own
// network namespace). The exact gen-by-gen states of start and migration on both sides (read from
// every state the servers publish), the 403 reasons of a running and a migrated-out instance, and a
// gen the downstairs refuse.

const ADDR = '127.0.0.1';
const GEOMETRY = { blockSize: 512, blocksPerExtent: 2048, extentCount: 12 };
let dir = '';
const downstairs: ChildProcess[] = [];
let targets: string[] = [];
let a: PropolisEmulator;
let b: PropolisEmulator;
const published: Record<string, Array<{ gen: number; state: string; mig: string | null }>> = { a: [], b: [] };

const portOf = (e: PropolisEmulator) => (e.server.address() as net.AddressInfo).port;
const call = (e: PropolisEmulator, method: 'GET' | 'PUT', p: string, body?: unknown) => propolisRequest({ address: ADDR, port: portOf(e) }, method, p, body);
async function monitor(e: PropolisEmulator, gen: number) {
  return (await call(e, 'GET', '/instance/state-monitor', { gen })).body as { gen: number; state: string };
}
async function until(e: PropolisEmulator, state: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gen = 0;
  while (Date.now() < deadline) {
    const m = await monitor(e, gen);
    if (m.state === state) return;
    gen = m.gen + 1;
  }
  throw new Error(`not ${state} within ${timeoutMs} ms`);
}
async function serial(e: PropolisEmulator): Promise<string> {
  return Buffer.from(((await call(e, 'GET', '/instance/serial/history?from_start=0')).body as { data: number[] }).data).toString();
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'propolis-guest-'));
  const bin = await buildCrucibleEmulator(path.join(dir, 'bin'));
  const image = path.join(dir, 'os.raw');
  const mk = spawnSync('bash', ['-c', `truncate -s 8M ${image} && mkfs.ext4 -q -F -L guest-test ${image}`]);
  if (mk.status !== 0) throw new Error(mk.stderr.toString());
  const ports = [3810, 3820, 3830];
  for (const [i, port] of ports.entries()) {
    const r = spawnSync(bin['crucible-downstairs'], [
      'create',
      '--import-path',
      image,
      '--data',
      path.join(dir, `r${i}`),
      '--uuid',
      randomUUID(),
      '--extent-size',
      String(GEOMETRY.blocksPerExtent),
      '--extent-count',
      String(GEOMETRY.extentCount),
      '--block-size',
      '512',
    ]);
    if (r.status !== 0) throw new Error(r.stderr.toString());
    downstairs.push(spawn(bin['crucible-downstairs'], ['run', '-d', path.join(dir, `r${i}`), '-p', String(port), '-a', ADDR], { stdio: 'ignore' }));
  }
  targets = ports.map((p) => `${ADDR}:${p}`);
  for (const p of ports) {
    for (let k = 0; ; k++) {
      const ok = await new Promise<boolean>((res) => {
        const s = net.connect(p, ADDR, () => (s.destroy(), res(true)));
        s.on('error', () => res(false));
      });
      if (ok) break;
      if (k > 200) throw new Error(`downstairs on ${p} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const record = (k: 'a' | 'b') => (vm: { gen: number; state: string; migration: { migration_in: { state: string } | null; migration_out: { state: string } | null } }) =>
    published[k].push({ gen: vm.gen, state: vm.state, mig: vm.migration.migration_in?.state ?? vm.migration.migration_out?.state ?? null });
  a = await startPropolisEmulator({ address: ADDR, port: 0, log: () => undefined, onPublish: record('a') });
  b = await startPropolisEmulator({ address: ADDR, port: 0, log: () => undefined, onPublish: record('b') });
}, 120_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  for (const d of downstairs) d.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const forbidden = (reason: string) => ({ status: 403, error_code: `instance state change not allowed: ${reason}`, message: 'Forbidden' });
const errOf = (r: { status: number; body: unknown }) => {
  const { request_id: _id, ...rest } = (r.body ?? {}) as Record<string, unknown>;
  return { status: r.status, ...rest };
};

test("a gen the downstairs refuse (not above the stored gens) fails the start: Failed, with Crucible's message on the console", async () => {
  // Stamp gen 3 into the regions first: a VM at gen 3 runs and flushes, then stops.
  expect((await call(a, 'PUT', '/instance', specEnsure(randomUUID(), vcrJson({ ...GEOMETRY, targets }, 3)))).status).toBe(201);
  await call(a, 'PUT', '/instance/state', 'Run');
  await until(a, 'Running');
  await new Promise((r) => setTimeout(r, 300));
  await call(a, 'PUT', '/instance/state', 'Stop');
  await until(a, 'Destroyed');
  published.a.length = 0;
  expect((await call(a, 'PUT', '/instance', specEnsure(randomUUID(), vcrJson({ ...GEOMETRY, targets }, 3)))).status).toBe(201);
  await call(a, 'PUT', '/instance/state', 'Run');
  await until(a, 'Failed');
  expect(published.a.map((p) => [p.gen, p.state])).toEqual([
    [2, 'Starting'],
    [3, 'Failed'],
  ]);
  expect(await serial(a)).toMatch(/refused activation with gen 3: Generation number is too low: requested 3, found 4/);
  await call(a, 'PUT', '/instance/state', 'Stop');
  await until(a, 'Destroyed');
}, 60_000);

test("start, then migration: each side publishes its phases in propolis's order, gen by gen; the source ends Destroyed and refuses what a migrated-out instance refuses", async () => {
  published.a.length = 0;
  published.b.length = 0;
  expect((await call(a, 'PUT', '/instance', specEnsure(randomUUID(), vcrJson({ ...GEOMETRY, targets }, 4)))).status).toBe(201);
  expect((await call(a, 'PUT', '/instance/state', 'Run')).status).toBe(204);
  await until(a, 'Running');
  expect(published.a.map((p) => [p.gen, p.state])).toEqual([
    [2, 'Starting'],
    [3, 'Running'],
  ]);
  expect(errOf(await call(a, 'PUT', '/instance/state', 'Run'))).toEqual({ status: 204 });
  await new Promise((r) => setTimeout(r, 400));
  const migrationId = randomUUID();
  expect((await call(b, 'PUT', '/instance', migrationEnsure(randomUUID(), migrationId, `${ADDR}:${portOf(a)}`, vcrJson({ ...GEOMETRY, targets }, 5)))).body).toEqual({
    migrate: { migration_id: migrationId },
  });
  await until(b, 'Running');
  await until(a, 'Destroyed');
  // Source: Migrating, then each phase (one gen each), then Destroyed.
  const src = published.a.slice(2);
  expect(src.map((p) => p.mig).filter((m, i, all) => m && all.indexOf(m) === i)).toEqual(SOURCE_PHASES);
  expect(src[src.length - 1].state).toBe('Destroyed');
  expect(src.map((p) => p.gen)).toEqual(src.map((_, i) => 4 + i));
  // Destination: gen 1 Migrating/Sync (not published as a change), then its phases, then Running.
  const dst = published.b;
  expect(['Sync', ...dst.map((p) => p.mig).filter((m, i, all) => m && m !== 'Sync' && all.indexOf(m) === i)]).toEqual(DESTINATION_PHASES);
  expect(dst[dst.length - 1]).toEqual({ gen: dst.length + 1, state: 'Running', mig: 'Finish' });
  expect((await call(b, 'GET', '/instance/migration-status')).body).toEqual({ migration_in: { id: migrationId, state: 'Finish' }, migration_out: null });
  expect((await call(a, 'GET', '/instance/migration-status')).body).toEqual({ migration_in: null, migration_out: { id: migrationId, state: 'Finish' } });
  expect(errOf(await call(a, 'PUT', '/instance/state', 'Run'))).toEqual(forbidden('Instance has migrated out and is being torn down'));
  expect(errOf(await call(a, 'PUT', '/instance/state', 'Stop'))).toEqual({ status: 204 });
  expect((await call(a, 'GET', '/instance/disk/disk0-backend/status')).body).toEqual({ active: false });
  expect((await call(b, 'GET', '/instance/disk/disk0-backend/status')).body).toEqual({ active: true });
  expect(await serial(b)).toMatch(/journal check \(after migration [0-9a-f-]+\): entries 1\.\.\d+ readable and intact/);
  // A running instance: Reboot is accepted (Rebooting -> Running); state-monitor blocks meanwhile.
  expect(errOf(await call(b, 'PUT', '/instance/state', 'Reboot'))).toEqual({ status: 204 });
  await until(b, 'Running');
  expect(published.b.slice(-2).map((p) => p.state)).toEqual(['Rebooting', 'Running']);
  expect(errOf(await call(b, 'PUT', '/instance/state', 'Stop'))).toEqual({ status: 204 });
  // Run after Stop: refused while it stops, and once it halted (the stop is quick here).
  expect([forbidden('Instance is preparing to stop'), forbidden('Instance has already halted')]).toContainEqual(errOf(await call(b, 'PUT', '/instance/state', 'Run')));
  await until(b, 'Destroyed');
}, 60_000);
