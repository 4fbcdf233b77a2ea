import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

// The real block devices under the emulated LVM: PVs are whatever devices the operator names (loop
// devices over image files in the lab), and every active LV is a loop device over a backing file,
// exposed as /dev/mapper/<vg>-<lv> (a block node) and /dev/<vg>/<lv> (a symlink to it) like LVM's.

export class DeviceError extends Error {}

function run(cmd: string, args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (r.error) throw new DeviceError(`cannot run ${cmd}: ${r.error.message}`);
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

function runOrThrow(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.code !== 0) throw new DeviceError(`${cmd} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** True when path names a block device. */
export function isBlockDevice(p: string): boolean {
  try {
    return statSync(p).isBlockDevice();
  } catch {
    return false;
  }
}

/**
 * The device's size in bytes, from the kernel. sysfs holds the same number `blockdev --getsize64`
 * asks for with BLKGETSIZE64, without a process per device (every report reads every PV's size);
 * blockdev is the fallback when sysfs has no entry.
 */
export function deviceSizeBytes(device: string): number {
  const st = statSync(device);
  if (!st.isBlockDevice()) throw new DeviceError(`${device} is not a block device`);
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((Math.floor(st.rdev / 1048576) & 0xfff) << 8);
  const sys = `/sys/dev/block/${major}:${minor}/size`;
  if (existsSync(sys)) return Number(readFileSync(sys, 'utf8').trim()) * 512;
  return Number(runOrThrow('blockdev', ['--getsize64', device]).trim());
}

/** major:minor of a block device node. */
export function deviceNumbers(device: string): { major: number; minor: number } {
  const st = statSync(device);
  return { major: Math.floor(st.rdev / 256) & 0xfff, minor: (st.rdev & 0xff) | ((Math.floor(st.rdev / 1048576) & 0xfff) << 8) };
}

/**
 * Whether something holds the device open exclusively (a mounted filesystem, another O_EXCL
 * opener): the kernel refuses O_EXCL then, in any mount namespace. That is LVM's "open" attribute.
 */
export function isDeviceOpen(device: string): boolean {
  let fd: number;
  try {
    fd = openSync(device, constants.O_RDONLY | constants.O_EXCL);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EBUSY';
  }
  closeSync(fd);
  return false;
}

/** The file behind a loop device (sysfs), or null when the device is not attached. */
export function loopBackingFile(loopDevice: string): string | null {
  const name = path.basename(loopDevice);
  try {
    return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8')
      .trim()
      .replace(/ \(deleted\)$/, '');
  } catch {
    return null;
  }
}

/** Attach a loop device to file and return its name (/dev/loopN). */
export function attachLoop(file: string): string {
  return runOrThrow('losetup', ['--find', '--show', file]).trim();
}

export function detachLoop(loopDevice: string): void {
  runOrThrow('losetup', ['-d', loopDevice]);
}

/** Tell the loop driver the backing file changed size (losetup -c), so the device grows with it. */
export function refreshLoopSize(loopDevice: string): void {
  runOrThrow('losetup', ['-c', loopDevice]);
}

/** Grow (never shrink) a file to size bytes; sparse, so an extended LV costs only what is written. */
export function growFile(file: string, sizeBytes: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const current = existsSync(file) ? statSync(file).size : -1;
  if (current >= sizeBytes) return;
  runOrThrow('truncate', ['-s', String(sizeBytes), file]);
}

/** Device-mapper's name for vg/lv: dashes doubled, joined by one dash (lib/misc/lvm-string.c). */
export function dmName(vg: string, lv: string): string {
  return `${vg.replace(/-/g, '--')}-${lv.replace(/-/g, '--')}`;
}

export function lvPath(devRoot: string, vg: string, lv: string): string {
  return path.join(devRoot, vg, lv);
}

export function dmPath(devRoot: string, vg: string, lv: string): string {
  return path.join(devRoot, 'mapper', dmName(vg, lv));
}

/**
 * Create /dev/mapper/<vg>-<lv> as a block node with the loop device's numbers, and /dev/<vg>/<lv>
 * as a symlink to it. A node (not a symlink to /dev/loopN) keeps the mapper name in /proc/mounts,
 * df and findmnt, as on a real LVM host. On a lab host /dev/mapper and /dev/<vg> are private
 * tmpfs mounts in its namespace, so nothing lands in the machine's /dev.
 */
export function createDeviceNodes(devRoot: string, vg: string, lv: string, loopDevice: string): void {
  const { major, minor } = deviceNumbers(loopDevice);
  const node = dmPath(devRoot, vg, lv);
  mkdirSync(path.dirname(node), { recursive: true });
  let current: { major: number; minor: number } | null = null;
  try {
    if (lstatSync(node).isBlockDevice()) current = deviceNumbers(node);
  } catch {
    current = null;
  }
  if (!current || current.major !== major || current.minor !== minor) {
    rmSync(node, { force: true });
    runOrThrow('mknod', ['-m', '660', node, 'b', String(major), String(minor)]);
  }
  const link = lvPath(devRoot, vg, lv);
  mkdirSync(path.dirname(link), { recursive: true });
  const target = path.relative(path.dirname(link), node);
  let linkOk = false;
  try {
    linkOk = readlinkSync(link) === target;
  } catch {
    linkOk = false;
  }
  if (!linkOk) {
    rmSync(link, { force: true });
    symlinkSync(target, link);
  }
}

export function removeDeviceNodes(devRoot: string, vg: string, lv: string): void {
  rmSync(lvPath(devRoot, vg, lv), { force: true });
  rmSync(dmPath(devRoot, vg, lv), { force: true });
}

/**
 * Resolve a user-given LV device path (/dev/vg/lv or /dev/mapper/vg-lv, possibly through symlinks)
 * to vg/lv names by path shape, the way LVM's skip_dev_dir does.
 */
export function parseLvDevicePath(devRoot: string, arg: string): { vg: string; lv: string } | null {
  const root = devRoot.endsWith('/') ? devRoot : `${devRoot}/`;
  const candidates = [arg];
  if (devRoot !== '/dev' && arg.startsWith('/dev/')) candidates.push(path.join(devRoot, arg.slice(5)));
  for (const c of candidates) {
    let rel: string | null = null;
    if (c.startsWith(root)) rel = c.slice(root.length);
    if (rel === null) continue;
    if (rel.startsWith('mapper/')) {
      const name = rel.slice('mapper/'.length);
      // Split at the first single dash (doubled dashes are literal).
      const m = /^((?:[^-]|--)+)-((?:[^-]|--)+)$/.exec(name);
      if (m) return { vg: m[1].replace(/--/g, '-'), lv: m[2].replace(/--/g, '-') };
      return null;
    }
    const parts = rel.split('/').filter(Boolean);
    if (parts.length === 2) return { vg: parts[0], lv: parts[1] };
  }
  return null;
}

/**
 * Write a minimal LVM2 label (sector 1: "LABELONE", CRC, "LVM2 001", PV UUID) so blkid and lsblk -f
 * report the device as an LVM2_member, as they would on a real host. Only the label header is
 * written; the metadata itself lives in the emulator's state file.
 */
export function writePvLabel(device: string, uuid: string, deviceSize: number, peStartBytes: number): void {
  const sector = Buffer.alloc(512);
  sector.write('LABELONE', 0, 'ascii');
  sector.writeBigUInt64LE(1n, 8); // sector number of this label
  sector.writeUInt32LE(32, 20); // offset of the pv_header from the label start
  sector.write('LVM2 001', 24, 'ascii');
  // pv_header: uuid (32), device size (8), then disk_locn lists: data area, terminator, mda, terminator.
  sector.write(uuid, 32, 'ascii');
  sector.writeBigUInt64LE(BigInt(deviceSize), 64);
  let off = 72;
  sector.writeBigUInt64LE(BigInt(peStartBytes), off); // data area offset
  sector.writeBigUInt64LE(0n, off + 8); // size 0 = to the end
  off += 16 + 16; // terminator
  sector.writeBigUInt64LE(4096n, off); // metadata area at 4 KiB
  sector.writeBigUInt64LE(BigInt(Math.max(0, peStartBytes - 4096)), off + 8);
  sector.writeUInt32LE(lvmCrc(sector.subarray(20, 512)), 16);
  const fd = openSync(device, 'r+');
  try {
    writeSync(fd, sector, 0, 512, 512);
  } finally {
    closeSync(fd);
  }
}

/** Erase the label sector (pvremove). */
export function wipePvLabel(device: string): void {
  const fd = openSync(device, 'r+');
  try {
    writeSync(fd, Buffer.alloc(512), 0, 512, 512);
  } finally {
    closeSync(fd);
  }
}

/** lib/misc/crc.c: LVM's CRC-32 (reflected 0xEDB88320, initial value 0xf597a6cf, no final xor). */
function lvmCrc(buf: Buffer): number {
  let crc = 0xf597a6cf;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return crc >>> 0;
}
