import { closeTestClient, scheduledActivityTypes } from './helpers/temporal';
import { startPropolisLab, SLEDS, type PropolisLab } from './helpers/propolis-lab';
import type { LiveMigrateResult } from '../workflows/liveMigrate';
import type { RunbookResult } from '../workflows/engine/runbook';

// liveMigrate on the lab: three downstairs on cru-sled serving regions seeded from the OS image,
// two propolis-server emulators. Judged by the propolis scenario's own check (one running guest,
// continuous heartbeat, journal read straight from the downstairs, gens only up).

let lab: PropolisLab;

beforeAll(async () => {
  lab = await startPropolisLab('live-migrate');
  await lab.seedRegions();
}, 300_000);

afterAll(async () => {
  await lab?.stop();
  await closeTestClient();
});

test('there and back: the VM boots on sled-a, migrates to sled-b and back; one guest, heartbeat continuous, journal intact, gens strictly increasing', async () => {
  const input = lab.input();
  const there = (await (await lab.start(input)).result()) as RunbookResult<LiveMigrateResult>;
  expect(there.value.outcome).toBe('migrated');
  expect(there.value.runsOn).toBe(SLEDS.destination);
  expect(there.value.migration?.source.map((p) => p.phase).pop()).toBe('Finish');
  expect(there.value.migration?.destination.map((p) => p.phase).pop()).toBe('Finish');
  const gensThere = there.value.gens.history.map((g) => g.gen);
  expect(gensThere[1]).toBeGreaterThan(gensThere[0]);
  expect(there.value.guestDowntimeMs).toBeGreaterThan(0);
  let j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.destination);

  const back = (await (await lab.start({ ...input, source: SLEDS.destination, destination: SLEDS.source })).result()) as RunbookResult<LiveMigrateResult>;
  expect(back.value.outcome).toBe('migrated');
  expect(back.value.runsOn).toBe(SLEDS.source);
  const gensBack = back.value.gens.history.map((g) => g.gen);
  expect(gensBack[0]).toBe(gensThere[1]); // the running VM's gen, adopted
  expect(gensBack[1]).toBeGreaterThan(gensThere[1]);
  j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.source);
  expect(j.gens).toEqual([gensThere[0], gensThere[1], gensBack[1]]);
}, 240_000);
