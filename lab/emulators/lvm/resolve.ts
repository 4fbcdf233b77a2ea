import { parseLvDevicePath } from './devices';
import { EINVALID_CMD_LINE, LvmError, findPvByDevice, requireVg } from './model';
import type { EmuState, LvState, PvState, VgState } from './state';

// Turning command-line names into metadata objects, with LVM's messages when they name nothing.

/** vg, vg/lv, /dev/vg/lv or /dev/mapper/vg-lv → names (lv null when only a VG is named). */
export function parseLvArg(state: EmuState, arg: string): { vg: string; lv: string | null } | null {
  if (arg.startsWith('/')) return parseLvDevicePath(state.devRoot, arg);
  const parts = arg.split('/').filter(Boolean);
  if (parts.length === 1) return { vg: parts[0], lv: null };
  if (parts.length === 2) return { vg: parts[0], lv: parts[1] };
  return null;
}

/** The LV an lvextend/lvchange argument names. */
export function requireLv(state: EmuState, arg: string): { vg: VgState; lv: LvState } {
  const parsed = parseLvArg(state, arg);
  if (!parsed) throw new LvmError(`"${arg}": Invalid path for Logical Volume.`, EINVALID_CMD_LINE);
  if (parsed.lv === null) throw new LvmError(`Path required for Logical Volume "${parsed.vg}".`, EINVALID_CMD_LINE);
  const vg = requireVg(state, parsed.vg);
  const lv = vg.lvs.find((l) => l.name === parsed.lv);
  if (!lv) throw new LvmError(`Failed to find logical volume "${parsed.vg}/${parsed.lv}"`);
  return { vg, lv };
}

/** A PV named on the command line; LVM's message when the device is not a PV. */
export function requirePv(state: EmuState, device: string): PvState {
  const pv = findPvByDevice(state, device);
  if (!pv) throw new LvmError(`Failed to find physical volume "${device}".`);
  return pv;
}

/** PV[:PE[-PE]|:PE+N]... as pvmove and lvextend take them (tools/toollib.c _parse_pes). */
export function parsePvRanges(arg: string): { device: string; ranges: Array<{ start: number; end: number }> | null } {
  const [device, ...specs] = arg.split(':');
  if (specs.length === 0) return { device, ranges: null };
  const ranges: Array<{ start: number; end: number }> = [];
  for (const spec of specs) {
    let m: RegExpExecArray | null;
    if ((m = /^(\d+)-(\d+)$/.exec(spec))) ranges.push({ start: Number(m[1]), end: Number(m[2]) });
    else if ((m = /^(\d+)\+(\d+)$/.exec(spec))) ranges.push({ start: Number(m[1]), end: Number(m[1]) + Number(m[2]) - 1 });
    else if ((m = /^(\d+)$/.exec(spec))) ranges.push({ start: Number(m[1]), end: Number(m[1]) });
    else if ((m = /^(\d+)-$/.exec(spec))) ranges.push({ start: Number(m[1]), end: Number.MAX_SAFE_INTEGER });
    else if ((m = /^-(\d+)$/.exec(spec))) ranges.push({ start: 0, end: Number(m[1]) });
    else throw new LvmError(`Physical extent parsing error at ${spec}`, EINVALID_CMD_LINE);
    const last = ranges[ranges.length - 1];
    if (last.end < last.start) throw new LvmError(`Physical extent parsing error at ${spec}`, EINVALID_CMD_LINE);
  }
  return { device, ranges };
}
