import { readFileSync } from 'node:fs';
import path from 'node:path';
import { propolisRequest } from '../activities/propolis/http';
import { CRUCIBLE_HOST, REGION_DIRS } from '../lab/scenarios/crucible';
import { DESTINATION_SLED, SOURCE_SLED } from '../lab/scenarios/propolis';
import { approveUpdate } from '../workflows/engine/messages';
import type { WorkflowHandle } from '@temporalio/client';
import type { LiveMigrateResult } from '../workflows/liveMigrate';
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
// continuous heartbeat, journal read straight from the downstairs, gens only up). The happy path there
// and back, as the last link of the chain maasRepartition → seedRegions → liveMigrate, is in
// sled-chain.test.ts; the SIGKILL test below migrates there with the example input.

let lab: PropolisLab;

beforeAll(async () => {
  lab = await startPropolisLab('live-migrate');
}, 300_000);

afterAll(async () => {
  await lab?.stop();
  await closeTestClient();
});

const sleds = [SOURCE_SLED, DESTINATION_SLED];
const api = (address: string, method: 'GET' | 'PUT', path: string, body?: unknown) => propolisRequest({ address, port: 12400 }, method, path, body);

/** Between tests: no VM anywhere, no faults, the regions made and served (the first call makes them). */
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

async function ledger(): Promise<Array<{ gen: number; key: string; purpose: string }>> {
  const out = await lab.sh(CRUCIBLE_HOST.name, `cat ${path.dirname(REGION_DIRS[0])}/.gen-ledger/*.jsonl 2>/dev/null || true`);
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { gen: number; key: string; purpose: string });
}

async function ledgerGens(): Promise<number[]> {
  return (await ledger()).map((l) => l.gen);
}

/** This run's ledger entries: purpose -> gen (one line per purpose, or the test fails). */
async function ledgerOf(handle: WorkflowHandle): Promise<Record<string, number>> {
  const mine = (await ledger()).filter((l) => l.key.startsWith(`${handle.workflowId}/`));
  expect(mine.map((l) => l.purpose).filter((p, i, all) => all.indexOf(p) !== i)).toEqual([]);
  return Object.fromEntries(mine.map((l) => [l.purpose, l.gen]));
}

/**
 * Kill the worker (SIGKILL, its whole process group) as each of `steps` begins, in turn, starting a
 * new worker each time: the run must carry on from its history with the next worker.
 */
async function killAtEachStep(handle: WorkflowHandle, steps: string[], between?: (step: string) => Promise<void>): Promise<void> {
  let last = Date.now();
  for (const step of steps) {
    await waitForStepStart(handle, step, 60_000);
    const began = Date.now();
    await lab.restartWorker();
    if (process.env.PROPOLIS_TEST_LOG) process.stderr.write(`[live-migrate] killed as ${step} began, ${began - last} ms after the previous kill\n`);
    last = began;
    await between?.(step);
  }
}

/** How each killed step went: attempts, and why the first one ended (a lost activity times out). */
function killReport(r: Result, steps: string[]): string {
  return steps
    .map((n) => {
      const s = r.audit.steps.find((x) => x.name === n);
      const a = s?.attempts ?? [];
      const ms = (x?: string) => (x ? Date.parse(x) : NaN);
      const timing = a.length > 1 ? `, first ended after ${ms(a[0].endedAt) - ms(a[0].startedAt)} ms, next began ${ms(a[1].startedAt) - ms(a[0].endedAt)} ms later` : '';
      return `${n}: ${a.length} attempt(s)${a[0]?.error ? ` (${a[0].error.type ?? a[0].error.message.slice(0, 60)}${timing})` : ''}`;
    })
    .join('; ');
}

/**
 * What each sled's propolis-server was asked to change for VM `vm` (its own log, from the offsets
 * taken before the run): ensures, and state requests that reached the server, per instance.
 */
function changesAsked(vm: string, from: { source: number; destination: number }) {
  const of = (sled: 'source' | 'destination') => {
    const log = lab.serverLog(sled, from[sled]);
    const lines = (re: RegExp) => log.split('\n').filter((l) => re.test(l));
    return {
      ensures: lines(new RegExp(`ensure ${vm} \\(`)).map((l) => l.replace(/^\S+ /, '')),
      refusedEnsures: lines(new RegExp(`request PUT /instance \\S+ for ${vm} .*: 409`)).length,
      runs: lines(new RegExp(`request PUT /instance/state Run for ${vm} `)).length,
      stops: lines(new RegExp(`request PUT /instance/state Stop for ${vm} `)).length,
      migrationsOut: lines(new RegExp(`migration \\S+ out of ${vm} starting`)).length,
    };
  };
  return { source: of('source'), destination: of('destination') };
}

const logOffsets = () => ({ source: Buffer.byteLength(lab.serverLog('source')), destination: Buffer.byteLength(lab.serverLog('destination')) });

test('a propolis server holding another instance is refused before anything changes', async () => {
  await reset();
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

test('fault: the destination dies mid-RamPush: the source resumes, the destination is torn down, the run fails naming the phase; SIGKILL at the step boundaries of that path', async () => {
  await reset();
  lab.faults('source', { ramPushMs: 1500 });
  lab.faults('destination', { dieDuringRamPush: true });
  const input = lab.input();
  const from = logOffsets();
  const handle = await lab.start(input);
  // The boundaries only this path has (the inspections before them are killed in the recovery test).
  await killAtEachStep(handle, ['wait-source-resumed', 'teardown-destination']);
  const failure = await runFailure(handle);
  expect(failure.message).toMatch(
    /failed in phase RamPush .*the destination never activated the disk, so VM .* runs on sled-a again with gen \d+; sled-a owns the disk \(all three downstairs hold its gen \d+ active\); the destination's instance was torn down/,
  );
  const j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.source);
  const gens = await ledgerOf(handle);
  expect(Object.keys(gens).sort()).toEqual(['migrate', 'start']);
  const asked = changesAsked(input.vm.name, from);
  expect(asked.source).toMatchObject({ ensures: [expect.stringMatching(/from a spec/)], refusedEnsures: 0, runs: 1, stops: 0, migrationsOut: 1 });
  // The destination's server died with the instance (its supervisor restarted it empty): one ensure.
  expect(asked.destination).toMatchObject({ ensures: [expect.stringMatching(/as target of migration/)], refusedEnsures: 0, runs: 0 });
  await reset();
}, 120_000);

// After a run has put gens in the ledger: the plan's next gen and a stale one are known.
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

test('fault: the destination cannot reach a downstairs: it hangs activating while the migration reports Finish; after approval the VM restarts on the source with a new gen, its journal intact', async () => {
  await reset();
  lab.faults('destination', { blockTargets: [lab.targets[2]] });
  const input = lab.input({ startTimeout: '3s', approve: ['migrate', 'recover'] });
  const r = (await (await lab.start(input)).result()) as Result;
  expect(r.value.outcome).toBe('recovered');
  expect(r.value.migration?.outcome).toBe('finished');
  expect(r.value.recovery?.reason).toMatch(/reports Finish on both sides but sled-b did not reach Running/);
  // It had taken over the two downstairs it reaches; the third still held the source's gen.
  expect(r.value.recovery?.diskOwner).toBe('none');
  expect(r.value.recovery?.reason).toMatch(/neither side owns the disk/);
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

test('fault: the destination takes the disk over, then the migration fails (propolis#230: the source resumes fenced): the runbook says the destination owns the disk and, after approval, restarts the VM there with a new gen; SIGKILL at every step boundary of the recovery', async () => {
  await reset();
  lab.faults('destination', { failAfterActivating: true });
  const input = lab.input({ approve: ['migrate', 'recover'], recoverOn: 'destination' });
  const from = logOffsets();
  const handle = await lab.start(input);
  const steps = [
    'destination-disk-status',
    'disk-holders',
    'inspect-source-after',
    'recover',
    'wait-destination-stopped',
    'stop-fenced-source',
    'reserve-gen-recover',
    'create-vm-recovered',
    'run-vm-recovered',
    'wait-running-recovered',
    'check-guest-recovered',
  ];
  await killAtEachStep(handle, steps);
  const r = (await handle.result()) as Result;
  if (process.env.PROPOLIS_TEST_LOG) process.stderr.write(`[live-migrate] ${killReport(r, steps)}\n`);
  expect(r.value.outcome).toBe('recovered');
  expect(r.value.migration?.outcome).toBe('failed');
  const gens = await ledgerOf(handle);
  expect(r.value.recovery).toMatchObject({ diskOwner: 'destination', on: SLEDS.destination, gen: gens.recover });
  expect(r.value.recovery?.holders.map((h) => h.activeGen)).toEqual([gens.migrate, gens.migrate, gens.migrate]);
  expect(r.value.recovery?.reason).toMatch(
    /ended failed in phase \w+ .*after the destination took the volume over; the source \(Running\) is fenced; sled-b owns the disk \(all three downstairs hold its gen \d+ active\)/,
  );
  expect(r.value.runsOn).toBe(SLEDS.destination);
  expect(r.value.guest?.image).toMatch(/^boot: \d+ of \d+ files listed in \/MANIFEST\.sha256 intact$/);
  expect(gens.start).toBeLessThan(gens.migrate);
  expect(gens.migrate).toBeLessThan(gens.recover);
  for (const s of r.audit.steps.filter((x) => x.kind !== 'compensate')) expect([s.name, s.status]).toEqual([s.name, 'completed']);
  // The emulators' own logs: each change asked for once (a retried step looked first and found it done).
  const asked = changesAsked(input.vm.name, from);
  expect(asked.source).toMatchObject({ ensures: [expect.stringMatching(/from a spec/)], refusedEnsures: 0, runs: 1, stops: 1, migrationsOut: 1 });
  expect(asked.destination).toMatchObject({ refusedEnsures: 0, runs: 1, stops: 1, migrationsOut: 0 });
  expect(asked.destination.ensures).toEqual([expect.stringMatching(/as target of migration/), expect.stringMatching(/from a spec/)]);
  const j = await lab.judge({ image: true });
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.destination);
  expect(j.gens).toEqual([gens.recover]);
  expect(j.heartbeats.first).toBeGreaterThan(1);
  await reset();
}, 180_000);

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
  lab.faults('source', { ramPushMs: 2000 });
  const handle = await lab.start(lab.input());
  await waitForStepStart(handle, 'follow-migration');
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  const j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.destination);
  await reset();
}, 120_000);

test('SIGKILL of the worker at every step boundary, in the middle of the migration too: each new worker carries the run on; one instance per side, one gen per purpose, each change asked for once', async () => {
  await reset();
  // The source stays in RamPush until the worker has been killed as follow-migration began.
  lab.faults('source', { holdRamPush: true });
  // The runbook's example input, as an operator would start it on the lab.
  const input = JSON.parse(readFileSync(path.join(__dirname, '..', 'runbooks', 'liveMigrate', 'examples', 'lab.json'), 'utf8')) as { vm: { name: string } };
  const from = logOffsets();
  const handle = await lab.start(input);
  const steps = [
    'inspect-source',
    'inspect-destination',
    'inspect-regions',
    'reserve-gen-start',
    'create-vm',
    'run-vm',
    'wait-running',
    'check-guest',
    'reserve-gen-migrate',
    'migrate',
    'follow-migration',
    'wait-destination-running',
    'wait-source-destroyed',
    'check-guest-destination',
  ];
  let midMigration: string | null = null;
  await killAtEachStep(handle, steps, async (step) => {
    if (step !== 'follow-migration') return;
    const st = await api(DESTINATION_SLED.address, 'GET', '/instance/migration-status');
    midMigration = (st.body as { migration_in: { state: string } | null }).migration_in?.state ?? null;
    lab.faults('source', {});
  });
  const r = (await handle.result()) as Result;
  if (process.env.PROPOLIS_TEST_LOG) process.stderr.write(`[live-migrate] ${killReport(r, steps)}\n`);
  expect(r.value.outcome).toBe('migrated');
  // The kill as follow-migration began came while the servers were still migrating.
  expect(midMigration).toBe('RamPush');
  expect(r.audit.steps.filter((s) => s.kind !== 'compensate').map((s) => [s.name, s.status])).toEqual(
    ['resolve-hosts', ...steps.slice(0, 13), 'commit', 'check-guest-destination'].map((n) => [n, 'completed']),
  );
  const gens = await ledgerOf(handle);
  expect(Object.keys(gens).sort()).toEqual(['migrate', 'start']);
  expect(r.value.gens.history.map((g) => g.gen)).toEqual([gens.start, gens.migrate]);
  const asked = changesAsked(input.vm.name, from);
  expect(asked.source).toEqual({ ensures: [expect.stringMatching(/from a spec/)], refusedEnsures: 0, runs: 1, stops: 0, migrationsOut: 1 });
  expect(asked.destination).toEqual({ ensures: [expect.stringMatching(/as target of migration/)], refusedEnsures: 0, runs: 0, stops: 0, migrationsOut: 0 });
  const j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.destination);
  expect(j.gens).toEqual([gens.start, gens.migrate]);
  await reset();
}, 240_000);

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
