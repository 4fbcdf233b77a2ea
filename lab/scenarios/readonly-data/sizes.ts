import type { ScenarioOptions } from '../types';

// The incident's numbers (seed 002) and their scaled-down lab versions. Everything a runbook's
// example input or a test needs to agree with the scenario comes from here, so a scale change
// moves them all together. Sizes are powers of 1024 (LVM's MiB), as the operators' commands meant.

export const MiB = 1024 * 1024;
export const EXTENT_BYTES = 4 * MiB;

/** The lab host of this scenario. */
export const HOST = { name: 'object-store', address: '127.0.0.21' } as const;
export const OBJECT_SERVICE_PORT = 8000;
export const VG_NAME = 'vg0';
export const LV_NAME = 'data0';
export const MOUNT_POINT = '/data';
/** Where the disk images live: the small root-like filesystem of the incident. */
export const MEDIA_DIR = '/media';
/** How many PVs the healthy VG has ("Set up the vg0 VG with four 1800MB disks"). */
export const PV_COUNT = 4;

/** Scale factor of the default (fast) build; full size is 1. */
export const DEFAULT_SCALE = 8;

/** The seed at full size. */
const FULL = {
  diskMiB: 1800,
  targetMiB: 4096,
  growStepMiB: 500,
  fillFileMiB: 100,
  /** PV extents of the incident's layout: loop2's PV is 1020 MiB (255 extents). */
  shortPvExtents: 255,
  /** loop1's PV: 194 extents after a data offset of ~1 GiB; data0's last 13 extents are on it. */
  offsetPvExtents: 194,
  offsetPvUsedExtents: 13,
  /** Objects under /data/objects: "628M used" in the seed's df. */
  objectsMiB: 628,
  objectCount: 4000,
  /** The fill test's write rate, MB/s: 0, back to back at the disk's full speed. */
  fillRateMBps: 0,
};

export interface ReadonlyDataSizes {
  scale: number;
  extentBytes: number;
  /** Each disk image (1800 MB at full size). */
  diskBytes: number;
  /** Extents of a PV spanning a disk with the normal 1 MiB data offset. */
  diskExtents: number;
  /** The size data0 must reach (4G at full size). */
  targetBytes: number;
  /** The same as an lvextend -L argument ("4G", or "512M" scaled). */
  targetSize: string;
  /** The auto-grow step (500M at full size) as bytes and as an lvextend -L argument. */
  growStepBytes: number;
  growStep: string;
  /** The fill test's file size (100 MB at full size) and the filesystem size it must reach (1.5x target). */
  fillFileBytes: number;
  fillGoalBytes: number;
  fillRateMBps: number;
  /** The broken layout: loop2-like short PV, loop1-like PV with a ~1 GiB data offset. */
  shortPvExtents: number;
  offsetPvPeStartBytes: number;
  offsetPvExtents: number;
  offsetPvUsedExtents: number;
  /** data0's size in the broken state (2.80g at full size). */
  brokenLvExtents: number;
  objectsBytes: number;
  objectCount: number;
}

export function scaleOf(opts: Pick<ScenarioOptions, 'fullSize'>): number {
  return opts.fullSize ? 1 : DEFAULT_SCALE;
}

/** A size in MiB as LVM's -L takes it: "4G" when whole GiB, else "<n>M". */
export function lvmSizeArg(bytes: number): string {
  if (bytes % (1024 * MiB) === 0) return `${bytes / (1024 * MiB)}G`;
  return `${Math.round(bytes / MiB)}M`;
}

export function readonlyDataSizes(opts: Pick<ScenarioOptions, 'fullSize'>): ReadonlyDataSizes {
  const scale = scaleOf(opts);
  const mib = (full: number) => Math.round(full / scale) * MiB;
  const diskBytes = mib(FULL.diskMiB);
  const diskExtents = Math.floor((diskBytes - MiB) / EXTENT_BYTES);
  const offsetPvExtents = Math.round(FULL.offsetPvExtents / scale);
  // Chosen so that pe_count comes out as offsetPvExtents and pvdisplay's "not usable" is ~1 GiB/scale
  // (1023 MiB at full size: 1800 - 776 - 1).
  const offsetPvPeStartBytes = diskBytes - offsetPvExtents * EXTENT_BYTES - MiB;
  const shortPvExtents = Math.round(FULL.shortPvExtents / scale);
  const offsetPvUsedExtents = Math.max(1, Math.round(FULL.offsetPvUsedExtents / scale));
  const targetBytes = mib(FULL.targetMiB);
  const growStepBytes = mib(FULL.growStepMiB);
  return {
    scale,
    extentBytes: EXTENT_BYTES,
    diskBytes,
    diskExtents,
    targetBytes,
    targetSize: lvmSizeArg(targetBytes),
    growStepBytes,
    growStep: lvmSizeArg(growStepBytes),
    fillFileBytes: Math.round((FULL.fillFileMiB * MiB) / scale),
    fillGoalBytes: Math.round(targetBytes * 1.5),
    fillRateMBps: FULL.fillRateMBps,
    shortPvExtents,
    offsetPvPeStartBytes,
    offsetPvExtents,
    offsetPvUsedExtents,
    brokenLvExtents: diskExtents + shortPvExtents + offsetPvUsedExtents,
    objectsBytes: mib(FULL.objectsMiB),
    objectCount: Math.round(FULL.objectCount / scale),
  };
}
