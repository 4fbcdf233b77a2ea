import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RegionFacts, SeedFacts } from '../activities/crucible/activities';
import { seedRegionsInputSchema, type SeedRegionsInput } from '../runbooks/seedRegions/schema';
import { decideSeeding, geometryFor, regionBytesNeeded } from '../workflows/seedRegions/decide';
import { repoRoot } from './helpers/paths';

// seedRegions' step 1 decides from one inspection, in the workflow, what is already done (issue 10:
// each directory absent, empty, a partial region from a failed import, or a complete region; each
// pool healthy with room; each port free or serving this region). decideSeeding is pure, so every
// case is proven here from made-up facts in milliseconds; seed-regions.test.ts runs the common ones
// on the lab.

const example = seedRegionsInputSchema.parse(JSON.parse(readFileSync(path.join(repoRoot, 'runbooks', 'seedRegions', 'examples', 'lab.json'), 'utf8')));
const IMAGE_BYTES = 24 * 1024 * 1024 + 100; // a tail that is not a whole block
const PADDED = 'b'.repeat(64);
const UUIDS = example.regions.map((r) => r.uuid!);

function region(n: number, patch: Partial<RegionFacts> = {}): RegionFacts {
  return {
    dir: example.regions[n].dir,
    port: example.regions[n].port,
    state: { kind: 'absent' },
    contentSha: null,
    filesystem: { mount: `/pool/disk${n}`, source: `cru${n}`, fstype: 'fuse.zfs', availBytes: 2 * 1024 ** 3 },
    pool: { pool: `cru${n}`, health: 'ONLINE', freeBytes: 2 * 1024 ** 3 },
    listener: { state: 'free' },
    repairListener: { state: 'free' },
    service: { supervised: false, state: null, pid: null, runScript: '' },
    ...patch,
  };
}

function facts(regions: RegionFacts[] = [0, 1, 2].map((n) => region(n)), patch: Partial<SeedFacts> = {}): SeedFacts {
  return {
    tools: { crucibleDownstairs: '/usr/local/bin/crucible-downstairs', runsv: '/usr/bin/runsv', sv: '/usr/bin/sv', svlogd: '/usr/bin/svlogd' },
    image: { path: '/root/images/os.raw', bytes: IMAGE_BYTES, sha256: 'a'.repeat(64), paddedSha256: PADDED },
    regions,
    ...patch,
  };
}

const g = geometryFor(example, IMAGE_BYTES);

/** A region as a finished import leaves it: this geometry, every extent clean at flush 1, gen 0. */
function complete(uuid: string, over: { maxGen?: number; anyDirty?: boolean; anyUnflushed?: boolean; extentCount?: number } = {}): RegionFacts['state'] {
  return {
    kind: 'region',
    def: {
      block_size: g.blockSize,
      extent_size: { value: g.extentSize, shift: 9 },
      extent_count: over.extentCount ?? g.extentCount,
      uuid,
      encrypted: false,
      database_read_version: 1,
      database_write_version: 1,
    },
    meta: { maxGen: over.maxGen ?? 0, maxFlush: 1, anyDirty: over.anyDirty ?? false, anyUnflushed: over.anyUnflushed ?? false },
  };
}

const serving = (uuid: string): RegionFacts['listener'] => ({
  state: 'serving',
  info: { region: { block_size: 512, blocks_per_extent: g.extentSize, extent_count: g.extentCount, uuid } },
});

/** The downstairs' runit service, running (a rerun finds it so). */
const supervised: RegionFacts['service'] = { supervised: true, state: 'run', pid: 42, runScript: '' };

const decide = (f: SeedFacts, input: SeedRegionsInput = example) => decideSeeding(input, f, () => '00000000-0000-4000-8000-000000000001');

test("geometry: Omicron's 64 MiB extents (131072 blocks at 512 B, 16384 at 4096 B), as many extents as the image needs, never fewer", () => {
  expect(geometryFor(example, IMAGE_BYTES)).toEqual({ blockSize: 512, extentSize: 131072, extentCount: 1, imageBlocks: Math.ceil(IMAGE_BYTES / 512) });
  expect(geometryFor({ ...example, blockSize: 4096 }, 200 * 1024 ** 2)).toMatchObject({ extentSize: 16384, extentCount: 4 });
  expect(geometryFor({ ...example, extentCount: 2 }, 200 * 1024 ** 2).extentCount).toBe(4);
  expect(geometryFor({ ...example, extentCount: 9 }, 200 * 1024 ** 2).extentCount).toBe(9);
});

test("block size: the input's, else the image's sector size from its GPT, else 512; an extent the image's sector size makes too big blocks the run", () => {
  expect(geometryFor(example, 200 * 1024 ** 2, 4096)).toMatchObject({ blockSize: 4096, extentSize: 16384, extentCount: 4 });
  expect(geometryFor({ ...example, blockSize: 512 }, 200 * 1024 ** 2, 4096)).toMatchObject({ blockSize: 512, extentSize: 131072 });
  expect(geometryFor(example, 200 * 1024 ** 2, null).blockSize).toBe(512);
  // An inspection recorded before the sector size was read has none: 512, as those runs decided.
  expect(geometryFor(example, 200 * 1024 ** 2).blockSize).toBe(512);
  const gpt4k = facts(undefined, { image: { ...facts().image, sectorSize: 4096 } });
  expect(decide(gpt4k).geometry.blockSize).toBe(4096);
  expect(decide(gpt4k).blockers).toEqual([]);
  // 262144 blocks: 128 MiB files at 512 B, but 1 GiB at the image's 4096.
  expect(decide(facts(), { ...example, extentSize: 262144 }).blockers).toEqual([]);
  expect(decide(gpt4k, { ...example, extentSize: 262144 }).blockers).toEqual([
    "extent files over 512 MiB: 262144 blocks × 4096 bytes = 1024 MiB (the block size 4096 is the image's sector size): give a smaller extentSize, or a blockSize",
  ]);
});

test('each directory: absent or empty -> create; complete and matching -> keep; a failed import of this run -> recreate; anything else -> replace-foreign', () => {
  const d = decide(
    facts([
      region(0, { state: { kind: 'absent' } }),
      region(1, { state: { kind: 'empty' } }),
      region(2, { state: complete(UUIDS[2]), contentSha: PADDED, listener: serving(UUIDS[2]), repairListener: serving(UUIDS[2]), service: supervised }),
    ]),
  );
  expect(d.blockers).toEqual([]);
  expect(d.regions.map((r) => [r.uuid, r.action.kind])).toEqual([
    [UUIDS[0], 'create'],
    [UUIDS[1], 'create'],
    [UUIDS[2], 'keep'],
  ]);

  // A partial directory from a failed import (unflushed extents, or dump failing on it): made again, no approval.
  for (const state of [complete(UUIDS[0], { anyDirty: true, anyUnflushed: true }), { ...complete(UUIDS[0]), meta: null, metaError: 'dump failed' } as RegionFacts['state']]) {
    expect(decide(facts([region(0, { state }), region(1), region(2)])).regions[0].action.kind).toBe('recreate-partial');
  }
  // This run's uuid with the right metadata but not the image's content (contentSha differs): also made again.
  expect(decide(facts([region(0, { state: complete(UUIDS[0]), contentSha: 'c'.repeat(64) }), region(1), region(2)])).regions[0].action.kind).toBe('recreate-partial');

  // Someone else's region, a region of another geometry under a generated uuid, files: replacing needs approval.
  const foreign = decide(
    facts([
      region(0, { state: complete('0f0f0f0f-0000-4000-8000-00000000f0f0'), contentSha: PADDED }),
      region(1, { state: { kind: 'files', names: ['keep'] } }),
      region(2, { state: complete(UUIDS[2], { extentCount: 7 }), contentSha: PADDED }),
    ]),
    { ...example, regions: example.regions.map((r, i) => (i === 2 ? { dir: r.dir, port: r.port } : r)) },
  );
  expect(foreign.blockers).toEqual([]);
  expect(foreign.regions.map((r) => r.action)).toEqual([
    { kind: 'replace-foreign', foundUuid: '0f0f0f0f-0000-4000-8000-00000000f0f0', why: expect.stringContaining('holds region 0f0f0f0f') },
    { kind: 'replace-foreign', foundUuid: null, why: 'it holds files that are not a region (keep)' },
    { kind: 'replace-foreign', foundUuid: UUIDS[2], why: expect.stringContaining('not the image with this geometry') },
  ]);
});

test("without uuids in the input: a complete matching region keeps its own uuid (a rerun changes nothing); a new one gets the run's", () => {
  const input = { ...example, regions: example.regions.map(({ dir, port }) => ({ dir, port })) };
  const d = decide(facts([region(0, { state: complete(UUIDS[0]), contentSha: PADDED }), region(1), region(2)]), input);
  expect(d.regions.map((r) => [r.uuid, r.action.kind])).toEqual([
    [UUIDS[0], 'keep'],
    ['00000000-0000-4000-8000-000000000001', 'create'],
    ['00000000-0000-4000-8000-000000000001', 'create'],
  ]);
});

test('blockers (nothing is changed): written-to region, pool not ONLINE, no room, two regions on one filesystem, ports taken, tools missing, another image', () => {
  const written = decide(facts([region(0, { state: complete(UUIDS[0], { maxGen: 3, anyDirty: true }), contentSha: 'c'.repeat(64) }), region(1), region(2)]));
  expect(written.blockers).toEqual([expect.stringMatching(/holds this run's region .* an upstairs has written to it \(max gen 3\)/)]);

  const pools = decide(
    facts([
      region(0, { pool: { pool: 'cru0', health: 'DEGRADED', freeBytes: 1 } }),
      region(1, { filesystem: { mount: '/pool/disk1', source: 'cru1', fstype: 'fuse.zfs', availBytes: regionBytesNeeded(g) - 1 } }),
      region(2, { filesystem: { mount: '/pool/disk0', source: 'cru0', fstype: 'fuse.zfs', availBytes: 2 * 1024 ** 3 } }),
    ]),
  );
  expect(pools.blockers).toEqual([
    'pool cru0 (holding /pool/disk0/region/8810) is DEGRADED, not ONLINE',
    `/pool/disk1 (holding /pool/disk1/region/8820) has ${regionBytesNeeded(g) - 1} bytes free, the region needs about ${regionBytesNeeded(g)}`,
    '/pool/disk0/region/8810 and /pool/disk2/region/8830 are on the same filesystem cru0: one disk would hold two of the three copies',
  ]);

  const ports = decide(
    facts([
      region(0, { listener: { state: 'not-downstairs', detail: 'takes connections, but nothing answers GET /region-info on port 12810' } }),
      region(1, { repairListener: serving('0f0f0f0f-0000-4000-8000-00000000f0f0') }),
      region(2, { state: complete(UUIDS[2]), contentSha: PADDED, listener: serving(UUIDS[2]), repairListener: serving(UUIDS[2]) }),
    ]),
  );
  expect(ports.blockers).toEqual([
    'port 8810 on 127.0.0.41 is taken by something that is not a downstairs (takes connections, but nothing answers GET /region-info on port 12810)',
    "port 12820 on 127.0.0.41 serves region 0f0f0f0f-0000-4000-8000-00000000f0f0, not /pool/disk1/region/8820's; stop that downstairs first",
    'port 8830 serves this region from a downstairs no supervisor runs (started by hand?); stop it so runit can run it',
    'port 12830 serves this region from a downstairs no supervisor runs (started by hand?); stop it so runit can run it',
  ]);
  // The same downstairs under this run's runit service: a rerun, not a blocker.
  expect(
    decide(facts([region(0), region(1), region(2, { state: complete(UUIDS[2]), contentSha: PADDED, listener: serving(UUIDS[2]), repairListener: serving(UUIDS[2]), service: supervised })])).blockers,
  ).toEqual([]);

  const tools = decide(facts(undefined, { tools: { crucibleDownstairs: null, runsv: null, sv: '/usr/bin/sv', svlogd: '/usr/bin/svlogd' } }));
  expect(tools.blockers).toEqual([expect.stringMatching(/^crucible-downstairs is not on the PATH of cru-sled/), expect.stringMatching(/^runit \(runsv, sv, svlogd\) is not installed/)]);

  const other = decide(facts(), { ...example, image: { path: '/root/images/os.raw', sha256: 'd'.repeat(64) } });
  expect(other.blockers).toEqual([`the image /root/images/os.raw has sha256 ${'a'.repeat(64)}, not the expected ${'d'.repeat(64)}: nothing was made from it`]);
});
