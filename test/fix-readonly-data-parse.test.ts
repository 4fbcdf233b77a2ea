import { storageCommands } from '../activities/lvm/commands';
import { parseImageListing, parseLoopBackings, parseLvs, parsePvmoveProgress, parsePvs, parseVgs, PvmoveProgressReader } from '../activities/lvm/parse';
import type { VolumeSample } from '../activities/lvm/extend';
import { isUnder, parseLsofDeleted } from '../activities/objectService/lsof';
import { bytesBeforeGrown, decideExtension } from '../activities/lvm/guard-policy';

// The pure parts of fixReadonlyData and autoGrowGuard: parsers fed the formats of
// shared/reference/domain-apis.md (D1 LVM JSON, D3 pvmove progress, D6 lsof -F), the quoting of
// the commands, and the guard's extension policy. The lab tests run the same code on real output.

const MiB = 1024 * 1024;

test("D1: pvs/vgs/lvs --reportformat json --units b --nosuffix, with LVM's two-space prefix", () => {
  const pvs = `  {
      "report": [
          {
              "pv": [
                  {"pv_name":"/dev/sdb", "vg_name":"vg0", "pv_attr":"u--", "pe_start":"1048576", "pv_size":"21470642176", "dev_size":"21474836480", "pv_pe_count":"5119", "pv_pe_alloc_count":"2560"},
                  {"pv_name":"/dev/sdc", "vg_name":"", "pv_attr":"---", "pe_start":"1048576", "pv_size":"10737418240", "dev_size":"10737418240", "pv_pe_count":"0", "pv_pe_alloc_count":"0"}
              ]
          }
      ]
  }
`;
  expect(parsePvs(pvs)).toEqual([
    { device: '/dev/sdb', vg: 'vg0', attr: 'u--', allocatable: false, peStartBytes: MiB, pvSizeBytes: 21470642176, devSizeBytes: 21474836480, peCount: 5119, peAllocCount: 2560 },
    { device: '/dev/sdc', vg: '', attr: '---', allocatable: false, peStartBytes: MiB, pvSizeBytes: 10737418240, devSizeBytes: 10737418240, peCount: 0, peAllocCount: 0 },
  ]);
  const vgs = '{"report":[{"vg":[{"vg_name":"vg0","vg_extent_size":"4194304","vg_extent_count":"224","vg_free_count":"16","pv_count":"4","vg_seqno":"31"}]}]}';
  expect(parseVgs(vgs)).toEqual([{ name: 'vg0', extentBytes: 4 * MiB, extentCount: 224, freeExtents: 16, pvCount: 4, seqno: 31 }]);
  const lvs = '{"report":[{"lv":[{"lv_name":"data0","vg_name":"vg0","lv_size":"536870912","lv_attr":"-wi-ao----","lv_dm_path":"/dev/mapper/vg0-data0","move_pv":""}]}]}';
  expect(parseLvs(lvs)[0]).toMatchObject({ name: 'data0', sizeBytes: 512 * MiB, movePv: '' });
  // A size with a unit means the command line lost --units b --nosuffix: refuse rather than misread.
  expect(() => parseVgs(vgs.replace('"4194304"', '"4.00m"'))).toThrow(/vg_extent_size is "4.00m", not a whole number/);
  expect(() => parsePvs('not json')).toThrow(/not JSON/);
});

test('D3: pvmove progress lines, whole or split across chunks', () => {
  expect(parsePvmoveProgress('  /dev/sdb: Moved: 42.19%')).toEqual({ pv: '/dev/sdb', percent: 42.19 });
  expect(parsePvmoveProgress('  /dev/loop2: Moved: 100.00%')).toEqual({ pv: '/dev/loop2', percent: 100 });
  expect(parsePvmoveProgress('  Detected pvmove in progress for /dev/loop2')).toBeNull();
  const seen: number[] = [];
  const reader = new PvmoveProgressReader((p) => seen.push(p.percent));
  for (const chunk of ['  /dev/loop2: Mo', 'ved: 50.00%\n  /dev/loop2: Moved: 7', '5.00%\n', '  /dev/loop2: Moved: 100.00%\n']) reader.feed(Buffer.from(chunk));
  expect(seen).toEqual([50, 75, 100]);
  expect(reader.last).toEqual({ pv: '/dev/loop2', percent: 100 });
});

test('D6: lsof +L1 -F pcRfskn, deleted files per process and the filesystem they are on', () => {
  const out = [
    'p1383',
    'cmemfd:sealed-91',
    'R1',
    'ftxt',
    's1531760',
    'k0',
    'n/memfd:sealed-91173221a7ea (deleted)',
    'p50',
    'cpython3',
    'R48',
    'f3',
    's212721664',
    'k0',
    'n/media/.tempfile (deleted)',
    'f7',
    's10',
    'k0',
    'n/media/other (deleted)',
    '',
  ].join('\n');
  const files = parseLsofDeleted(out);
  expect(files).toEqual([
    { pid: 1383, ppid: 1, command: 'memfd:sealed-91', fd: 'txt', sizeBytes: 1531760, path: '/memfd:sealed-91173221a7ea' },
    { pid: 50, ppid: 48, command: 'python3', fd: '3', sizeBytes: 212721664, path: '/media/.tempfile' },
    { pid: 50, ppid: 48, command: 'python3', fd: '7', sizeBytes: 10, path: '/media/other' },
  ]);
  expect(files.filter((f) => isUnder(f.path, '/media')).map((f) => f.fd)).toEqual(['3', '7']);
  expect(isUnder('/mediafoo/x', '/media')).toBe(false);
  expect(parseLsofDeleted('')).toEqual([]);
});

test('every argument is one quoted word; sizes are absolute', () => {
  expect(storageCommands.makeAllocatable('/dev/loop1').text).toBe('pvchange --allocatable y /dev/loop1');
  expect(storageCommands.vgextend('vg0', "/dev/x; rm -rf /'").text).toBe(`vgextend vg0 '/dev/x; rm -rf /'\\'''`);
  expect(storageCommands.extendTo('vg0', 'data0', 4096).text).toBe('lvextend -L 4096m --resizefs vg0/data0');
  expect(storageCommands.fallocate('/media/disk 3.img', 1887436800).text).toBe("fallocate -l 1887436800 '/media/disk 3.img'");
});

function sample(usedMiB: number, sizeMiB: number, lvMiB: number, vgFree: number): VolumeSample {
  const used = usedMiB * MiB;
  const avail = (sizeMiB - usedMiB) * MiB;
  return {
    at: '2026-01-01T00:00:00.000Z',
    usage: { target: '/data', sizeBytes: sizeMiB * MiB, usedBytes: used, availBytes: avail, usePercent: Math.ceil((used * 100) / (used + avail)) },
    lvBytes: lvMiB * MiB,
    extentBytes: 4 * MiB,
    vgFreeExtents: vgFree,
    fstype: 'xfs',
  };
}

test('the guard extends to an absolute target, more than one step only when one would not do, never past the ceiling or the VG', () => {
  const policy = { thresholdPercent: 80, stepBytes: 63 * MiB, ceilingBytes: null };
  expect(decideExtension(sample(300, 448, 512, 96), policy)).toEqual({ action: 'none' });
  // 80% of 448: one step of 63 MiB (64 with extents) brings it under.
  expect(decideExtension(sample(359, 448, 512, 96), policy)).toMatchObject({ action: 'extend', targetBytes: 576 * MiB, steps: 1, limitedBy: null });
  // 99%: one step would leave it over the threshold, so as many as it takes.
  const fast = decideExtension(sample(444, 448, 512, 96), policy);
  expect(fast).toMatchObject({ action: 'extend', steps: 2, targetBytes: 640 * MiB });
  // The VG has 10 extents left: as far as they go, and it says so.
  expect(decideExtension(sample(444, 448, 512, 10), policy)).toMatchObject({ action: 'extend', targetBytes: 552 * MiB, limitedBy: 'vg-free' });
  expect(decideExtension(sample(444, 448, 512, 0), policy)).toMatchObject({ action: 'blocked', reason: expect.stringMatching(/VG has 0 free extents/) });
  // The ceiling wins over the VG, and once reached, the same situation has the same key (reported once).
  const ceiled = { ...policy, ceilingBytes: 600 * MiB };
  expect(decideExtension(sample(444, 448, 512, 96), ceiled)).toMatchObject({ action: 'extend', targetBytes: 600 * MiB, limitedBy: 'ceiling' });
  const a = decideExtension(sample(590, 600, 600, 96), ceiled);
  const b = decideExtension(sample(595, 600, 600, 96), ceiled);
  expect(a).toMatchObject({ action: 'blocked', reason: expect.stringMatching(/already at its ceiling of 600 MiB/) });
  expect(a.action === 'blocked' && b.action === 'blocked' && a.key === b.key).toBe(true);
});

test('under a fast writer the guard extends before the threshold, far enough that the room left after the grow outlasts two more grows', () => {
  const policy = { thresholdPercent: 80, stepBytes: 63 * MiB, ceilingBytes: null };
  // 67% used of 448 MiB: 148 MiB free is nothing to an idle volume or a 50 MB/s writer...
  const s = sample(300, 448, 512, 96);
  const fast = { fillBytesPerSecond: 250e6, growSeconds: 0.3, pollSeconds: 0.05 };
  expect(decideExtension(s, policy)).toEqual({ action: 'none' });
  expect(decideExtension(s, policy, { ...fast, fillBytesPerSecond: 50e6 })).toEqual({ action: 'none' });
  // ...but at 250 MB/s it would not outlast two grows (2 x 250 MB/s x (0.3 s + 2 polls) = 200 MB).
  expect(bytesBeforeGrown(fast)).toBe(200e6);
  const d = decideExtension(s, policy, fast);
  expect(d).toEqual({ action: 'extend', targetBytes: 828 * MiB, steps: 5, limitedBy: null, reason: '148 MiB free at 250 MB/s would not outlast growing (300 ms): 512 -> 828 MiB' });
  // What is free once it has grown, less what the writer adds meanwhile, outlasts two more grows.
  const grown = d.action === 'extend' ? d.targetBytes - s.lvBytes : 0;
  expect(s.usage.availBytes + grown - fast.fillBytesPerSecond * fast.growSeconds).toBeGreaterThanOrEqual(2 * bytesBeforeGrown(fast));
  // Still absolute and still within the VG: 20 free extents cap it at 512 + 80 MiB.
  expect(decideExtension(sample(300, 448, 512, 20), policy, fast)).toMatchObject({ action: 'extend', targetBytes: 592 * MiB, limitedBy: 'vg-free' });
});

test("an image is matched to its loop device by device and inode, not by path (loop devices are the kernel's, paths are per mount namespace)", () => {
  // Two lab hosts (or containers) each have a /media/disk0.img; only the backing file's identity differs.
  const loops = parseLoopBackings(`{
   "loopdevices": [
      {"name": "/dev/loop1", "back-file": "/media/disk0.img", "back-ino": 12, "back-maj:min": "       7:0  "},
      {"name": "/dev/loop6", "back-file": "/media/disk0.img", "back-ino": 12, "back-maj:min": "       7:5  "}
   ]
}`);
  // find -printf '%p\t%s\t%D\t%i\n' inside our host: its /media is loop5 (st_dev 7:5 = 1797).
  const [img] = parseImageListing('/media/disk0.img\t235929600\t1797\t12\n');
  expect(img).toEqual({ path: '/media/disk0.img', sizeBytes: 235929600, dev: '7:5', ino: 12 });
  expect(loops.filter((l) => l.dev === img.dev && l.ino === img.ino).map((l) => l.name)).toEqual(['/dev/loop6']);
  // glibc's encoding of large device numbers (major 259, minor 300000) decodes the same way.
  expect(parseImageListing(`/x.img\t1\t${(0n | (300000n & 0xffn) | ((259n & 0xfffn) << 8n) | ((300000n & ~0xffn) << 12n)).toString()}\t5\n`)[0].dev).toBe('259:300000');
});
