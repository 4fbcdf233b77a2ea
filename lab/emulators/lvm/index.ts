import path from 'node:path';
import { deviceSizeBytes, writePvLabel } from './devices';
import { toSegments, type ExtentRef } from './model';
import { DEFAULT_EXTENT_BYTES, DEFAULT_PE_START_BYTES, emptyState, newUuid, type EmuState, type PvState } from './state';

// The emulator's API for the lab (scenarios build a host's LVM metadata with it) and for tests.
// Commands themselves are only ever run through the wrapper scripts buildLvmEmulator writes.

export { buildLvmEmulator, BUNDLE_NAME, type BuildOptions, type BuiltEmulator } from './build';
export { clearFaults, faultsPath, writeFaults, type FaultsInput } from './faults';
export { formatSize, displaySize, parseSizeArg } from './sizes';
export { readState, writeState, formatUuid, DEFAULT_EXTENT_BYTES, DEFAULT_PE_START_BYTES, MiB, type EmuState } from './state';
export { checkConsistency, lvExtents, pvSegments } from './model';

export interface PvSpec {
  /** The block device (a loop device in the lab). */
  device: string;
  /** Offset of the first extent; default 1 MiB. */
  peStartBytes?: number;
  /** The PV's recorded size (pv->size); default the device's size. Smaller = a PV not spanning its device. */
  sizeBytes?: number;
  /** pvchange -x; default true. */
  allocatable?: boolean;
}

export interface LvSpec {
  name: string;
  /** Segments in LE order: `len` extents starting at extent `pe` of PV number `pv` (index into the VG's pvs). */
  segments: Array<{ pv: number; pe: number; len: number }>;
  /** Where the LV's data lives; default <state dir>/lv/<vg>-<lv>.img. */
  backingFile?: string;
}

export interface VolumeGroupSpec {
  name: string;
  extentBytes?: number;
  pvs: PvSpec[];
  lvs: LvSpec[];
}

export interface StateSpec {
  /** The state file the wrappers will use (LV backing files default to its folder). */
  statePath: string;
  /** Where device nodes are created; /dev on a lab host, a temp folder in tests. */
  devRoot?: string;
  hostname?: string;
  vgs: VolumeGroupSpec[];
  /** PVs in no VG (pvcreated only). */
  orphans?: PvSpec[];
  /** Fixed creation time for reproducible output (default now). */
  creationTime?: Date;
}

function lvmTime(d: Date): string {
  // lvdisplay's "LV Creation host, time": 2024-04-18 23:09:34 +0000
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function pvFromSpec(spec: PvSpec, vg: string | null, extentBytes: number): PvState {
  const peStart = spec.peStartBytes ?? DEFAULT_PE_START_BYTES;
  const size = spec.sizeBytes ?? deviceSizeBytes(spec.device);
  if (size <= peStart) throw new Error(`PV ${spec.device}: its size ${size} does not exceed its pe_start ${peStart}`);
  return {
    device: spec.device,
    uuid: newUuid(),
    sizeBytes: size,
    peStartBytes: peStart,
    vg,
    peCount: vg ? Math.floor((size - peStart) / extentBytes) : 0,
    allocatable: vg ? (spec.allocatable ?? true) : true,
  };
}

/**
 * Build LVM metadata as if pvcreate/vgcreate/lvcreate (and whatever broke it) had run: used to
 * reproduce an incident's exact layout, which no sequence of sane commands would produce.
 * Validates that every segment fits its PV and no extent is used twice.
 */
export function buildState(spec: StateSpec): EmuState {
  const state = emptyState(spec.devRoot ?? '/dev', spec.hostname ?? 'localhost');
  const created = lvmTime(spec.creationTime ?? new Date());
  const dir = path.dirname(path.resolve(spec.statePath));
  for (const vgSpec of spec.vgs) {
    const extentBytes = vgSpec.extentBytes ?? DEFAULT_EXTENT_BYTES;
    const pvs = vgSpec.pvs.map((p) => pvFromSpec(p, vgSpec.name, extentBytes));
    state.pvs.push(...pvs);
    const used = new Set<string>();
    const lvs = vgSpec.lvs.map((lvSpec) => {
      const extents: ExtentRef[] = [];
      for (const seg of lvSpec.segments) {
        const pv = pvs[seg.pv];
        if (!pv) throw new Error(`LV ${lvSpec.name}: segment on PV #${seg.pv}, but VG ${vgSpec.name} has ${pvs.length} PVs`);
        if (seg.pe + seg.len > pv.peCount) throw new Error(`LV ${lvSpec.name}: extents ${seg.pe}..${seg.pe + seg.len - 1} do not fit the ${pv.peCount} extents of ${pv.device}`);
        for (let i = 0; i < seg.len; i++) {
          const key = `${pv.uuid}:${seg.pe + i}`;
          if (used.has(key)) throw new Error(`LV ${lvSpec.name}: extent ${seg.pe + i} of ${pv.device} is already used`);
          used.add(key);
          extents.push({ pv: pv.uuid, pe: seg.pe + i });
        }
      }
      return {
        name: lvSpec.name,
        uuid: newUuid(),
        creationHost: state.hostname,
        creationTime: created,
        segments: toSegments(extents),
        backingFile: lvSpec.backingFile ?? path.join(dir, 'lv', `${vgSpec.name}-${lvSpec.name}.img`),
        loopDevice: null,
      };
    });
    state.vgs.push({ name: vgSpec.name, uuid: newUuid(), extentBytes, seqno: 1, pvs: pvs.map((p) => p.uuid), lvs });
  }
  for (const o of spec.orphans ?? []) state.pvs.push(pvFromSpec(o, null, DEFAULT_EXTENT_BYTES));
  return state;
}

/** Write the LVM2 label of every PV in the state onto its device (as pvcreate did), so blkid sees LVM2_member. */
export function labelPvs(state: EmuState): void {
  for (const pv of state.pvs) writePvLabel(pv.device, pv.uuid, deviceSizeBytes(pv.device), pv.peStartBytes);
}
