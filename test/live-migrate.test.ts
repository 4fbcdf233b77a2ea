import { readFileSync } from 'node:fs';
import path from 'node:path';
import { propolisRequest } from '../activities/propolis/http';
import { CRUCIBLE_HOST, REGION_DIRS } from '../lab/scenarios/crucible';
import { DESTINATION_SLED, SOURCE_SLED } from '../lab/scenarios/propolis';
import { approveUpdate } from '../workflows/engine/messages';
import type { LiveMigrateResult } from '../workflows/liveMigrate';
import type { SeedRegionsResult } from '../workflows/seedRegions';
import type { RunbookResult } from '../workflows/engine/runbook';
import { waitForStepStart } from './helpers/history-watch';
import { startPropolisLab, SLEDS, type PropolisLab } from './helpers/propolis-lab';
import { closeTestClient, runFailure, scheduledActivityTypes, startRunbook, waitForAudit } from './helpers/temporal';
import { LAB_UUID, specEnsure, vcrJson } from './helpers/propolis-fixtures';

// Activities that change a server, a region or the ledger: plan mode and refusals schedule none.
const MUTATING = ['crucibleReserveGen', 'propolisEnsure', 'propolisSetState', 'propolisSettleMigration'];
type Result = RunbookResult<LiveMigrateResult>;

// liveMigrate on the lab: three downstairs on cru-sled serving regions seeded from the OS image,
// two propolis-server emulators. Judged by the propolis scenario's own check (one running guest,
// continuous heartbeat, journal read straight from the downstairs, gens only up).

let lab: PropolisLab;

beforeAll(async () => {
  lab = await startPropolisLab('live-migrate');
}, 300_000);

afterAll(async () => {
  await lab?.stop();
  await closeTestClient();
});

test('the chain: seedRegions seeds the regions on the crucible pools, liveMigrate takes its result and moves the VM there and back; one guest, heartbeat continuous, journal intact, gens strictly increasing', async () => {
  const seedExample = JSON.parse(readFileSync(path.join(__dirname, '..', 'runbooks', 'seedRegions', 'examples', 'lab.json'), 'utf8')) as Record<string, unknown>;
  const seeded = (await (await startRunbook('seedRegions', seedExample, { taskQueue: lab.taskQueue })).result()) as RunbookResult<SeedRegionsResult>;
  expect(seeded.value.targets).toEqual(lab.targets);
  const input = lab.input({ regions: { host: CRUCIBLE_HOST.name, seedRegions: seeded.value } });
  const there = (await (await lab.start(input)).result()) as Result;
  expect(there.value.outcome).toBe('migrated');
  expect(there.value.runsOn).toBe(SLEDS.destination);
  expect(there.value.volume).toMatchObject({
    blockSize: seeded.value.block_size,
    blocksPerExtent: seeded.value.blocks_per_extent,
    extentCount: seeded.value.extent_count,
    targets: seeded.value.targets,
  });
  expect(there.value.migration?.source.map((p) => p.phase)).toEqual(
    ['Sync', 'RamPush', 'Pause', 'RamPushDirty', 'Device', 'Server', 'Finish'].filter((p) => there.value.migration!.source.some((x) => x.phase === p)),
  );
  expect(there.value.migration?.source.map((p) => p.phase).pop()).toBe('Finish');
  expect(there.value.migration?.destination.map((p) => p.phase).pop()).toBe('Finish');
  const gensThere = there.value.gens.history.map((g) => g.gen);
  expect(gensThere[0]).toBeGreaterThan(seeded.value.maxGen);
  expect(gensThere[1]).toBeGreaterThan(gensThere[0]);
  expect(there.value.guestDowntimeMs).toBeGreaterThan(0);
  let j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.destination);

  const back = (await (await lab.start({ ...input, source: SLEDS.destination, destination: SLEDS.source })).result()) as Result;
  expect(back.value.outcome).toBe('migrated');
  expect(back.value.runsOn).toBe(SLEDS.source);
  const gensBack = back.value.gens.history.map((g) => g.gen);
  expect(gensBack[0]).toBe(gensThere[1]); // the running VM's gen, adopted
  expect(gensBack[1]).toBeGreaterThan(gensThere[1]);
  j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.source);
  expect(j.gens).toEqual([gensThere[0], gensThere[1], gensBack[1]]);
}, 300_000);

const sleds = [SOURCE_SLED, DESTINATION_SLED];
const api = (address: string, method: 'GET' | 'PUT', path: string, body?: unknown) => propolisRequest({ address, port: 12400 }, method, path, body);

/** Between tests: no VM anywhere, no faults (and regions served, when the chain test did not run: jest -t). */
async function reset(): Promise<void> {
  await lab.seedRegions();
  lab.faults('source', {});
  lab.faults('destination', {});
  for (const s of sleds) {
    const r = await api(s.address, 'GET', '/instance');
    if (r.status === 200 && (r.body as { instance: { state: string } }).instance.state !== 'Destroyed') {
      await api(s.address, 'PUT', '/instance/state', 'Stop');
      for (let i = 0; i < 100; i++) {
        const m = await api(s.address, 'GET', '/instance/state-monitor', { gen: 0 });
        if ((m.body as { state: string }).state === 'Destroyed') break;
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  }
}

async function ledgerGens(): Promise<number[]> {
  const out = await lab.sh(CRUCIBLE_HOST.name, `cat ${path.dirname(REGION_DIRS[0])}/.gen-ledger/*.jsonl`);
  return out
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { gen: number }).gen);
}

test('plan mode shows the VCR, every call and the gens it would use, and schedules nothing that changes a server, a region or the ledger', async () => {
  await reset();
  const before = await ledgerGens();
  const handle = await lab.start(lab.input({ mode: 'plan', approve: [] }));
  const r = (await handle.result()) as Result;
  expect(r.outcome).toBe('planned');
  const types = await scheduledActivityTypes(handle);
  expect(types.filter((t) => MUTATING.includes(t))).toEqual([]);
  expect(types).toEqual(expect.arrayContaining(['propolisInspectServer', 'crucibleInspectRegions']));
  const next = Math.max(...before) + 1;
  expect(r.planned.map((p) => p.step)).toEqual(['reserve-gen-start', 'create-vm', 'run-vm', 'reserve-gen-migrate', 'migrate']);
  const create = r.planned.find((p) => p.step === 'create-vm')!.commands[0];
  expect(create).toMatch(/^PUT http:\/\/sled-a:12400\/instance \(api-version 5\.0\.0\) /);
  expect(create).toContain(`\\"gen\\":${next}`);
  expect(create).toContain(`\\"target\\":[${lab.targets.map((t) => `\\"${t}\\"`).join(',')}]`);
  const migrate = r.planned.find((p) => p.step === 'migrate')!;
  expect(migrate.description).toMatch(/needs approval/);
  expect(migrate.commands[0]).toMatch(/^PUT http:\/\/sled-b:12400\/instance .*"MigrationTarget"/);
  expect(migrate.commands[0]).toContain(`\\"gen\\":${next + 1}`);
  expect(r.value.gens.history.map((g) => g.gen)).toEqual([next, next + 1]);
  expect(await ledgerGens()).toEqual(before);
}, 60_000);

test('a stale supplied gen is refused before any call that changes anything', async () => {
  const gens = await ledgerGens();
  const handle = await lab.start(lab.input({ gen: Math.max(...gens) }));
  const failure = await runFailure(handle);
  expect(failure.message).toMatch(new RegExp(`gen ${Math.max(...gens)} is too low: .*use at least ${Math.max(...gens) + 1}`));
  expect((await scheduledActivityTypes(handle)).filter((t) => MUTATING.includes(t))).toEqual([]);
  expect(await ledgerGens()).toEqual(gens);
}, 60_000);

test('a propolis server holding another instance is refused before anything changes', async () => {
  const other = vcrJson({ blockSize: 512, blocksPerExtent: 4096, extentCount: 16, targets: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'] }, 1);
  expect((await api(DESTINATION_SLED.address, 'PUT', '/instance', specEnsure(LAB_UUID, other))).status).toBe(201);
  try {
    const gens = await ledgerGens();
    const handle = await lab.start(lab.input());
    const failure = await runFailure(handle);
    expect(failure.message).toMatch(/sled-b already holds instance vm0 .*Creating.*a migration target must be an empty server/);
    expect((await scheduledActivityTypes(handle)).filter((t) => MUTATING.includes(t))).toEqual([]);
    expect(await ledgerGens()).toEqual(gens);
  } finally {
    await reset();
  }
}, 60_000);

test('fault: the destination dies mid-RamPush: the source resumes, the destination is torn down, the run fails naming the phase', async () => {
  await reset();
  lab.faults('source', { ramPushMs: 1500 });
  lab.faults('destination', { dieDuringRamPush: true });
  const input = lab.input();
  const handle = await lab.start(input);
  const failure = await runFailure(handle);
  expect(failure.message).toMatch(/failed in phase RamPush .*the destination never activated the disk, so VM .* runs on sled-a again with gen \d+; the destination's instance was torn down/);
  const j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.source);
  await reset();
}, 120_000);

test('fault: the destination cannot reach a downstairs: it hangs activating while the migration reports Finish; after approval the VM restarts on the source with a new gen, its journal intact', async () => {
  lab.faults('destination', { blockTargets: [lab.targets[2]] });
  const input = lab.input({ startTimeout: '4s', approve: ['migrate', 'recover'] });
  const r = (await (await lab.start(input)).result()) as Result;
  expect(r.value.outcome).toBe('recovered');
  expect(r.value.migration?.outcome).toBe('finished');
  expect(r.value.recovery?.reason).toMatch(/reports Finish on both sides but sled-b did not reach Running/);
  expect(r.value.runsOn).toBe(SLEDS.source);
  const gens = r.value.gens.history.map((g) => g.gen);
  expect(gens).toEqual([...gens].sort((a, b) => a - b));
  expect(new Set(gens).size).toBe(3);
  lab.faults('destination', {});
  const j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.source);
  expect(j.gens).toEqual([r.value.recovery!.gen]);
  // The restarted guest went on counting from its journal on the disk.
  expect(j.heartbeats.first).toBeGreaterThan(1);
  await reset();
}, 120_000);

test('fault: the network to one downstairs drops while the VM runs on the source: it goes on with two, migrates, and every downstairs holds the whole journal after', async () => {
  lab.faults('source', { ramPushMs: 1500 });
  const handle = await lab.start(lab.input({ approve: [] }));
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'migrate' && s.status === 'waiting-approval'), 60_000);
  lab.faults('source', { ramPushMs: 1500, blockTargets: [lab.targets[0]] });
  await new Promise((res) => setTimeout(res, 1000)); // ten heartbeats written to two downstairs only
  await handle.executeUpdate(approveUpdate, { args: [{ step: 'migrate', decision: 'approve', approver: 'test' }] });
  const r = (await handle.result()) as Result;
  expect(r.value.outcome).toBe('migrated');
  const serial = Buffer.from(((await api(DESTINATION_SLED.address, 'GET', '/instance/serial/history?from_start=0')).body as { data: number[] }).data).toString();
  expect(serial).toMatch(/lost downstairs 127\.0\.0\.41:8810/);
  expect(serial).toMatch(/reconciled 127\.0\.0\.41:8810 from/);
  const j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.destination);
  await reset();
}, 120_000);

test('cancel before the migration: the VM this run created is stopped; its gens stay used', async () => {
  const gens = await ledgerGens();
  const handle = await lab.start(lab.input({ approve: [] }));
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'migrate' && s.status === 'waiting-approval'), 60_000);
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  const src = await api(SOURCE_SLED.address, 'GET', '/instance');
  expect((src.body as { instance: { state: string } }).instance.state).toBe('Destroyed');
  const dst = await api(DESTINATION_SLED.address, 'GET', '/instance');
  expect(dst.status === 424 || (dst.body as { instance: { state: string } }).instance.state === 'Destroyed').toBe(true);
  expect((await ledgerGens()).length).toBe(gens.length + 2); // start and migrate: reserved, never handed back
  await reset();
}, 120_000);

test('cancel during the migration: it cannot be cancelled; the run waits for its end and the VM runs on exactly one side', async () => {
  lab.faults('source', { ramPushMs: 3000 });
  const handle = await lab.start(lab.input());
  await waitForStepStart(handle, 'follow-migration');
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  const j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.destination);
  await reset();
}, 120_000);

test('SIGKILL of the worker in the middle of the migration: a new worker follows it to the end; no second instance, no gen used twice', async () => {
  lab.faults('source', { ramPushMs: 4000 });
  const gens = await ledgerGens();
  const handle = await lab.start(lab.input());
  await waitForStepStart(handle, 'follow-migration');
  await lab.restartWorker();
  const r = (await handle.result()) as Result;
  expect(r.value.outcome).toBe('migrated');
  const follow = r.audit.steps.find((s) => s.name === 'follow-migration')!;
  expect(follow.attempts.length).toBeGreaterThanOrEqual(2);
  for (const s of r.audit.steps.filter((x) => ['create-vm', 'run-vm', 'migrate', 'reserve-gen-start', 'reserve-gen-migrate'].includes(x.name)))
    expect([s.name, s.attempts.length]).toEqual([s.name, 1]);
  const after = await ledgerGens();
  expect(after.length).toBe(gens.length + 2);
  expect(new Set(after).size).toBe(after.length);
  const j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  await reset();
}, 180_000);

test('the ledger: every gen handed out once, in increasing order, across all the runs above', async () => {
  const gens = await ledgerGens();
  expect(gens.length).toBeGreaterThan(8);
  expect(gens).toEqual([...gens].sort((a, b) => a - b));
  expect(new Set(gens).size).toBe(gens.length);
  // The three copies beside the regions agree.
  const copies = await Promise.all(REGION_DIRS.map((d) => lab.sh(CRUCIBLE_HOST.name, `cat ${path.dirname(d)}/.gen-ledger/*.jsonl`)));
  expect(copies[1]).toBe(copies[0]);
  expect(copies[2]).toBe(copies[0]);
});
