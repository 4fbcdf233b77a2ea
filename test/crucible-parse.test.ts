import { listenerState, parseFilesystemOf, parseImageSectorSize, parseRepairRegionInfo } from '../activities/crucible/parse';

// seedRegions' look at the filesystem that would hold a region (`findmnt -J -T <dir>` and df). On
// proper-raptor a pool is mounted over the lab's bind mount of the same directory (/crucible1), and
// findmnt lists both, bottom first (as `findmnt -J -T` printed for two tmpfs stacked on one
// directory); a path resolves to the top one, so that is the filesystem, and its pool is checked.

test('stacked mounts on one target: the region is on the top one (the pool), not on the mount it hides', () => {
  const stdout = `{
   "filesystems": [
      {"target": "/crucible1", "source": "/dev/vda[/lab/hosts/proper-raptor/private/_crucible1]", "fstype": "ext4"},
      {"target": "/crucible1", "source": "crucible1", "fstype": "fuse.zfs"}
   ]
}
880803840
`;
  expect(parseFilesystemOf(stdout)).toEqual({ mount: '/crucible1', source: 'crucible1', fstype: 'fuse.zfs', availBytes: 880803840 });
});

test('one mount: that one', () => {
  expect(parseFilesystemOf('{"filesystems": [{"target": "/pool/disk0", "source": "cru0", "fstype": "fuse.zfs"}]}\n123\n')).toEqual({
    mount: '/pool/disk0',
    source: 'cru0',
    fstype: 'fuse.zfs',
    availBytes: 123,
  });
});

// seedRegions asks a port what it serves as Crucible's own tools would: GET /region-info on the
// repair server (port + 4000), `curl -sS -w '\n%{http_code}\n'`; the upstairs' port only has to
// take connections.
describe('what answers on a downstairs port', () => {
  const def = {
    block_size: 512,
    extent_size: { value: 131072, shift: 9 },
    extent_count: 1,
    uuid: '5a2f1b6e-8a1d-4c3e-9f0a-2b7c6d5e4f30',
    encrypted: false,
    database_read_version: 1,
    database_write_version: 1,
  };

  test('a downstairs: its RegionDefinition names the region', () => {
    expect(parseRepairRegionInfo(0, `${JSON.stringify(def)}\n200\n`)).toEqual({
      state: 'serving',
      info: { region: { block_size: 512, blocks_per_extent: 131072, extent_count: 1, uuid: def.uuid } },
    });
  });

  test('nothing listening (curl exit 7), or something that is not a downstairs', () => {
    expect(parseRepairRegionInfo(7, '\n000\n')).toEqual({ state: 'free' });
    expect(parseRepairRegionInfo(0, '{"request_id":"x","message":"Not Found"}\n404\n')).toMatchObject({ state: 'not-downstairs', detail: expect.stringContaining('HTTP 404') });
    expect(parseRepairRegionInfo(0, '{"hello":"world"}\n200\n')).toMatchObject({ state: 'not-downstairs' });
    expect(parseRepairRegionInfo(1, '\n000\n')).toMatchObject({ state: 'not-downstairs', detail: expect.stringContaining('curl exit 1') });
  });

  test("the upstairs' port is judged by its repair server", () => {
    const serving = parseRepairRegionInfo(0, `${JSON.stringify(def)}\n200\n`);
    expect(listenerState(0, 12810, serving)).toEqual(serving);
    expect(listenerState(7, 12810, serving)).toEqual({ state: 'free' });
    expect(listenerState(0, 12810, { state: 'free' })).toEqual({ state: 'not-downstairs', detail: 'takes connections, but nothing answers GET /region-info on port 12810' });
    expect(listenerState(124, 12810, { state: 'free' })).toMatchObject({ state: 'not-downstairs' });
  });
});

// The image's logical sector size (seedRegions' default block size), from where its GPT header sits.
// Outputs captured from imageGptSignatures on a 4 MiB file labelled by sfdisk, on the same file
// behind `losetup --sector-size 4096`, and on an ext4 image without a partition table.
describe("the image's sector size from its GPT", () => {
  test('a GPT at byte 512: 512-byte sectors; at 4096: 4096-byte; none: null', () => {
    expect(parseImageSectorSize('512 4546492050415254\n4096 0000000000000000\n')).toBe(512);
    expect(parseImageSectorSize('512 0000000000000000\n4096 4546492050415254\n')).toBe(4096);
    expect(parseImageSectorSize('512 0000000000000000\n4096 0000000000000000\n')).toBeNull();
    // An image shorter than 4 KiB: dd prints nothing for the second offset.
    expect(parseImageSectorSize('512 0000000000000000\n4096 \n')).toBeNull();
  });
});
