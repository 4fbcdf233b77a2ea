import { parseFilesystemOf } from '../activities/crucible/parse';

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
