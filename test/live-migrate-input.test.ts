import { closeTestClient, runFailure, scheduledActivityTypes, startRunbook } from './helpers/temporal';

// liveMigrate's bad-input corpus: each fails at once, non-retryable, listing every problem, and
// schedules no activity at all (so nothing was asked of any server, region or ledger).

afterAll(closeTestClient);

const good = {
  source: 'sled-a',
  destination: 'sled-b',
  vm: { name: 'vm0', vcpus: 2, memoryMiB: 1024 },
  disk: { name: 'disk0', slot: 1 },
  regions: {
    host: 'cru-sled',
    downstairs: [
      { dir: '/pool/disk0/region/8810', port: 8810 },
      { dir: '/pool/disk1/region/8820', port: 8820 },
      { dir: '/pool/disk2/region/8830', port: 8830 },
    ],
  },
};
const with_ = (patch: Record<string, unknown>) => ({ ...good, ...patch });
const ds = good.regions.downstairs;

const corpus: Array<[string, unknown, RegExp[]]> = [
  ['an address instead of a server name', with_({ source: '10.0.0.1:12400' }), [/source: a host name/]],
  ['shell in a server name', with_({ destination: 'sled-b; reboot' }), [/destination: a host name/]],
  ['the same server twice', with_({ destination: 'sled-a' }), [/destination: the destination must be another server/]],
  ['the storage host as a propolis server', with_({ regions: { ...good.regions, host: 'sled-a' } }), [/regions\.host: the storage host must not be/]],
  ['a port out of range', with_({ port: 70000 }), [/port: /]],
  ['a VM UUID that is not one', with_({ vm: { ...good.vm, id: 'not-a-uuid' } }), [/vm\.id: a lower-case UUID/]],
  ['an upper-case volume UUID', with_({ volumeId: '0CEDAE45-3D6E-4D90-B2CB-56F1A1A42A89' }), [/volumeId: a lower-case UUID/]],
  ['slot 8', with_({ disk: { name: 'disk0', slot: 8 } }), [/disk\.slot: /]],
  ['slot -1', with_({ disk: { name: 'disk0', slot: -1 } }), [/disk\.slot: /]],
  ['0 vCPUs and 65 vCPUs', with_({ vm: { ...good.vm, vcpus: 0 } }), [/vm\.vcpus: /]],
  ['too many vCPUs', with_({ vm: { ...good.vm, vcpus: 65 } }), [/vm\.vcpus: /]],
  ['too little memory', with_({ vm: { ...good.vm, memoryMiB: 128 } }), [/vm\.memoryMiB: /]],
  ['odd memory', with_({ vm: { ...good.vm, memoryMiB: 1025 } }), [/vm\.memoryMiB: a multiple of 2 MiB/]],
  ['too much memory', with_({ vm: { ...good.vm, memoryMiB: 300000 } }), [/vm\.memoryMiB: /]],
  ['a disk name with a slash', with_({ disk: { name: 'disk/0', slot: 1 } }), [/disk\.name: a disk name/]],
  ['an empty disk name', with_({ disk: { name: '', slot: 1 } }), [/disk\.name: /]],
  ['a VM name with spaces', with_({ vm: { ...good.vm, name: 'my vm' } }), [/vm\.name: a VM name/]],
  ['two downstairs', with_({ regions: { host: 'cru-sled', downstairs: ds.slice(0, 2) } }), [/regions\.downstairs: exactly three downstairs/]],
  ['the same port twice', with_({ regions: { host: 'cru-sled', downstairs: [ds[0], { ...ds[1], port: 8810 }, ds[2]] } }), [/three different ports/]],
  ['a relative region dir', with_({ regions: { host: 'cru-sled', downstairs: [{ dir: 'pool/disk0', port: 8810 }, ds[1], ds[2]] } }), [/regions\.downstairs\[0\]\.dir: /]],
  ['gen 0', with_({ gen: 0 }), [/gen: /]],
  ['typed geometry (never typed: read from the regions)', with_({ blockSize: 512, extentCount: 64 }), [/blockSize/, /extentCount/]],
  [
    'everything wrong at once',
    { source: 'A', destination: 'A', vm: { name: '1', vcpus: 0, memoryMiB: 1 }, disk: { name: 'x', slot: 9 }, regions: {} },
    [/source: /, /vm\.name/, /vm\.vcpus/, /vm\.memoryMiB/, /disk\.slot/, /regions\./],
  ],
];

test.each(corpus)('liveMigrate with %s fails at once, schedules no activity', async (_what, input, expected) => {
  const handle = await startRunbook('liveMigrate', input);
  const failure = await runFailure(handle);
  expect(failure.type).toBe('InvalidInput');
  expect(failure.nonRetryable).toBe(true);
  for (const re of expected) expect(failure.message).toMatch(re);
  expect(await scheduledActivityTypes(handle)).toEqual([]);
});
