import { spawnSync } from 'node:child_process';
import { readSync } from 'node:fs';
import { activateLv, deactivateLv } from '../activation';
import { count, has, parseArgs, value, yesNo, type OptionSpec } from '../args';
import { deviceSizeBytes, isBlockDevice, isDeviceOpen, wipePvLabel, writePvLabel } from '../devices';
import { ECMD_FAILED, EINVALID_CMD_LINE, LvmError, findPvByDevice, pvAllocCount, pvExtentMap, requireVg } from '../model';
import { error, print, printUnlessQuiet, verbose, warn } from '../output';
import { requireLv } from '../resolve';
import { displaySize, parseSizeArg } from '../sizes';
import { DEFAULT_PE_START_BYTES, newUuid, SECTOR, updateState, type EmuState, type PvState, type VgState } from '../state';

// pvcreate, pvchange, pvresize, pvremove, vgextend, vgreduce, vgchange and lvchange activation:
// every rule and message follows tools/*.c and lib/metadata/*.c of lvm2 where it matters to an
// operator (what is refused, what is printed); -v adds the archive/backup lines LVM prints.

/** vg_commit: bump the metadata sequence number, with the lines LVM prints under -v. */
export function commitVg(vg: VgState, change: () => void): void {
  verbose(`Archiving volume group "${vg.name}" metadata (seqno ${vg.seqno}).`);
  change();
  vg.seqno += 1;
  verbose(`Creating volume group backup "/etc/lvm/backup/${vg.name}" (seqno ${vg.seqno}).`);
}

/** yes_no_prompt: -y answers yes; otherwise a line from stdin ('n' on EOF, as LVM does). */
function confirm(question: string, yes: boolean): boolean {
  if (yes) return true;
  process.stdout.write(`  ${question} [y/n]: `);
  const buf = Buffer.alloc(256);
  let answer = '';
  try {
    const n = readSync(0, buf, 0, buf.length, null);
    answer = buf.subarray(0, n).toString().trim();
  } catch {
    answer = '';
  }
  if (!answer) process.stdout.write('\n');
  return answer.toLowerCase().startsWith('y');
}

/** A filesystem or other signature blkid sees on the device (pvcreate refuses to overwrite one silently). */
function existingSignature(device: string): string | null {
  const r = spawnSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', device], { encoding: 'utf8' });
  const type = r.status === 0 ? r.stdout.trim() : '';
  return type && type !== 'LVM2_member' ? type : null;
}

interface PvCreateOptions {
  yes: boolean;
  force: number;
  setSize: number | null;
  dataAlignment: number | null;
}

/** pvcreate for one device; used by pvcreate and by vgextend on a device that is not yet a PV. */
export function createPv(state: EmuState, device: string, opts: PvCreateOptions): PvState {
  if (!isBlockDevice(device)) throw new LvmError(`Cannot use ${device}: device not found`);
  const existing = findPvByDevice(state, device);
  if (existing?.vg) {
    error(`Can't initialize physical volume "${device}" of volume group "${existing.vg}" without -ff`);
    throw new LvmError(`${device}: physical volume not initialized.`);
  }
  if (isDeviceOpen(device)) throw new LvmError(`Can't open ${device} exclusively.  Mounted filesystem?`);
  const signature = existing ? null : existingSignature(device);
  if (signature) {
    if (!confirm(`WARNING: ${signature} signature detected on ${device}. Wipe it?`, opts.yes || opts.force > 0)) {
      error(`Aborted wiping of ${signature}.`);
      error('1 existing signature left on the device.');
      throw new LvmError(`${device}: physical volume not initialized.`);
    }
    spawnSync('wipefs', ['-a', device], { stdio: 'ignore' });
    print(`Wiping ${signature} signature on ${device}.`);
  }
  const devSize = deviceSizeBytes(device);
  const size = opts.setSize ?? devSize;
  // pe_start: the 1 MiB default, or the next multiple of --dataalignment.
  const align = opts.dataAlignment ?? DEFAULT_PE_START_BYTES;
  const peStart = Math.ceil(DEFAULT_PE_START_BYTES / align) * align;
  if (size <= peStart) throw new LvmError(`${device}: Size must exceed physical extent start of ${peStart / SECTOR} sectors.`);
  const pv: PvState = { device, uuid: existing?.uuid ?? newUuid(), sizeBytes: size, peStartBytes: peStart, vg: null, peCount: 0, allocatable: true };
  if (existing) Object.assign(existing, pv);
  else state.pvs.push(pv);
  writePvLabel(device, pv.uuid, devSize, peStart);
  print(`Physical volume "${device}" successfully created.`);
  return existing ?? pv;
}

function sizeOption(args: ReturnType<typeof parseArgs>, name: string): number | null {
  const v = value(args, name);
  if (v === undefined) return null;
  const parsed = parseSizeArg(v);
  if (!parsed) throw new LvmError(`Invalid argument for --${name}: ${v}`, EINVALID_CMD_LINE);
  return parsed.bytes;
}

const PVCREATE_OPTIONS: OptionSpec[] = [
  { long: 'force', short: 'f' },
  { long: 'setphysicalvolumesize', value: true },
  { long: 'dataalignment', value: true },
  { long: 'dataalignmentoffset', value: true },
  { long: 'metadatasize', value: true },
  { long: 'metadatacopies', value: true },
  { long: 'uuid', short: 'u', value: true },
  { long: 'norestorefile' },
  { long: 'zero', short: 'Z', value: true },
  { long: 'labelsector', value: true },
  { long: 'pvmetadatacopies', value: true },
  { long: 'bootloaderareasize', value: true },
];

export function pvcreate(argv: string[]): number {
  const args = parseArgs('pvcreate', argv, PVCREATE_OPTIONS);
  if (args.positional.length === 0) throw new LvmError('Please enter a physical volume path.', EINVALID_CMD_LINE);
  const opts: PvCreateOptions = {
    yes: has(args, 'yes'),
    force: count(args, 'force'),
    setSize: sizeOption(args, 'setphysicalvolumesize'),
    dataAlignment: sizeOption(args, 'dataalignment'),
  };
  return updateState((state) => {
    let failed = 0;
    for (const device of args.positional) {
      try {
        createPv(state, device, opts);
      } catch (err) {
        if (!(err instanceof LvmError)) throw err;
        error(err.message);
        failed++;
      }
    }
    return failed ? ECMD_FAILED : 0;
  });
}

export function pvremove(argv: string[]): number {
  const args = parseArgs('pvremove', argv, [{ long: 'force', short: 'f' }]);
  if (args.positional.length === 0) throw new LvmError('Please enter a physical volume path.', EINVALID_CMD_LINE);
  return updateState((state) => {
    let failed = 0;
    for (const device of args.positional) {
      const pv = findPvByDevice(state, device);
      if (!pv) {
        error(`No PV found on device ${device}.`);
        failed++;
        continue;
      }
      if (pv.vg) {
        error(`PV ${device} is used by VG ${pv.vg} so please use vgreduce first.`);
        error('(If you are certain you need pvremove, then confirm by using --force twice.)');
        error(`${device}: physical volume label not removed.`);
        failed++;
        continue;
      }
      wipePvLabel(pv.device);
      state.pvs = state.pvs.filter((p) => p !== pv);
      print(`Labels on physical volume "${device}" successfully wiped.`);
    }
    return failed ? ECMD_FAILED : 0;
  });
}

export function pvchange(argv: string[]): number {
  const args = parseArgs('pvchange', argv, [
    { long: 'allocatable', short: 'x', value: true },
    { long: 'all', short: 'a' },
    { long: 'uuid', short: 'u' },
    { long: 'addtag', value: true },
    { long: 'deltag', value: true },
    { long: 'metadataignore', value: true },
    { long: 'force', short: 'f' },
  ]);
  const allocArg = value(args, 'allocatable');
  if (allocArg === undefined) {
    throw new LvmError('One or more of --allocatable, --addtag, --deltag, --uuid or --metadataignore is required (the emulator supports --allocatable).', EINVALID_CMD_LINE);
  }
  const allocatable = yesNo('pvchange', 'allocatable', allocArg);
  if (!has(args, 'all') && args.positional.length === 0) throw new LvmError('Please give a physical volume path or use --all.', EINVALID_CMD_LINE);
  return updateState((state) => {
    const targets = has(args, 'all') ? state.pvs.map((p) => p.device) : args.positional;
    let done = 0;
    let total = 0;
    let failed = false;
    for (const device of targets) {
      const pv = findPvByDevice(state, device);
      if (!pv) {
        error(`Failed to find physical volume "${device}".`);
        failed = true;
        continue;
      }
      total++;
      if (!pv.vg) {
        error(`Allocatability not supported by orphan lvm2 format PV ${device}`);
        failed = true;
        continue;
      }
      if (pv.allocatable === allocatable) {
        warn(`Physical volume "${device}" is already ${allocatable ? '' : 'un'}allocatable.`);
        continue;
      }
      const vg = requireVg(state, pv.vg);
      commitVg(vg, () => {
        verbose(`Setting physical volume "${device}" ${allocatable ? '' : 'NOT '}allocatable`);
        pv.allocatable = allocatable;
        verbose(`Updating physical volume "${device}"`);
      });
      printUnlessQuiet(`Physical volume "${device}" changed`);
      done++;
    }
    printUnlessQuiet(`${done} physical volume${done === 1 ? '' : 's'} changed / ${total - done} physical volume${total - done === 1 ? '' : 's'} not changed`);
    return failed ? ECMD_FAILED : 0;
  });
}

export function pvresize(argv: string[]): number {
  const args = parseArgs('pvresize', argv, [
    { long: 'setphysicalvolumesize', value: true },
    { long: 'force', short: 'f' },
  ]);
  if (args.positional.length === 0) throw new LvmError('Please supply physical volume(s)', EINVALID_CMD_LINE);
  const given = value(args, 'setphysicalvolumesize');
  let requested: number | null = null;
  if (given !== undefined) {
    const parsed = parseSizeArg(given, 'm', true);
    if (parsed?.sign === '-') throw new LvmError('Physical volume size may not be negative', EINVALID_CMD_LINE);
    if (!parsed || parsed.sign) throw new LvmError(`Invalid argument for --setphysicalvolumesize: ${given}`, EINVALID_CMD_LINE);
    requested = parsed.bytes;
  }
  return updateState((state) => {
    let done = 0;
    let total = 0;
    for (const device of args.positional) {
      total++;
      try {
        resizeOnePv(state, device, requested, has(args, 'yes'));
        done++;
      } catch (err) {
        if (!(err instanceof LvmError)) throw err;
        error(err.message);
      }
    }
    print(`${done} physical volume(s) resized or updated / ${total - done} physical volume(s) not resized`);
    return done === total ? 0 : ECMD_FAILED;
  });
}

function resizeOnePv(state: EmuState, device: string, requested: number | null, yes: boolean): void {
  const pv = findPvByDevice(state, device);
  if (!pv) throw new LvmError(`Failed to find physical volume "${device}".`);
  const devSize = deviceSizeBytes(pv.device);
  const size = requested ?? devSize;
  if (requested !== null && requested > devSize) {
    warn(`WARNING: ${device}: Overriding real size ${displaySize(devSize)}. You could lose data.`);
    if (!confirm(`${device}: Requested size ${displaySize(requested)} exceeds real size ${displaySize(devSize)}. Proceed? `, yes)) {
      throw new LvmError(`Physical volume "${device}" not resized.`);
    }
  }
  const vg = pv.vg ? requireVg(state, pv.vg) : null;
  const apply = () => {
    if (requested !== null && requested === devSize) verbose(`${device}: Size is already ${displaySize(devSize)} (${devSize / SECTOR} sectors).`);
    else if (requested !== null) verbose(`${device}: Pretending size is ${requested / SECTOR} not ${devSize / SECTOR} sectors.`);
    verbose(`Resizing volume "${device}" to ${Math.floor(size / SECTOR)} sectors.`);
    if (size <= pv.peStartBytes) throw new LvmError(`${device}: Size must exceed physical extent start of ${pv.peStartBytes / SECTOR} sectors.`);
    if (vg) {
      const newCount = Math.floor((size - pv.peStartBytes) / vg.extentBytes);
      if (newCount === 0) throw new LvmError(`${device}: Size must leave space for at least one physical extent of ${vg.extentBytes / SECTOR} sectors.`);
      if (newCount === pv.peCount) verbose(`No change to size of physical volume ${device}.`);
      else {
        verbose(`Resizing physical volume ${device} from ${pv.peCount} to ${newCount} extents.`);
        if (newCount < pv.peCount) {
          const alloc = pvAllocCount(vg, pv);
          if (newCount < alloc) throw new LvmError(`${device}: cannot resize to ${newCount} extents as ${alloc} are allocated.`);
          if (pvExtentMap(vg, pv).some((slot, pe) => slot !== null && pe >= newCount)) {
            throw new LvmError(`${device}: cannot resize to ${newCount} extents as later ones are allocated.`);
          }
        }
        pv.peCount = newCount;
      }
    }
    pv.sizeBytes = size;
    verbose(`Updating physical volume "${device}"`);
  };
  if (vg) commitVg(vg, apply);
  else apply();
  print(`Physical volume "${device}" changed`);
}

export function vgextend(argv: string[]): number {
  const args = parseArgs('vgextend', argv, [
    { long: 'force', short: 'f' },
    { long: 'restoremissing' },
    { long: 'metadatacopies', value: true },
    { long: 'dataalignment', value: true },
    { long: 'setphysicalvolumesize', value: true },
    { long: 'zero', short: 'Z', value: true },
  ]);
  const [vgName, ...devices] = args.positional;
  if (!vgName) throw new LvmError('Please enter volume group name and physical volume(s)', EINVALID_CMD_LINE);
  if (devices.length === 0) throw new LvmError('Please enter physical volume(s)', EINVALID_CMD_LINE);
  return updateState((state) => {
    const vg = state.vgs.find((v) => v.name === vgName);
    if (!vg) {
      error(`Volume group "${vgName}" not found`);
      throw new LvmError(`Cannot process volume group ${vgName}`);
    }
    const joining: PvState[] = [];
    for (const device of devices) {
      let pv = findPvByDevice(state, device);
      if (pv?.vg) {
        error(`Physical volume '${device}' is already in volume group '${pv.vg}'`);
        throw new LvmError(`Unable to add physical volume '${device}' to volume group '${vgName}'`);
      }
      // lvm2 >= 2.02.117 initialises a device that is not a PV yet, as pvcreate would.
      if (!pv)
        pv = createPv(state, device, { yes: has(args, 'yes'), force: count(args, 'force'), setSize: sizeOption(args, 'setphysicalvolumesize'), dataAlignment: sizeOption(args, 'dataalignment') });
      joining.push(pv);
    }
    commitVg(vg, () => {
      for (const pv of joining) {
        verbose(`Adding physical volume '${pv.device}' to volume group '${vg.name}'`);
        const peCount = Math.floor((pv.sizeBytes - pv.peStartBytes) / vg.extentBytes);
        if (peCount === 0) throw new LvmError(`Unable to add physical volume '${pv.device}' to volume group '${vg.name}': it is smaller than one extent`);
        pv.vg = vg.name;
        pv.peCount = peCount;
        pv.allocatable = true;
        vg.pvs.push(pv.uuid);
      }
    });
    print(`Volume group "${vg.name}" successfully extended`);
    return 0;
  });
}

export function vgreduce(argv: string[]): number {
  const args = parseArgs('vgreduce', argv, [{ long: 'all', short: 'a' }, { long: 'removemissing' }, { long: 'mirrorsonly' }, { long: 'force', short: 'f' }]);
  const [vgName, ...devices] = args.positional;
  if (!vgName) throw new LvmError('Please give volume group name and physical volume paths', EINVALID_CMD_LINE);
  if (has(args, 'removemissing')) throw new LvmError('--removemissing is not emulated (no PV can go missing in the lab)', EINVALID_CMD_LINE);
  if (devices.length === 0 && !has(args, 'all')) throw new LvmError('Please enter physical volume paths or option -a', EINVALID_CMD_LINE);
  return updateState((state) => {
    const vg = state.vgs.find((v) => v.name === vgName);
    if (!vg) {
      error(`Volume group "${vgName}" not found`);
      throw new LvmError(`Cannot process volume group ${vgName}`);
    }
    const targets = has(args, 'all') ? vg.pvs.map((u) => state.pvs.find((p) => p.uuid === u)?.device ?? '') : devices;
    let failed = false;
    for (const device of targets) {
      const pv = findPvByDevice(state, device);
      if (!pv || pv.vg !== vg.name) {
        error(`Physical Volume "${device}" not found in Volume Group "${vg.name}".`);
        failed = true;
        continue;
      }
      // A PV a pvmove reads from is still in use (by the pvmove0 LV on a real host).
      const moving = state.pvmove?.vg === vg.name && state.pvmove.sourcePv === pv.uuid;
      if (pvAllocCount(vg, pv) > 0 || moving) {
        if (!has(args, 'all')) {
          error(`Physical volume "${device}" still in use`);
          failed = true;
        }
        continue;
      }
      if (vg.pvs.length === 1) {
        error(`Can't remove final physical volume "${device}" from volume group "${vg.name}"`);
        failed = true;
        continue;
      }
      commitVg(vg, () => {
        verbose(`Removing "${device}" from volume group "${vg.name}"`);
        vg.pvs = vg.pvs.filter((u) => u !== pv.uuid);
        pv.vg = null;
        pv.peCount = 0;
        pv.allocatable = true;
        // An orphan's size is re-read from the device (vgreduce.c dev_get_size); pe_start stays in its label.
        pv.sizeBytes = deviceSizeBytes(pv.device);
      });
      print(`Removed "${device}" from volume group "${vg.name}"`);
    }
    return failed ? ECMD_FAILED : 0;
  });
}

function activationArg(command: string, v: string | undefined): boolean | null {
  if (v === undefined) return null;
  if (['y', 'ay', 'ey', 'ly', 'sy'].includes(v)) return true;
  if (['n', 'an', 'en', 'ln', 'sn'].includes(v)) return false;
  throw new LvmError(`${command}: invalid argument for --activate: ${v}`, EINVALID_CMD_LINE);
}

export function vgchange(argv: string[]): number {
  const args = parseArgs('vgchange', argv, [
    { long: 'activate', short: 'a', value: true },
    { long: 'refresh' },
    { long: 'sysinit' },
    { long: 'ignoremonitoring' },
    { long: 'monitor', value: true },
    { long: 'poll', value: true },
  ]);
  const activate = activationArg('vgchange', value(args, 'activate'));
  if (activate === null && !has(args, 'refresh')) throw new LvmError('vgchange: the emulator supports -a y|n and --refresh', EINVALID_CMD_LINE);
  return updateState((state) => {
    const names = args.positional.length ? args.positional : state.vgs.map((v) => v.name);
    let failed = false;
    for (const name of names) {
      const vg = state.vgs.find((v) => v.name === name);
      if (!vg) {
        error(`Volume group "${name}" not found`);
        error(`Cannot process volume group ${name}`);
        failed = true;
        continue;
      }
      if (activate === false) {
        const open = vg.lvs.filter((lv) => lv.loopDevice && isDeviceOpen(lv.loopDevice));
        for (const lv of open) error(`Logical volume ${vg.name}/${lv.name} in use.`);
        if (open.length) {
          error(`Can't deactivate volume group "${vg.name}" with ${open.length} open logical volume(s)`);
          failed = true;
          continue;
        }
        for (const lv of vg.lvs) deactivateLv(state, vg, lv);
        print(`0 logical volume(s) in volume group "${vg.name}" now active`);
      } else {
        for (const lv of vg.lvs) activateLv(state, vg, lv);
        if (activate) print(`${vg.lvs.length} logical volume(s) in volume group "${vg.name}" now active`);
      }
    }
    return failed ? ECMD_FAILED : 0;
  });
}

export function lvchange(argv: string[]): number {
  const args = parseArgs('lvchange', argv, [{ long: 'activate', short: 'a', value: true }, { long: 'refresh' }, { long: 'ignoremonitoring' }, { long: 'monitor', value: true }]);
  const activate = activationArg('lvchange', value(args, 'activate'));
  if (activate === null && !has(args, 'refresh')) throw new LvmError('lvchange: the emulator supports -a y|n and --refresh', EINVALID_CMD_LINE);
  if (args.positional.length === 0) throw new LvmError('Please give logical volume path(s)', EINVALID_CMD_LINE);
  return updateState((state) => {
    for (const arg of args.positional) {
      const { vg, lv } = requireLv(state, arg);
      if (activate === false) deactivateLv(state, vg, lv);
      else activateLv(state, vg, lv);
    }
    return 0;
  });
}
