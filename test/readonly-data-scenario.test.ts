import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { execInHost, labCheck, labDown, labUp, spawnInHost } from '../lab/lab';
import { scenarioContext } from '../lab/scenario-context';
import { listLoopDevices } from '../lab/loop-devices';
import { hostDir } from '../lab/paths';
import { scenarios } from '../lab/scenarios';
import {
  checkReadonlyData,
  HOST,
  LV_NAME,
  MOUNT_POINT,
  OBJECT_SERVICE_PORT,
  readBuildRecord,
  readonlyDataPaths,
  readonlyDataScenario,
  readonlyDataSizes,
  VG_NAME,
  type BuildRecord,
} from '../lab/scenarios/readonly-data';

// The readonly-data scenario against a real lab host: after lab up the host must be broken exactly
// as seed 002 describes (read-only /data, the three PV faults, a /media too full for a fourth disk
// because the object service holds a deleted file), the scenario's check must fail on it, and lab
// down must leave no loop device, mount or folder behind. Runs in its own RUNBOOK_LAB_DIR.

const sizes = readonlyDataSizes({ fullSize: false });
const MiB = 1024 * 1024;
let labRoot: string;
let previousLabDir: string | undefined;
let registeredHere = false;
let record: BuildRecord;
let buildMs = 0;
const lines: string[] = [];
const log = (l: string) => lines.push(l);

async function host(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return execInHost(HOST.name, script);
}

const reportSchema = z.object({ report: z.array(z.record(z.string(), z.array(z.record(z.string(), z.string())))) });
async function report(cmd: string, key: string): Promise<Array<Record<string, string>>> {
  const r = await host(cmd);
  expect(r.code).toBe(0);
  return reportSchema.parse(JSON.parse(r.stdout)).report[0][key];
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the readonly-data scenario test needs root (namespaces, loop devices)');
  previousLabDir = process.env.RUNBOOK_LAB_DIR;
  labRoot = mkdtempSync(path.join(os.tmpdir(), 'readonly-data-test-'));
  process.env.RUNBOOK_LAB_DIR = labRoot;
  // Until the scenario is in lab/scenarios/index.ts, the test registers it itself.
  if (!scenarios[readonlyDataScenario.name]) {
    scenarios[readonlyDataScenario.name] = readonlyDataScenario;
    registeredHere = true;
  }
  const t0 = Date.now();
  await labUp({ scenarios: [readonlyDataScenario.name], log });
  buildMs = Date.now() - t0;
  const r = readBuildRecord(hostDir(HOST.name));
  if (!r) throw new Error('the build left no record');
  record = r;
}, 300_000);

afterAll(async () => {
  try {
    await labDown({ log });
  } finally {
    process.stderr.write(`readonly-data lab up took ${buildMs} ms (build ${record?.buildMs} ms: ${JSON.stringify(record?.phasesMs)})\n${lines.join('\n')}\n`);
    if (registeredHere) delete scenarios[readonlyDataScenario.name];
    if (previousLabDir === undefined) delete process.env.RUNBOOK_LAB_DIR;
    else process.env.RUNBOOK_LAB_DIR = previousLabDir;
    rmSync(labRoot, { recursive: true, force: true });
  }
}, 120_000);

describe('readonly-data: the host is broken as seed 002 describes', () => {
  test('/data is the LV, mounted read-only (/proc/mounts says ro), and fsck-clean', async () => {
    const mounts = (await host('cat /proc/mounts')).stdout.split('\n');
    const data = mounts.find((l) => l.split(' ')[1] === MOUNT_POINT);
    expect(data).toBeDefined();
    const [source, , fstype, options] = (data ?? '').split(' ');
    expect(source).toBe(`/dev/mapper/${VG_NAME}-${LV_NAME}`);
    expect(fstype).toBe(record.fsType);
    expect(options.split(',')[0]).toBe('ro');
    const write = await host(`touch ${MOUNT_POINT}/probe`);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain('Read-only file system');
    // The LV itself is writable (-wi-ao----): the fault is only the mount.
    const lvs = await report(`lvs --reportformat json -o lv_name,lv_attr,lv_size --units b --nosuffix ${VG_NAME}/${LV_NAME}`, 'lv');
    expect(lvs[0]).toEqual({ lv_name: LV_NAME, lv_attr: '-wi-ao----', lv_size: String(sizes.brokenLvExtents * sizes.extentBytes) });
    // A read-only check of the filesystem finds nothing wrong (the seed's fsck was clean).
    const fsck = record.fsType === 'xfs' ? await host(`xfs_repair -n -f /dev/mapper/${VG_NAME}-${LV_NAME}`) : await host(`e2fsck -fn /dev/mapper/${VG_NAME}-${LV_NAME}`);
    expect(fsck.code).toBe(0);
  });

  test('vg0: disk0 not allocatable (u--), disk1 with a data offset of ~1 GiB/scale, disk2 a PV smaller than its device', async () => {
    const pvs = await report('pvs --reportformat json -o pv_name,vg_name,pv_attr,pe_start,pv_size,dev_size,pv_pe_count,pv_pe_alloc_count --units b --nosuffix', 'pv');
    const byName = new Map(pvs.map((p) => [p.pv_name, p]));
    const [d0, d1, d2] = record.disks.map((d) => byName.get(d.device));
    for (const pv of [d0, d1, d2]) {
      expect(pv?.vg_name).toBe(VG_NAME);
      expect(pv?.dev_size).toBe(String(sizes.diskBytes));
    }
    expect(pvs.filter((p) => p.vg_name === VG_NAME)).toHaveLength(3);
    expect(d0).toMatchObject({ pv_attr: 'u--', pe_start: String(MiB), pv_pe_count: String(sizes.diskExtents), pv_pe_alloc_count: String(sizes.diskExtents) });
    expect(d1).toMatchObject({ pv_attr: 'a--', pe_start: String(sizes.offsetPvPeStartBytes), pv_pe_count: String(sizes.offsetPvExtents), pv_pe_alloc_count: String(sizes.offsetPvUsedExtents) });
    expect(d2).toMatchObject({ pv_attr: 'a--', pv_size: String(sizes.shortPvExtents * sizes.extentBytes), pv_pe_alloc_count: String(sizes.shortPvExtents) });
    // Only the first extents of disk1 are used, by data0's last LEs (704-716 in the seed).
    const disp = await host(`pvdisplay -m ${record.disks[1].device}`);
    const last = sizes.brokenLvExtents - 1;
    expect(disp.stdout).toContain(
      `  Physical extent 0 to ${sizes.offsetPvUsedExtents - 1}:\n    Logical volume\t/dev/${VG_NAME}/${LV_NAME}\n    Logical extents\t${last - sizes.offsetPvUsedExtents + 1} to ${last}\n`,
    );
    expect(disp.stdout).toMatch(/PV Size {15}225\.00 MiB \/ not usable 129\.00 MiB/);
    // blkid sees the PVs as LVM2 members, as on a real host.
    expect((await host(`blkid -o value -s TYPE ${record.disks[0].device}`)).stdout.trim()).toBe('LVM2_member');
  });

  test('the object service answers on port 8000 and serves the checksummed objects', async () => {
    const manifest = readFileSync(readonlyDataPaths(hostDir(HOST.name)).objectsManifest, 'utf8')
      .trim()
      .split('\n');
    expect(manifest).toHaveLength(sizes.objectCount);
    const [sha, name] = manifest[7].split('  ');
    const res = await fetch(`http://${HOST.address}:${OBJECT_SERVICE_PORT}/${name}`);
    expect(res.status).toBe(200);
    expect(
      createHash('sha256')
        .update(Buffer.from(await res.arrayBuffer()))
        .digest('hex'),
    ).toBe(sha);
  });

  test('lsof +L1 shows the service holding a deleted temp file on /media, and a new disk image does not fit', async () => {
    const lsof = await host('lsof +L1 -F pcfskn');
    expect(lsof.code).toBe(0);
    const fields = lsof.stdout.split('\n');
    const name = fields.find((f) => f.startsWith('n/media/'));
    expect(name).toBe('n/media/.tempfile (deleted)');
    const pid = Number(fields.find((f) => f.startsWith('p'))?.slice(1));
    expect(fields).toContain('f3');
    expect(fields).toContain(`s${record.tempFileBytes}`);
    expect((await host(`tr '\\0' ' ' < /proc/${pid}/cmdline`)).stdout).toContain('/usr/local/sbin/server');
    const free = Number((await host("stat -f -c '%a*%S' /media | bc")).stdout.trim());
    expect(free).toBeLessThan(sizes.diskBytes);
    const fa = await host(`fallocate -l ${sizes.diskBytes} /media/disk3.img; echo "exit=$?"; rm -f /media/disk3.img`);
    expect(fa.stdout.trim()).toBe('exit=1');
    expect(fa.stderr).toContain('No space left on device');
  });

  test("the scenario check fails on the broken host, for the incident's reasons", async () => {
    const report = await labCheck(readonlyDataScenario.name, { log });
    const checks = report.hosts[HOST.name].checks;
    const ok = Object.fromEntries(checks.map((c) => [c.name, c.ok]));
    expect(report.ok).toBe(false);
    expect(ok).toEqual({
      '/data is mounted read-write and a write succeeds': false,
      'vg0 has 4 PVs': false,
      'every PV of vg0 spans a whole 225 MiB disk': false,
      'vg0/data0 is at least 512M': false,
      'the filesystem on /data fills vg0/data0': true,
      'every object in /data/objects matches its checksum': true,
      'the object service answers http://127.0.0.21:8000/': true,
      'fill test: a writer at disk speed fills /data, which grows to 768 MiB with no failed write': false,
    });
    expect(checks.find((c) => c.name === 'every PV of vg0 spans a whole 225 MiB disk')?.detail).toContain(`${record.disks[1].device} uses 96 MiB of its 225 MiB (data offset 128 MiB)`);
  });

  test('a SIGTERM to the service: it exits politely, its supervisor restarts it, the space comes back and the new one leaks nothing', async () => {
    const pid = (await host('cat /run/object-service/server.pid')).stdout.trim();
    expect((await host(`kill -TERM ${pid}`)).code).toBe(0);
    const deadline = Date.now() + 5000;
    let newPid = pid;
    while (Date.now() < deadline && (newPid === pid || newPid === '')) {
      await new Promise((r) => setTimeout(r, 50));
      newPid = (await host('cat /run/object-service/server.pid 2>/dev/null')).stdout.trim();
    }
    expect(newPid).not.toBe(pid);
    const log = readFileSync(readonlyDataPaths(hostDir(HOST.name)).serviceLog, 'utf8');
    expect(log).toMatch(new RegExp(`object service \\(pid ${pid}\\) exited with status 0; restarting`));
    let answered = false;
    while (!answered && Date.now() < deadline + 5000) {
      answered = await fetch(`http://${HOST.address}:${OBJECT_SERVICE_PORT}/`).then(
        (r) => r.ok,
        () => false,
      );
    }
    expect(answered).toBe(true);
    expect((await host('lsof +L1 -F n')).stdout).not.toContain('/media/');
    const fa = await host(`fallocate -l ${sizes.diskBytes} /media/disk3.img && echo ok; rm -f /media/disk3.img`);
    expect(fa.stdout.trim()).toBe('ok');
  });
});

describe('readonly-data: the check can pass', () => {
  test("after the operators' own fix (seed 002, scaled) and a crude auto-grow loop, every check passes, the fill test included", async () => {
    const [d0, d1, d2] = record.disks.map((d) => d.device);
    const fix = await host(`set -e
pvchange --allocatable y ${d0}
mount -o rw,remount ${MOUNT_POINT}
pvresize ${d1}; pvresize ${d2}
pvmove --alloc anywhere ${d1}:0-${sizes.offsetPvUsedExtents - 1}
vgreduce -A y ${VG_NAME} ${d1}; pvcreate ${d1}; vgextend ${VG_NAME} ${d1}
fallocate -l ${sizes.diskBytes} /media/disk3.img
d3=$(losetup --find --show /media/disk3.img); pvcreate "$d3"; vgextend ${VG_NAME} "$d3"
lvextend -L ${sizes.targetSize} -A y --resizefs /dev/mapper/${VG_NAME}-${LV_NAME}`);
    expect(fix.stderr).toBe('');
    expect(fix.code).toBe(0);
    // The seed's autoresize.sh, with a pause and a lower threshold so it keeps up at this scale.
    await spawnInHost(
      HOST.name,
      `while :; do u=$(df --output=pcent ${MOUNT_POINT} | tail -1 | tr -dc 0-9); [ "$u" -ge 80 ] && lvextend -L +${sizes.growStep} -A y --resizefs /dev/mapper/${VG_NAME}-${LV_NAME} >/dev/null; sleep 0.1; done`,
    );
    const result = await checkReadonlyData(scenarioContext(HOST.name, log), { fullSize: false, fillTest: { rateMBps: 40 } });
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.ok).toBe(true);
  }, 300_000);
});

describe('readonly-data: lab down leaves nothing behind', () => {
  test('no loop device, mount or created folder survives lab down', async () => {
    const hostFolder = hostDir(HOST.name);
    await labDown({ log });
    const leftovers = listLoopDevices().filter((d) => d.backingFile.startsWith(labRoot) || record.disks.some((k) => d.device === k.device && /disk\d\.img$/.test(d.backingFile)));
    expect(leftovers).toEqual([]);
    for (const p of record.createdGlobalPaths) expect(existsSync(p)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(hostFolder);
    // Nothing listens on the service's port any more.
    expect(() => execFileSync('curl', ['-s', '--max-time', '1', `http://${HOST.address}:${OBJECT_SERVICE_PORT}/`])).toThrow();
  });
});
