import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildLvmEmulator, buildState, checkConsistency, displaySize, MiB, readState, writeFaults, writeState } from '../lab/emulators/lvm';
import { repoRoot } from './helpers/paths';

// Golden tests of the LVM emulator: its output compared byte for byte with the formats in
// shared/reference/domain-apis.md (D1-D4) and with what the operators' session of seed 002 printed,
// on real loop devices, as root, with no mocks.
//
// The seed's outputs name /dev/loop0..3. To compare them byte for byte whatever loop devices this
// machine hands out, every command runs in a private mount namespace where /dev/loop0..3 are
// bind-mounted onto the test's own devices (the emulator reads sizes and numbers from the nodes, so
// it sees the real devices under the seed's names).

const SEED = readFileSync(path.join(repoRoot, '..', 'shared', 'seeds', '002_ab845c2baceaea60.txt'), 'utf8');
const DISK = 1800 * MiB;

let dir: string;
let bin: string;
let statePath: string;
let devRoot: string;
const devices: string[] = [];

interface Run {
  code: number;
  out: string;
  stdout: string;
  stderr: string;
}

/** Run a bash script in a private mount namespace where /dev/loopN (N=0..3) are our devices. */
function sh(script: string, env: Record<string, string> = {}): Run {
  const binds = devices.map((d, i) => `mount --bind ${d} /dev/loop${i}`).join('\n');
  const full = `set -o pipefail\n${binds}\nexport PATH=${bin}:$PATH\n${script}`;
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', full], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? 128 + 9, out: r.stdout + r.stderr, stdout: r.stdout, stderr: r.stderr };
}

/** Both streams as one, in the order written (LVM's messages go to stdout and stderr). */
function both(script: string, env: Record<string, string> = {}): Run {
  const r = sh(`{ ${script} ; } 2>&1`, env);
  return { ...r, out: r.stdout };
}

/** The seed's block of output that follows the line `marker`, up to the next prompt/blank line. */
function seedBlock(marker: string, lines: number): string[] {
  const all = SEED.split('\n');
  const i = all.findIndex((l) => l.includes(marker));
  if (i < 0) throw new Error(`seed has no line with ${marker}`);
  return all.slice(i + 1, i + 1 + lines);
}

const trimLines = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l, i, a) => l !== '' || i < a.length - 1);

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the LVM emulator tests need root (loop devices, mounts)');
  dir = mkdtempSync(path.join(os.tmpdir(), 'lvm-emu-test-'));
  bin = path.join(dir, 'bin');
  statePath = path.join(dir, 'state', 'state.json');
  devRoot = path.join(dir, 'dev');
  await buildLvmEmulator(bin, { statePath });
  for (let i = 0; i < 4; i++) {
    const img = path.join(dir, `disk${i}.img`);
    writeFileSync(img, '');
    spawnSync('truncate', ['-s', String(DISK), img]);
    const r = spawnSync('losetup', ['--find', '--show', img], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`losetup failed: ${r.stderr}`);
    devices.push(r.stdout.trim());
  }
  mkdirSync(path.dirname(statePath), { recursive: true });
});

afterAll(() => {
  // Detach by backing file (never by number: the kernel reuses numbers).
  for (let i = 0; i < 4; i++) {
    const img = path.join(dir, `disk${i}.img`);
    const found = spawnSync('losetup', ['-j', img], { encoding: 'utf8' }).stdout;
    for (const line of found.split('\n').filter(Boolean)) spawnSync('losetup', ['-d', line.split(':')[0]]);
  }
  if (existsSync(statePath)) {
    for (const vg of readState(statePath).vgs) {
      for (const lv of vg.lvs) {
        const found = spawnSync('losetup', ['-j', lv.backingFile], { encoding: 'utf8' }).stdout;
        for (const line of found.split('\n').filter(Boolean)) spawnSync('losetup', ['-d', line.split(':')[0]]);
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('LVM emulator: the seed-002 incident, byte for byte', () => {
  beforeAll(() => {
    // seedState() reads device sizes of /dev/loop0..2, which outside the namespace are not ours;
    // all our disks are 1800 MiB, so pass explicit sizes instead of reading them.
    const state = buildState({
      statePath,
      devRoot,
      hostname: 'e286573cd16186',
      creationTime: new Date('2024-04-18T23:09:34Z'),
      vgs: [
        {
          name: 'vg0',
          pvs: [
            { device: '/dev/loop0', allocatable: false, sizeBytes: DISK },
            { device: '/dev/loop1', peStartBytes: 1023 * MiB, sizeBytes: DISK },
            { device: '/dev/loop2', sizeBytes: 1021 * MiB },
          ],
          lvs: [
            {
              name: 'data0',
              segments: [
                { pv: 0, pe: 0, len: 449 },
                { pv: 2, pe: 0, len: 255 },
                { pv: 1, pe: 0, len: 13 },
              ],
            },
          ],
        },
      ],
    });
    state.vgs[0].seqno = 3;
    writeState(state, statePath);
    const act = sh('vgchange -ay vg0');
    expect(act.code).toBe(0);
    // A real filesystem on the LV (ext4, as in the incident), so lvs shows it open when mounted.
    const mk = spawnSync('mkfs.ext4', ['-q', '-F', path.join(devRoot, 'mapper', 'vg0-data0')], { encoding: 'utf8' });
    expect(mk.status).toBe(0);
  });

  test('pvs prints the seed table (default columns, "<" rounding, right-aligned sizes)', () => {
    const r = sh('pvs');
    expect(r.code).toBe(0);
    expect(trimLines(r.stdout)).toEqual(seedBlock('root@e286573cd16186:/media# pvs', 4));
    // libdm pads every field, the last one too: "0" is followed by the blank of its suffix column.
    expect(r.stdout.split('\n')[3]).toBe('  /dev/loop2 vg0 lvm2 a--  1020.00m      0 ');
  });

  test('lvs prints the seed table, with the o(pen) attribute while /data is mounted', () => {
    const r = sh(`mkdir -p ${dir}/mnt && mount -o ro ${devRoot}/mapper/vg0-data0 ${dir}/mnt && lvs`);
    expect(r.code).toBe(0);
    expect(trimLines(r.stdout)).toEqual(seedBlock('root@2874d33a027178:/data# lvs', 2));
    expect(trimLines(sh('lvs').stdout)[1]).toBe('  data0 vg0 -wi-a----- 2.80g');
  });

  test('pvdisplay -m shows the abnormal data offset of loop1 and its physical segments (D2)', () => {
    const r = sh('pvdisplay -m /dev/loop1');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 10)).toEqual([
      '  --- Physical volume ---',
      '  PV Name               /dev/loop1',
      '  VG Name               vg0',
      '  PV Size               <1.76 GiB / not usable 1.00 GiB',
      '  Allocatable           yes ',
      '  PE Size               4.00 MiB',
      '  Total PE              194',
      '  Free PE               181',
      '  Allocated PE          13',
      expect.stringMatching(/^ {2}PV UUID {15}[A-Za-z0-9]{6}(-[A-Za-z0-9]{4}){5}-[A-Za-z0-9]{6}$/),
    ]);
    expect(lines.slice(10)).toEqual([
      '   ',
      '  --- Physical Segments ---',
      '  Physical extent 0 to 12:',
      '    Logical volume\t/dev/vg0/data0',
      '    Logical extents\t704 to 716',
      '  Physical extent 13 to 193:',
      '    FREE',
      '   ',
      '',
    ]);
  });

  test('JSON reports have the layout of D1 (2-space prefix, 4-space indent, all values strings)', () => {
    const r = sh('pvs --reportformat json -o pv_name,vg_name,pv_size,pv_free,pv_attr,pe_start --units b --nosuffix');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        '  {',
        '      "report": [',
        '          {',
        '              "pv": [',
        '                  {"pv_name":"/dev/loop0", "vg_name":"vg0", "pv_size":"1883242496", "pv_free":"0", "pv_attr":"u--", "pe_start":"1048576"},',
        '                  {"pv_name":"/dev/loop1", "vg_name":"vg0", "pv_size":"813694976", "pv_free":"759169024", "pv_attr":"a--", "pe_start":"1072693248"},',
        '                  {"pv_name":"/dev/loop2", "vg_name":"vg0", "pv_size":"1069547520", "pv_free":"0", "pv_attr":"a--", "pe_start":"1048576"}',
        '              ]',
        '          }',
        '      ]',
        '  }',
        '',
      ].join('\n'),
    );
    // --units b keeps the B suffix; every field of D1 is known; rows parse as JSON.
    const withSuffix = sh('pvs --reportformat json -o pv_size --units b /dev/loop0');
    expect(withSuffix.stdout).toContain('{"pv_size":"1883242496B"}');
    const all = sh(
      'pvs --reportformat json --units b --nosuffix -o pv_name,vg_name,pv_size,pv_free,pv_used,pe_start,pv_attr,pv_pe_count,pv_pe_alloc_count,dev_size,vg_size,vg_free,vg_extent_size,vg_free_count',
    );
    expect(all.code).toBe(0);
    const rows = (JSON.parse(all.stdout) as { report: Array<{ pv: Array<Record<string, string>> }> }).report[0].pv;
    expect(rows[1]).toEqual({
      pv_name: '/dev/loop1',
      vg_name: 'vg0',
      pv_size: '813694976',
      pv_free: '759169024',
      pv_used: '54525952',
      pe_start: '1072693248',
      pv_attr: 'a--',
      pv_pe_count: '194',
      pv_pe_alloc_count: '13',
      dev_size: String(DISK),
      vg_size: String((449 + 194 + 255) * 4 * MiB),
      vg_free: String(181 * 4 * MiB),
      vg_extent_size: String(4 * MiB),
      vg_free_count: '181',
    });
    const lvs = sh('lvs --reportformat json -o lv_name,lv_path,lv_dm_path,lv_size,lv_attr,devices --units m vg0/data0');
    expect(lvs.stdout).toBe(
      [
        '  {',
        '      "report": [',
        '          {',
        '              "lv": [',
        '                  {"lv_name":"data0", "lv_path":"/dev/vg0/data0", "lv_dm_path":"/dev/mapper/vg0-data0", "lv_size":"2868.00m", "lv_attr":"-wi-a-----", "devices":"/dev/loop0(0)"},',
        '                  {"lv_name":"data0", "lv_path":"/dev/vg0/data0", "lv_dm_path":"/dev/mapper/vg0-data0", "lv_size":"2868.00m", "lv_attr":"-wi-a-----", "devices":"/dev/loop2(0)"},',
        '                  {"lv_name":"data0", "lv_path":"/dev/vg0/data0", "lv_dm_path":"/dev/mapper/vg0-data0", "lv_size":"2868.00m", "lv_attr":"-wi-a-----", "devices":"/dev/loop1(0)"}',
        '              ]',
        '          }',
        '      ]',
        '  }',
        '',
      ].join('\n'),
    );
    const vgs = sh('vgs --noheadings --nosuffix --units g -o vg_name,vg_size,vg_free,vg_extent_size,vg_free_count vg0');
    // Every column is at least as wide as its heading (columns.h width 0 = the heading's), headings or not.
    expect(vgs.stdout).toBe('  vg0  3.51  0.71 0.00  181\n');
  });

  test('pvresize -v prints what the seed printed, and grows loop2 to its device', () => {
    const one = both('pvresize --verbose /dev/loop1 --setphysicalvolumesize 1800M');
    expect(one.code).toBe(0);
    expect(trimLines(one.out)).toEqual(seedBlock('root@e286573cd16186:/# pvresize --verbose /dev/loop1', 8));
    const two = both('pvresize --verbose /dev/loop2 --setphysicalvolumesize 1800M');
    expect(two.code).toBe(0);
    expect(trimLines(two.out)).toEqual(seedBlock('root@e286573cd16186:/# pvresize --verbose /dev/loop2', 8));
  });

  test("vgreduce refuses a PV in use, with LVM's message and exit 5", () => {
    const r = sh('vgreduce -A y vg0 /dev/loop1');
    expect(r.code).toBe(5);
    expect(r.stderr).toBe('  Physical volume "/dev/loop1" still in use\n');
  });

  test('pvcreate refuses a PV that belongs to a VG', () => {
    const r = sh('pvcreate /dev/loop1');
    expect(r.code).toBe(5);
    expect(r.stderr).toBe('  Can\'t initialize physical volume "/dev/loop1" of volume group "vg0" without -ff\n  /dev/loop1: physical volume not initialized.\n');
  });

  test('pvmove --alloc anywhere moves LE 704-716 off loop1 with progress lines (D3), then pvs matches the seed', () => {
    const r = sh('pvmove --alloc anywhere /dev/loop1:0-12');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    for (const l of lines) expect(l).toMatch(/^ {2}\/dev\/loop1: Moved: \d{1,3}\.\d{2}%$/);
    expect(lines[lines.length - 1]).toBe('  /dev/loop1: Moved: 100.00%');
    expect(trimLines(sh('pvs').stdout)).toEqual(seedBlock('# verifying that everything is moved off', 5).slice(1));
    expect(checkConsistency(readState(statePath))).toEqual([]);
  });

  test("vgreduce, pvcreate, vgextend, lvextend -L 4G: the seed's messages and its final pvs and lvs", () => {
    const reduce = sh('vgreduce -A y vg0 /dev/loop1');
    expect(reduce.code).toBe(0);
    expect(reduce.stdout).toBe('  Removed "/dev/loop1" from volume group "vg0"\n');
    const create = sh('pvcreate /dev/loop1');
    expect(create.code).toBe(0);
    expect(create.stdout).toBe(`${seedBlock('root@e286573cd16186:~# pvcreate /dev/loop1', 1)[0]}\n`);
    // blkid sees the label pvcreate wrote, as on a real host.
    expect(sh('blkid -p -o value -s TYPE /dev/loop1').stdout.trim()).toBe('LVM2_member');
    const extend = sh('vgextend vg0 /dev/loop1');
    expect(extend.code).toBe(0);
    expect(extend.stdout).toBe(`${seedBlock('root@e286573cd16186:~# vgextend vg0 /dev/loop1', 1)[0]}\n`);
    const lv = sh('lvextend -L 4G /dev/mapper/vg0-data0 -A y');
    expect(lv.code).toBe(0);
    // D4's wording (the seed's lvm2 2.03.07 printed one extent too many here, a bug not reproduced).
    expect(lv.stdout).toBe('  Size of logical volume vg0/data0 changed from 2.80 GiB (717 extents) to 4.00 GiB (1024 extents).\n  Logical volume vg0/data0 successfully resized.\n');
    // 1024 extents leave 323 free on loop1: 1.26171875 GiB rounds down, so no "<".
    expect(trimLines(sh('pvs').stdout)).toEqual([
      '  PV         VG  Fmt  Attr PSize PFree',
      '  /dev/loop0 vg0 lvm2 u--  1.75g    0',
      '  /dev/loop1 vg0 lvm2 a--  1.75g 1.26g',
      '  /dev/loop2 vg0 lvm2 a--  1.75g    0',
    ]);
    // The seed's lvm2 allocated 1025 extents (its own message says so): one more, and pvs is the
    // seed's to the byte, "<1.26g" included (322 extents = 1.2578 GiB, shown rounded up).
    expect(sh('lvextend -l +1 vg0/data0').code).toBe(0);
    expect(trimLines(sh('pvs').stdout)).toEqual(seedBlock("# pv's correctly allocated & lv is right size", 5).slice(1));
    const lvs = sh(`mount -o ro ${devRoot}/mapper/vg0-data0 ${dir}/mnt && lvs`);
    expect(trimLines(lvs.stdout)).toEqual(seedBlock("# pv's correctly allocated & lv is right size", 8).slice(6, 8));
  });

  test('lvextend: same size fails without --resizefs (exit 5) and succeeds with it (D4); too big says how many extents are missing', () => {
    const same = sh('lvextend -l 1025 vg0/data0');
    expect(same.code).toBe(5);
    expect(same.stderr).toBe('  New size (1025 extents) matches existing size (1025 extents).\n');
    const smaller = sh('lvextend -L 4G vg0/data0');
    expect(smaller.code).toBe(3);
    expect(smaller.stderr).toBe('  New size given (1024 extents) not larger than existing size (1025 extents)\n');
    const big = sh('lvextend -L +2G vg0/data0');
    expect(big.code).toBe(5);
    expect(big.stderr).toBe('  Insufficient free space: 512 extents needed, but only 322 available\n');
    const bad = sh('lvextend -L 4Q vg0/data0');
    expect(bad.code).toBe(3);
    const unknown = sh('lvextend --frobnicate vg0/data0');
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain("unrecognized option '--frobnicate'");
    const missing = sh('lvextend -L 5G vg0/nope');
    expect(missing.code).toBe(5);
    expect(missing.stderr).toBe('  Failed to find logical volume "vg0/nope"\n');
  });

  test('lvextend --resizefs grows the real ext4 (offline here: e2fsck, then resize2fs), same size with -r exits 0', () => {
    const r = both('lvextend -r -L +500M vg0/data0');
    expect(r.code).toBe(0);
    expect(r.out).toContain('  Size of logical volume vg0/data0 changed from 4.00 GiB (1025 extents) to 4.49 GiB (1150 extents).\n');
    expect(r.out).toContain(`  Extending file system ext4 to 4.49 GiB (${1150 * 4 * MiB} bytes) on vg0/data0...\n`);
    expect(r.out).toMatch(/The filesystem on .* is now 1177600 \(4k\) blocks long/);
    expect(r.out).toContain('  Extended file system ext4 on vg0/data0.\n');
    expect(r.out.endsWith('  Logical volume vg0/data0 successfully resized.\n')).toBe(true);
    const again = both('lvextend -r -l 1150 vg0/data0');
    expect(again.code).toBe(0);
    expect(again.out).toContain('  New size (1150 extents) matches existing size (1150 extents).\n');
  });

  test('pvresize refuses to shrink a PV below its allocated extents', () => {
    const r = sh('pvresize --setphysicalvolumesize 100M /dev/loop0');
    expect(r.code).toBe(5);
    expect(r.stderr).toBe('  /dev/loop0: cannot resize to 24 extents as 449 are allocated.\n');
    expect(r.stdout).toBe('  0 physical volume(s) resized or updated / 1 physical volume(s) not resized\n');
  });

  test('pvchange -x y makes loop0 allocatable, and says so when it already is', () => {
    const r = sh('pvchange --allocatable y /dev/loop0');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      seedBlock('root@e286573cd16186:/home# pvchange --allocatable y /dev/loop0', 2)
        .map((l) => `${l}\n`)
        .join(''),
    );
    const again = sh('pvchange -x y /dev/loop0');
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('  Physical volume "/dev/loop0" is already allocatable.\n');
    expect(sh('pvs --noheadings -o pv_attr /dev/loop0').stdout).toBe('  a-- \n');
  });
});

describe('LVM emulator: pvmove interrupted half-way', () => {
  const sizeOf = () => readState(statePath).vgs[0].lvs[0].segments.reduce((n, s) => n + s.len, 0);

  test('a pvmove killed after 5 extents leaves the VG consistent, every LE mapped once; pvmove resumes it', () => {
    const before = sizeOf();
    // loop3 joins the VG; move all 449 extents of loop0 there, killing the command after 5.
    expect(sh('vgextend vg0 /dev/loop3').code).toBe(0);
    const killed = sh('pvmove -i 0 /dev/loop0 /dev/loop3', { LVM_EMU_FAIL_PVMOVE_AFTER: '5' });
    expect(killed.code).toBe(137);
    const state = readState(statePath);
    expect(checkConsistency(state)).toEqual([]);
    expect(sizeOf()).toBe(before);
    expect(state.pvmove).toMatchObject({ sourceName: '/dev/loop0', total: 449, moved: 5 });
    const alloc = sh('pvs --noheadings -o pv_name,pv_pe_alloc_count /dev/loop0 /dev/loop3').stdout;
    expect(alloc).toBe('  /dev/loop0   444\n  /dev/loop3     5\n');
    // vgreduce must not take a PV a pvmove still reads from.
    expect(sh('vgreduce vg0 /dev/loop0').stderr).toBe('  Physical volume "/dev/loop0" still in use\n');
    const resumed = sh('pvmove -i 3600', { LVM_EMU_PVMOVE_MS_PER_EXTENT: '0' });
    expect(resumed.code).toBe(0);
    expect(resumed.stdout.split('\n').filter(Boolean).pop()).toBe('  /dev/loop0: Moved: 100.00%');
    expect(readState(statePath).pvmove).toBeNull();
    expect(sh('pvs --noheadings -o pv_name,pv_pe_alloc_count /dev/loop0 /dev/loop3').stdout).toBe('  /dev/loop0     0\n  /dev/loop3   449\n');
    expect(checkConsistency(readState(statePath))).toEqual([]);
  });

  test('a fault armed in faults.json (what a runbook test uses over ssh) fails once with exit 5, then is gone', () => {
    writeFaults({ pvmove: { failAfterExtents: 2, mode: 'error', times: 1 } }, statePath);
    const failed = sh('pvmove -i 0 /dev/loop3 /dev/loop0');
    expect(failed.code).toBe(5);
    expect(failed.stderr).toBe('  ABORTING: Mirror percentage check failed.\n');
    expect(readState(statePath).pvmove?.moved).toBe(2);
    expect(existsSync(path.join(path.dirname(statePath), 'faults.json'))).toBe(false);
    expect(sh('pvmove --abort').code).toBe(0);
    expect(readState(statePath).pvmove).toBeNull();
    expect(checkConsistency(readState(statePath))).toEqual([]);
  });

  test('concurrent lvextends serialise on the state lock: none is lost', () => {
    const before = sizeOf();
    const r = sh('for i in 1 2 3 4 5 6; do lvextend -L +4M vg0/data0 >/dev/null & done; wait; lvm fsck-metadata');
    expect(r.code).toBe(0);
    expect(sizeOf()).toBe(before + 6);
  });

  test('lvextend --resizefs on a mounted ext4 runs resize2fs online; without CAP_SYS_RESOURCE the kernel refuses and lvextend fails (exit 5)', () => {
    const dev = `${devRoot}/mapper/vg0-data0`;
    expect(spawnSync('mkfs.ext4', ['-q', '-F', dev]).status).toBe(0);
    const r = both(`mount ${dev} ${dir}/mnt && lvextend -r -L +8M vg0/data0`);
    const capEff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);
    if ((capEff >> 24n) & 1n) {
      expect(r.code).toBe(0);
      expect(r.out).toContain('on-line resizing required');
    } else {
      // ext4 grows online only with CAP_SYS_RESOURCE (fs/ext4/resize.c); the metadata change stays.
      expect(r.code).toBe(5);
      expect(r.out).toContain('resize2fs: Permission denied to resize filesystem');
      expect(r.out).toContain('  Failed to extend file system ext4 on vg0/data0.\n');
    }
  });

  test('lvextend --resizefs grows a mounted xfs online with xfs_growfs', () => {
    const dev = `${devRoot}/mapper/vg0-data0`;
    const mk = spawnSync('mkfs.xfs', ['-q', '-f', dev], { encoding: 'utf8' });
    if (mk.error) throw new Error('mkfs.xfs is missing: install xfsprogs (the readonly-data lab host grows /data online with xfs_growfs)');
    expect(mk.status).toBe(0);
    const before = readState(statePath).vgs[0].lvs[0].segments.reduce((n, seg) => n + seg.len, 0);
    const r = both(`mount ${dev} ${dir}/mnt && lvextend -r -L +100M vg0/data0 && stat -f -c '%b %S' ${dir}/mnt`);
    expect(r.code).toBe(0);
    const bytes = (before + 25) * 4 * MiB;
    expect(r.out).toContain(`  Extending file system xfs to ${displaySize(bytes)} (${bytes} bytes) on vg0/data0...\n`);
    expect(r.out).toContain('  Extended file system xfs on vg0/data0.\n');
    const [blocks, blockSize] = r.out.trim().split('\n').pop()?.split(' ').map(Number) ?? [0, 0];
    // The mounted filesystem now spans the grown LV (xfs keeps a little for its log).
    expect(blocks * blockSize).toBeGreaterThan(bytes * 0.97);
  });
});
