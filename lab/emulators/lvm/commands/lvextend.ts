import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resizeActiveLv } from '../activation';
import { has, parseArgs, value, type OptionSpec } from '../args';
import { deviceNumbers, dmPath, isBlockDevice } from '../devices';
import { ECMD_FAILED, EINVALID_CMD_LINE, LvmError, allocateForExtend, leCount, lvExtents, setLvExtents, vgExtentCount, vgFreeCount } from '../model';
import { error, print, printUnlessQuiet, verbose } from '../output';
import { takeLvextendResizeFault } from '../faults';
import { requireLv, requirePv } from '../resolve';
import { displaySize, parseSizeArg } from '../sizes';
import { updateState } from '../state';
import { commitVg } from './pv-vg';

// lvextend / lvresize (growing only). The metadata change is made under the state lock with an
// absolute new extent count; then the LV's backing file and loop device grow, and with --resizefs
// the real resize2fs runs on the real (mounted) ext4, printing what lvm2's fs helper prints (D4).

const OPTIONS: OptionSpec[] = [
  { long: 'size', short: 'L', value: true },
  { long: 'extents', short: 'l', value: true },
  { long: 'resizefs', short: 'r' },
  { long: 'fs', value: true },
  { long: 'fsmode', value: true },
  { long: 'nofsck', short: 'n' },
  { long: 'force', short: 'f' },
  { long: 'alloc', value: true },
  { long: 'stripes', short: 'i', value: true },
  { long: 'stripesize', short: 'I', value: true },
  { long: 'nosync' },
  { long: 'noudevsync' },
  { long: 'reportformat', value: true },
  { long: 'type', value: true },
  { long: 'poolmetadatasize', value: true },
];

interface SizeRequest {
  /** The new size in extents, computed from the LV and VG as they are under the lock. */
  target(current: number, vgExtents: number, vgFree: number, extentBytes: number): { extents: number; rounded: number | null };
}

function sizeRequest(args: ReturnType<typeof parseArgs>): SizeRequest {
  const sizeArg = value(args, 'size');
  const extentsArg = value(args, 'extents');
  if ((sizeArg === undefined) === (extentsArg === undefined)) {
    throw new LvmError('Please specify either size or extents but not both.', EINVALID_CMD_LINE);
  }
  if (sizeArg !== undefined) {
    const parsed = parseSizeArg(sizeArg, 'm', true);
    if (!parsed) throw new LvmError(`Invalid argument for --size: ${sizeArg}`, EINVALID_CMD_LINE);
    if (parsed.sign === '-') throw new LvmError('Negative argument not permitted - use lvreduce', EINVALID_CMD_LINE);
    return {
      target(current, _vgExtents, _vgFree, extentBytes) {
        // lvresize rounds the requested size (the delta for "+") up to whole extents, and says so.
        const extents = Math.ceil(parsed.bytes / extentBytes);
        const rounded = parsed.bytes % extentBytes === 0 ? null : extents * extentBytes;
        return { extents: parsed.sign === '+' ? current + extents : extents, rounded };
      },
    };
  }
  const m = /^(\+?)(\d+)(%(FREE|VG|PVS|ORIGIN))?$/i.exec(extentsArg as string);
  if (!m) throw new LvmError(`Invalid argument for --extents: ${extentsArg}`, EINVALID_CMD_LINE);
  const plus = m[1] === '+';
  const n = Number(m[2]);
  const pct = m[4]?.toUpperCase();
  return {
    target(current, vgExtents, vgFree) {
      let extents = n;
      if (pct === 'FREE') extents = Math.floor((vgFree * n) / 100);
      else if (pct === 'VG' || pct === 'PVS') extents = Math.floor((vgExtents * n) / 100);
      else if (pct === 'ORIGIN') throw new LvmError('--extents with %ORIGIN is only for snapshots', EINVALID_CMD_LINE);
      return { extents: plus || pct === 'FREE' ? current + extents : extents, rounded: null };
    },
  };
}

function fsType(device: string): string | null {
  const r = spawnSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', device], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/** Where the device is mounted in this mount namespace (matched by device number, like libblkid), or null. */
function mountPointOf(device: string): string | null {
  const { major, minor } = deviceNumbers(device);
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = l.split(' ');
    if (f[2] === `${major}:${minor}`) return f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  }
  return null;
}

/** Size of the filesystem on the device: dumpe2fs -h for ext*, xfs_db for xfs (block count x block size). */
function fsBytes(device: string, type: string): number | null {
  if (type === 'xfs') {
    const r = spawnSync('xfs_db', ['-r', '-c', 'sb 0', '-c', 'p dblocks blocksize', device], { encoding: 'utf8' });
    const blocks = /dblocks = (\d+)/.exec(r.stdout);
    const blockSize = /blocksize = (\d+)/.exec(r.stdout);
    return r.status === 0 && blocks && blockSize ? Number(blocks[1]) * Number(blockSize[1]) : null;
  }
  const r = spawnSync('dumpe2fs', ['-h', device], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const blocks = /^Block count:\s+(\d+)/m.exec(r.stdout);
  const blockSize = /^Block size:\s+(\d+)/m.exec(r.stdout);
  return blocks && blockSize ? Number(blocks[1]) * Number(blockSize[1]) : null;
}

function run(cmd: string, args: string[]): number | null {
  return spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] }).status;
}

/**
 * lvm2's lvresize_fs_helper, for the filesystems the lab uses: ext2/3/4 get e2fsck (when
 * unmounted) and resize2fs, online when mounted; xfs gets xfs_growfs on its mount point (xfs only
 * grows mounted, so an unmounted one is mounted on a temporary folder, as lvm2 does).
 */
function extendFilesystem(vgName: string, lvName: string, device: string, type: string, newBytes: number, noFsck: boolean): boolean {
  const name = `${vgName}/${lvName}`;
  print(`Extending file system ${type} to ${displaySize(newBytes)} (${newBytes} bytes) on ${name}...`);
  const fail = (what: string, status: number | null) => {
    error(`${what} failed (exit ${status ?? 'signal'}) on ${device}.`);
    error(`Failed to extend file system ${type} on ${name}.`);
    return false;
  };
  const mountPoint = mountPointOf(device);
  if (type === 'xfs') {
    let dir = mountPoint;
    let temporary: string | null = null;
    if (!dir) {
      temporary = mkdtempSync(path.join(tmpdir(), 'lvresize-'));
      const mounted = run('mount', ['-t', 'xfs', device, temporary]);
      if (mounted !== 0) return fail('mount', mounted);
      dir = temporary;
    }
    const grown = run('xfs_growfs', [dir]);
    if (temporary) {
      run('umount', [temporary]);
      rmdirSync(temporary);
    }
    if (grown !== 0) return fail('xfs_growfs', grown);
  } else {
    if (!mountPoint && !noFsck) {
      const fsck = run('e2fsck', ['-f', '-p', device]);
      if (fsck !== 0 && fsck !== 1) return fail('e2fsck', fsck);
    }
    const resized = run('resize2fs', [device, `${Math.floor(newBytes / 1024)}k`]);
    if (resized !== 0) return fail('resize2fs', resized);
  }
  print(`Extended file system ${type} on ${name}.`);
  return true;
}

export function lvextend(command: 'lvextend' | 'lvresize', argv: string[]): number {
  const args = parseArgs(command, argv, OPTIONS);
  const request = sizeRequest(args);
  const [lvArg, ...pvArgs] = args.positional;
  if (!lvArg) throw new LvmError('Please provide the logical volume name', EINVALID_CMD_LINE);
  const fsOption = value(args, 'fs');
  if (fsOption !== undefined && !['resize', 'resize_fsadm', 'checksize', 'ignore'].includes(fsOption)) {
    throw new LvmError(`Invalid argument for --fs: ${fsOption}`, EINVALID_CMD_LINE);
  }
  const resizeFs = has(args, 'resizefs') || fsOption === 'resize' || fsOption === 'resize_fsadm';

  type Outcome = { kind: 'changed' | 'same'; vg: string; lv: string; newBytes: number; device: string | null };
  const outcome = updateState((state): Outcome => {
    const { vg, lv } = requireLv(state, lvArg);
    const current = leCount(lv);
    const { extents, rounded } = request.target(current, vgExtentCount(state, vg), vgFreeCount(state, vg), vg.extentBytes);
    if (rounded !== null) printUnlessQuiet(`Rounding size to boundary between physical extents: ${displaySize(rounded)}.`);
    const name = `${vg.name}/${lv.name}`;
    const device = lv.loopDevice ? dmPath(state.devRoot, vg.name, lv.name) : null;
    if (extents === current) {
      // D4: the same size is an error unless a filesystem resize was asked for.
      const msg = `New size (${extents} extents) matches existing size (${current} extents).`;
      if (!resizeFs) throw new LvmError(msg);
      print(msg);
      return { kind: 'same', vg: vg.name, lv: lv.name, newBytes: current * vg.extentBytes, device };
    }
    if (extents < current) {
      if (command === 'lvresize') throw new LvmError(`Reducing ${name} is not emulated (the lab only grows volumes; lvreduce would need a filesystem shrink first).`);
      throw new LvmError(`New size given (${extents} extents) not larger than existing size (${current} extents)`, EINVALID_CMD_LINE);
    }
    const allowed = pvArgs.length ? pvArgs.map((a) => requirePv(state, a.split(':')[0])) : null;
    const added = allocateForExtend(state, vg, lv, extents - current, allowed);
    commitVg(vg, () => setLvExtents(lv, [...lvExtents(lv), ...added]));
    // The block device grows before the lock is released, so no reader sees metadata bigger than the device.
    if (lv.loopDevice) resizeActiveLv(state, vg, lv);
    print(`Size of logical volume ${name} changed from ${displaySize(current * vg.extentBytes)} (${current} extents) to ${displaySize(extents * vg.extentBytes)} (${extents} extents).`);
    return { kind: 'changed', vg: vg.name, lv: lv.name, newBytes: extents * vg.extentBytes, device };
  });

  let ok = true;
  if (resizeFs) {
    const device = outcome.device;
    if (!device || !isBlockDevice(device)) {
      error(`Logical volume ${outcome.vg}/${outcome.lv} must be activated before resizing its file system.`);
      ok = false;
    } else {
      const type = fsType(device);
      if (type === 'ext2' || type === 'ext3' || type === 'ext4' || type === 'xfs') {
        const current = fsBytes(device, type);
        if (outcome.kind === 'changed' && takeLvextendResizeFault()) {
          error(`Filesystem resize of ${device} failed (fault injected by faults.json); the LV keeps its new size.`);
          ok = false;
        } else if (outcome.kind === 'changed' || current === null || current < outcome.newBytes) {
          ok = extendFilesystem(outcome.vg, outcome.lv, device, type, outcome.newBytes, has(args, 'nofsck'));
        } else {
          verbose(`File system ${type} on ${outcome.vg}/${outcome.lv} already fills the LV.`);
        }
      } else if (type !== null) {
        error(`File system ${type} on ${outcome.vg}/${outcome.lv} cannot be resized by the emulator.`);
        ok = false;
      } else {
        verbose(`No file system found on ${outcome.vg}/${outcome.lv}.`);
      }
    }
  }
  if (!ok) return ECMD_FAILED;
  print(`Logical volume ${outcome.vg}/${outcome.lv} successfully resized.`);
  return 0;
}
