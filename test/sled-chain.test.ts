import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { IMAGE_PATH, type ImageRecord, imageRecordPath } from '../lab/scenarios/crucible';
import { MAAS_HOSTS } from '../lab/scenarios/maas';
import { liveMigrateInputFromSeedRegions } from '../runbooks/liveMigrate/from-seed-regions';
import { seedRegionsInputFromMaasRepartition } from '../runbooks/seedRegions/from-maas-repartition';
import type { RunbookResult } from '../workflows/engine/runbook';
import type { LiveMigrateResult } from '../workflows/liveMigrate';
import type { MaasRepartitionResult } from '../workflows/maasRepartition';
import type { SeedRegionsResult } from '../workflows/seedRegions';
import { repoRoot, tsxCli } from './helpers/paths';
import { SLEDS, startPropolisLab, type PropolisLab } from './helpers/propolis-lab';
import { closeTestClient, startRunbook, testClient } from './helpers/temporal';

// The storage sled's whole chain on ONE lab (DESIGN.md "One storage sled, three runbooks in a
// chain"): maasRepartition gives proper-raptor three partitions through the MAAS emulator and a pool
// on each; seedRegions seeds three Crucible regions on those pools from the OS image and serves them;
// liveMigrate boots a VM from them on sled-a, moves it to sled-b and back. Each run's input is made
// from the previous run's input and result by the same pure links `runbook start --input-from` uses
// (runbooks/chain-links.ts); nothing is copied by hand. Judged independently: the maas scenario's
// pools on real partitions, the region files on those pools' mounts, and the propolis scenario's
// own check (one guest, heartbeat continuous, journal intact, gens only up, the image's files).

let lab: PropolisLab;

beforeAll(async () => {
  lab = await startPropolisLab('sled-chain', { storage: 'maas' });
}, 300_000);

afterAll(async () => {
  await lab?.stop();
  await closeTestClient();
});

const example = (runbook: string) => JSON.parse(readFileSync(path.join(repoRoot, 'runbooks', runbook, 'examples', 'lab.json'), 'utf8')) as Record<string, unknown>;

test('the chain on one sled: maasRepartition makes three pools on real partitions, seedRegions seeds the regions on them, liveMigrate moves the VM there and back; one guest, heartbeat continuous, journal intact, gens strictly increasing', async () => {
  const machine = MAAS_HOSTS.machine.name;
  // 1. maasRepartition, the example input (strategy maas, the release approved in the input); the
  // lab's MAAS answers within FAST_TIMINGS, so it is polled every 200 ms instead of every second.
  const maasInput = { ...example('maasRepartition'), pollInterval: '200ms' };
  expect(maasInput).toMatchObject({ strategy: 'maas', approve: ['release'] });
  const t0 = Date.now();
  const maasRun = await startRunbook('maasRepartition', maasInput, { taskQueue: lab.taskQueue });
  const maas = (await maasRun.result()) as RunbookResult<MaasRepartitionResult>;
  const tMaas = Date.now() - t0;
  expect(maas.value.outcome).toBe('repartitioned');
  expect(maas.value.pools.map((p) => [p.name, p.mountpoint, p.health])).toEqual([1, 2, 3].map((n) => [`crucible${n}`, `/crucible${n}`, 'ONLINE']));

  // 2. seedRegions on those pools, started as an operator would: `runbook start seedRegions
  // --input-from <the maasRepartition run>` with what only the operator knows (the address the
  // downstairs listen on, the image). The CLI's input is the link's, from the run's history and result.
  const given = { address: lab.storage.address, image: { path: IMAGE_PATH }, serviceDir: '/run/sv' };
  const seedInput = seedRegionsInputFromMaasRepartition({ input: maasInput, result: maas }, given);
  const seedId = `sled-chain/seedRegions/${randomUUID()}`;
  const cli = spawnSync(
    process.execPath,
    [tsxCli, path.join(repoRoot, 'cli', 'main.ts'), 'start', 'seedRegions', '--input-from', maasRun.workflowId, '--input', JSON.stringify(given), '--id', seedId],
    { cwd: repoRoot, encoding: 'utf8', timeout: 120_000, env: { ...process.env, RUNBOOK_TASK_QUEUE: lab.taskQueue } },
  );
  expect([cli.status, cli.stderr]).toEqual([0, '']);
  const seedRun = (await testClient()).workflow.getHandle(seedId);
  const started = (await seedRun.fetchHistory()).events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
  expect(defaultPayloadConverter.fromPayload(started)).toEqual(seedInput);
  const regions = seedInput.regions as Array<{ dir: string; port: number }>;
  expect(regions).toEqual([
    { dir: '/crucible1/region/8810', port: 8810 },
    { dir: '/crucible2/region/8820', port: 8820 },
    { dir: '/crucible3/region/8830', port: 8830 },
  ]);
  const t1 = Date.now();
  const seeded = (await seedRun.result()) as RunbookResult<SeedRegionsResult>;
  const tSeed = Date.now() - t1;
  expect(seeded.value.targets).toEqual(lab.targets);
  expect(seeded.value.regions.map((r) => r.action)).toEqual(['created', 'created', 'created']);

  // The regions' files are on the partitions' pools: each region directory is on its pool's zfs
  // mount (the top one of the two at the mountpoint: the pool is mounted over the lab's bind mount of
  // a private folder), the pool's only vdev is the partition maasRepartition made (a partition of the loop
  // device that is proper-raptor's sda, not a file), and the region holds at least the image.
  const image = JSON.parse(readFileSync(imageRecordPath(lab.ctx[machine].hostDir), 'utf8')) as ImageRecord;
  for (const [n, r] of regions.entries()) {
    const pool = maas.value.pools[n];
    const partition = maas.value.partitions.find((p) => p.pool === pool.name)!;
    const dev = `$(readlink -f ${partition.stablePath})`;
    const out = await lab.sh(
      machine,
      [
        `echo "mount|$(findmnt -n -T ${r.dir} -o SOURCE,FSTYPE,TARGET | tail -n 1)"`,
        // zpool status names the vdev (zfs-fuse prints the device the stable path resolved to when the pool was made)
        `v=$(zpool status ${pool.name} | awk -v p=${pool.name} 'f && NF >= 2 && $1 != p {print $1; exit} $1 == "NAME" {f=1}')`,
        `for c in "$v" "/dev/$v"; do [ -n "$v" ] && [ -e "$c" ] && { echo "vdev|$(readlink -f "$c")"; break; }; done`,
        `echo "device|${dev}"`,
        `echo "partition|$(cat /sys/class/block/$(basename ${dev})/partition)"`,
        `echo "bytes|$(du -s --apparent-size -B1 ${r.dir} | cut -f1)"`,
        `echo "files|$(ls ${r.dir} | tr '\\n' ' ')"`,
      ].join('\n'),
    );
    const f = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('|')), l.slice(l.indexOf('|') + 1).trim()]),
    );
    expect(f.mount.split(/\s+/)).toEqual([pool.name, expect.stringMatching(/zfs/), pool.mountpoint]);
    expect(f.device).toMatch(/^\/dev\/loop\d+p\d+$/);
    expect(f.vdev).toBe(f.device);
    expect(Number(f.partition)).toBeGreaterThan(2); // a spare partition: not the EFI one, not the root
    expect(Number(f.bytes)).toBeGreaterThanOrEqual(image.bytes);
    expect(f.files.split(' ')).toEqual(expect.arrayContaining(['region.json', '00']));
  }

  // 3. liveMigrate there: its regions from seedRegions' run; the servers, the VM and its disk from the operator.
  const vm = example('liveMigrate') as { source: string; destination: string; vm: unknown; disk: unknown; approve: string[] };
  const input = liveMigrateInputFromSeedRegions({ input: seedInput, result: seeded }, { source: vm.source, destination: vm.destination, vm: vm.vm, disk: vm.disk, approve: vm.approve });
  expect(input.regions).toEqual({ host: machine, seedRegions: seeded.value });
  const t2 = Date.now();
  const there = (await (await lab.start(input)).result()) as RunbookResult<LiveMigrateResult>;
  const tThere = Date.now() - t2;
  expect(there.value.outcome).toBe('migrated');
  expect(there.value.runsOn).toBe(SLEDS.destination);
  expect(there.value.volume).toMatchObject({
    blockSize: seeded.value.block_size,
    blocksPerExtent: seeded.value.blocks_per_extent,
    extentCount: seeded.value.extent_count,
    targets: seeded.value.targets,
  });
  expect(there.value.migration?.source.map((p) => p.phase).pop()).toBe('Finish');
  expect(there.value.migration?.destination.map((p) => p.phase).pop()).toBe('Finish');
  const gensThere = there.value.gens.history.map((g) => g.gen);
  expect(gensThere[0]).toBeGreaterThan(seeded.value.maxGen);
  expect(gensThere[1]).toBeGreaterThan(gensThere[0]);
  expect(there.value.guestDowntimeMs).toBeGreaterThan(0);
  // The guest read every file of the image back through its new upstairs after the move.
  expect(there.value.guest?.image).toMatch(/^after migration [0-9a-f-]+: \d+ of \d+ files listed in \/MANIFEST\.sha256 intact$/);
  let j = await lab.judge({ image: true });
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.checks.filter((c) => c.name.startsWith("the OS image's files intact"))).toHaveLength(3);
  expect(j.runningOn).toBe(SLEDS.destination);

  // 4. And back: the same input with the servers swapped; the running VM's gen is adopted.
  const t3 = Date.now();
  const back = (await (await lab.start({ ...input, source: vm.destination, destination: vm.source })).result()) as RunbookResult<LiveMigrateResult>;
  const tBack = Date.now() - t3;
  expect(back.value.outcome).toBe('migrated');
  expect(back.value.runsOn).toBe(SLEDS.source);
  const gensBack = back.value.gens.history.map((g) => g.gen);
  expect(gensBack[0]).toBe(gensThere[1]);
  expect(gensBack[1]).toBeGreaterThan(gensThere[1]);
  j = await lab.judge();
  expect(j.checks.filter((c) => !c.ok)).toEqual([]);
  expect(j.runningOn).toBe(SLEDS.source);
  expect(j.gens).toEqual([gensThere[0], gensThere[1], gensBack[1]]);
  // The volume's gen ledger lives beside the regions, on the partitions' pools.
  const ledger = await lab.sh(machine, 'cat /crucible1/region/.gen-ledger/*.jsonl');
  expect(
    ledger
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { gen: number }).gen),
  ).toEqual([gensThere[0], gensThere[1], gensBack[1]]);
  if (process.env.PROPOLIS_TEST_LOG) process.stderr.write(`[sled-chain] maasRepartition ${tMaas} ms, seedRegions ${tSeed} ms, liveMigrate there ${tThere} ms, back ${tBack} ms\n`);
}, 300_000);
