import { realpathSync } from 'node:fs';
import type { EmuState, LvState, PvState, SegmentState, VgState } from './state';

// LVM's rules over the state: which PV extents each LV uses, what is free, where new extents go.
// LV mappings are small (at most a few thousand extents on a lab host), so they are handled as one
// entry per logical extent and folded back into linear segments when stored.

/** exit codes of tools/errors.h */
export const ECMD_PROCESSED = 0;
export const EINVALID_CMD_LINE = 3;
export const ECMD_FAILED = 5;

/** A command failure: its message is printed as LVM prints errors and it sets the exit code. */
export class LvmError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ECMD_FAILED,
  ) {
    super(message);
  }
}

export interface ExtentRef {
  pv: string;
  pe: number;
}

export function findVg(state: EmuState, name: string): VgState | undefined {
  return state.vgs.find((v) => v.name === name);
}

export function requireVg(state: EmuState, name: string): VgState {
  const vg = findVg(state, name);
  if (!vg) throw new LvmError(`Volume group "${name}" not found`);
  return vg;
}

export function pvByUuid(state: EmuState, uuid: string): PvState {
  const pv = state.pvs.find((p) => p.uuid === uuid);
  if (!pv) throw new LvmError(`Internal error: PV with UUID ${uuid} is in the metadata of a VG but not known`);
  return pv;
}

function canonical(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** The PV on this device (by path, or by the device a symlink points at), if it is a PV. */
export function findPvByDevice(state: EmuState, device: string): PvState | undefined {
  const direct = state.pvs.find((p) => p.device === device);
  if (direct) return direct;
  const real = canonical(device);
  return state.pvs.find((p) => canonical(p.device) === real);
}

export function vgPvs(state: EmuState, vg: VgState): PvState[] {
  return vg.pvs.map((uuid) => pvByUuid(state, uuid));
}

export function leCount(lv: LvState): number {
  return lv.segments.reduce((n, s) => n + s.len, 0);
}

/** One entry per logical extent: where it lives. */
export function lvExtents(lv: LvState): ExtentRef[] {
  const out: ExtentRef[] = [];
  for (const seg of [...lv.segments].sort((a, b) => a.le - b.le)) {
    for (let i = 0; i < seg.len; i++) out.push({ pv: seg.pv, pe: seg.pe + i });
  }
  return out;
}

/** Fold per-extent locations back into linear segments, merging neighbours as LVM does. */
export function toSegments(extents: ExtentRef[]): SegmentState[] {
  const segs: SegmentState[] = [];
  extents.forEach((e, le) => {
    const last = segs[segs.length - 1];
    if (last && last.pv === e.pv && last.pe + last.len === e.pe) last.len++;
    else segs.push({ le, len: 1, pv: e.pv, pe: e.pe });
  });
  return segs;
}

export function setLvExtents(lv: LvState, extents: ExtentRef[]): void {
  lv.segments = toSegments(extents);
}

/** For one PV: which LV extent (if any) each physical extent holds. */
export function pvExtentMap(vg: VgState, pv: PvState): Array<{ lv: LvState; le: number } | null> {
  const map: Array<{ lv: LvState; le: number } | null> = new Array(pv.peCount).fill(null);
  for (const lv of vg.lvs) {
    lvExtents(lv).forEach((e, le) => {
      if (e.pv === pv.uuid && e.pe < map.length) map[e.pe] = { lv, le };
    });
  }
  return map;
}

export function pvAllocCount(vg: VgState | undefined, pv: PvState): number {
  if (!vg) return 0;
  let n = 0;
  for (const lv of vg.lvs) for (const s of lv.segments) if (s.pv === pv.uuid) n += s.len;
  return n;
}

export function vgExtentCount(state: EmuState, vg: VgState): number {
  return vgPvs(state, vg).reduce((n, pv) => n + pv.peCount, 0);
}

export function vgFreeCount(state: EmuState, vg: VgState): number {
  return vgPvs(state, vg).reduce((n, pv) => n + pv.peCount - pvAllocCount(vg, pv), 0);
}

/** A PV segment as pvdisplay -m and pvs --segments show it: a run of free or LV-used extents. */
export interface PvSegment {
  pe: number;
  len: number;
  lv: LvState | null;
  /** First LE of the run in its LV (when allocated). */
  le: number;
}

export function pvSegments(vg: VgState | undefined, pv: PvState): PvSegment[] {
  if (!vg || pv.peCount === 0) return [];
  const map = pvExtentMap(vg, pv);
  const segs: PvSegment[] = [];
  map.forEach((slot, pe) => {
    const last = segs[segs.length - 1];
    const continues = last && ((slot === null && last.lv === null) || (slot !== null && last.lv === slot.lv && last.le + last.len === slot.le));
    if (continues) last.len++;
    else segs.push({ pe, len: 1, lv: slot ? slot.lv : null, le: slot ? slot.le : 0 });
  });
  return segs;
}

/** Free physical extents of a PV, in order, minus those in `taken` ("pv:pe"). */
export function freeExtents(vg: VgState, pv: PvState, taken: Set<string> = new Set()): number[] {
  const map = pvExtentMap(vg, pv);
  const out: number[] = [];
  map.forEach((slot, pe) => {
    if (slot === null && !taken.has(`${pv.uuid}:${pe}`)) out.push(pe);
  });
  return out;
}

/**
 * Choose `count` free extents for extending lv, following the "normal" policy closely enough for
 * the lab: continue right after the LV's last extent on the same PV if that is free (so the last
 * segment just grows), then fill the allocatable PVs in metadata order, lowest extent first.
 * Throws LVM's own message when the allocatable PVs do not have enough.
 */
export function allocateForExtend(state: EmuState, vg: VgState, lv: LvState, count: number, allowed: PvState[] | null): ExtentRef[] {
  const pvs = (allowed ?? vgPvs(state, vg)).filter((pv) => pv.allocatable && pv.vg === vg.name);
  const available = pvs.reduce((n, pv) => n + freeExtents(vg, pv).length, 0);
  if (available < count) {
    throw new LvmError(`Insufficient free space: ${count} extents needed, but only ${available} available`);
  }
  const chosen: ExtentRef[] = [];
  const taken = new Set<string>();
  const take = (pv: PvState, pe: number) => {
    chosen.push({ pv: pv.uuid, pe });
    taken.add(`${pv.uuid}:${pe}`);
  };
  const extents = lvExtents(lv);
  const tail = extents[extents.length - 1];
  const tailPv = tail ? pvs.find((p) => p.uuid === tail.pv) : undefined;
  if (tail && tailPv) {
    const free = new Set(freeExtents(vg, tailPv));
    for (let pe = tail.pe + 1; chosen.length < count && free.has(pe); pe++) take(tailPv, pe);
  }
  for (const pv of pvs) {
    for (const pe of freeExtents(vg, pv, taken)) {
      if (chosen.length >= count) return chosen;
      take(pv, pe);
    }
  }
  return chosen;
}

/**
 * Where pvmove puts the next extent: right after the previous destination when that is free (one
 * contiguous run), else the start of the largest free area among the allowed PVs. As pvmove.c's
 * _get_allocatable_pvs, the source PV is excluded unless the policy is "anywhere", and never its
 * extents still to be moved.
 */
export function pickPvmoveDestination(state: EmuState, vg: VgState, source: PvState, pending: Set<number>, alloc: string, destinations: string[], previous: ExtentRef | null): ExtentRef | null {
  const candidates = vgPvs(state, vg).filter((pv) => pv.allocatable && (destinations.length === 0 || destinations.includes(pv.uuid)) && (alloc === 'anywhere' || pv.uuid !== source.uuid));
  const freeOf = (pv: PvState) => freeExtents(vg, pv).filter((pe) => !(pv.uuid === source.uuid && pending.has(pe)));
  if (previous) {
    const pv = candidates.find((p) => p.uuid === previous.pv);
    if (pv && freeOf(pv).includes(previous.pe + 1)) return { pv: pv.uuid, pe: previous.pe + 1 };
  }
  let best: { pv: string; pe: number; len: number } | null = null;
  for (const pv of candidates) {
    const free = freeOf(pv);
    let i = 0;
    while (i < free.length) {
      let j = i;
      while (j + 1 < free.length && free[j + 1] === free[j] + 1) j++;
      const len = j - i + 1;
      // Strictly larger wins, so on a tie the PV earlier in the metadata (and other PVs before the source) wins.
      const better = !best || len > best.len || (len === best.len && best.pv === source.uuid && pv.uuid !== source.uuid);
      if (better) best = { pv: pv.uuid, pe: free[i], len };
      i = j + 1;
    }
  }
  return best ? { pv: best.pv, pe: best.pe } : null;
}

/** Count of free extents pvmove could use (for its "Insufficient free space" message). */
export function pvmoveAvailable(state: EmuState, vg: VgState, source: PvState, pending: Set<number>, alloc: string, destinations: string[]): number {
  return vgPvs(state, vg)
    .filter((pv) => pv.allocatable && (destinations.length === 0 || destinations.includes(pv.uuid)) && (alloc === 'anywhere' || pv.uuid !== source.uuid))
    .reduce((n, pv) => n + freeExtents(vg, pv).filter((pe) => !(pv.uuid === source.uuid && pending.has(pe))).length, 0);
}

/** Check the invariants LVM's check_pv_segments enforces; a violation is a bug in the emulator. */
export function checkConsistency(state: EmuState): string[] {
  const problems: string[] = [];
  for (const vg of state.vgs) {
    const seen = new Map<string, string>();
    for (const uuid of vg.pvs) {
      const pv = state.pvs.find((p) => p.uuid === uuid);
      if (!pv) problems.push(`VG ${vg.name} lists unknown PV ${uuid}`);
      else if (pv.vg !== vg.name) problems.push(`PV ${pv.device} is listed by VG ${vg.name} but says it belongs to ${pv.vg ?? 'no VG'}`);
    }
    for (const lv of vg.lvs) {
      let next = 0;
      for (const seg of lv.segments) {
        if (seg.le !== next) problems.push(`LV ${vg.name}/${lv.name} has a gap or overlap at LE ${next}`);
        next = seg.le + seg.len;
        const pv = state.pvs.find((p) => p.uuid === seg.pv);
        if (!pv || !vg.pvs.includes(seg.pv)) {
          problems.push(`LV ${vg.name}/${lv.name} uses PV ${seg.pv}, which is not in the VG`);
          continue;
        }
        if (seg.pe + seg.len > pv.peCount) problems.push(`LV ${vg.name}/${lv.name} uses PE ${seg.pe + seg.len - 1} beyond the ${pv.peCount} extents of ${pv.device}`);
        for (let i = 0; i < seg.len; i++) {
          const key = `${seg.pv}:${seg.pe + i}`;
          const owner = `${lv.name}:${seg.le + i}`;
          if (seen.has(key)) problems.push(`PE ${pv.device}:${seg.pe + i} is used twice (${seen.get(key)} and ${owner})`);
          seen.set(key, owner);
        }
      }
    }
  }
  return problems;
}
