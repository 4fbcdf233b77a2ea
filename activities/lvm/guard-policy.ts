import { MiB } from './commands';
import type { VolumeSample } from './extend';

// When and how far the auto-grow guard extends a volume. Pure: the guard's watcher calls it on each
// usage line, and tests and the benchmark can reason about it without a host.
//
// A fixed threshold alone loses to a fast writer: 20% of a 512 MiB filesystem is one second of
// writes at 100 MB/s, less than the time to notice and grow it. So the decision also uses the pace:
// how fast the filesystem is filling (observed) and how long one lvextend + filesystem grow takes
// (measured). It grows when the free space would not outlast two grows at the observed rate, and far
// enough that the room it adds outlasts several more. Targets stay absolute (LV size + steps).

export interface GuardPolicy {
  thresholdPercent: number;
  stepBytes: number;
  ceilingBytes: number | null;
}

/** How fast things happen on this volume right now. */
export interface GuardPace {
  /** Bytes per second the filesystem is filling (0 when it is not). */
  fillBytesPerSecond: number;
  /** Seconds one extension takes, from the decision to the grown filesystem. */
  growSeconds: number;
  /** Seconds between two usage lines. */
  pollSeconds: number;
}

export const IDLE_PACE: GuardPace = { fillBytesPerSecond: 0, growSeconds: 1, pollSeconds: 0.1 };

export type GuardDecision =
  { action: 'none' } | { action: 'extend'; targetBytes: number; steps: number; limitedBy: 'ceiling' | 'vg-free' | null; reason: string } | { action: 'blocked'; reason: string; key: string };

/** Bytes the writer adds before an extension decided now has grown the filesystem, with a safety factor of 2. */
export function bytesBeforeGrown(pace: GuardPace): number {
  return 2 * pace.fillBytesPerSecond * (pace.growSeconds + 2 * pace.pollSeconds);
}

/** Use% as df shows it, if the filesystem grew by `growBytes` while `moreUsedBytes` were written. */
function projectedPercent(s: VolumeSample, growBytes: number, moreUsedBytes: number): number {
  const { usedBytes, availBytes } = s.usage;
  const total = usedBytes + availBytes + growBytes;
  return total === 0 ? 100 : Math.ceil(((usedBytes + moreUsedBytes) * 100) / total);
}

function mib(bytes: number): string {
  return `${Math.round(bytes / MiB)} MiB`;
}

export function decideExtension(s: VolumeSample, p: GuardPolicy, pace: GuardPace = IDLE_PACE): GuardDecision {
  const race = bytesBeforeGrown(pace);
  const overThreshold = s.usage.usePercent >= p.thresholdPercent;
  const outrun = s.usage.availBytes < race;
  if (!overThreshold && !outrun) return { action: 'none' };
  // Enough steps that, after the writes that land while it grows, the filesystem is below the
  // threshold again and its free space outlasts two more grows: one extension makes room instead of
  // a string of them chasing the writes.
  const during = pace.fillBytesPerSecond * pace.growSeconds;
  let steps = 1;
  while (steps < 10_000 && (projectedPercent(s, steps * p.stepBytes, during) >= p.thresholdPercent || s.usage.availBytes + steps * p.stepBytes - during < 2 * race)) steps++;
  const wanted = Math.ceil((s.lvBytes + steps * p.stepBytes) / s.extentBytes) * s.extentBytes;
  const vgLimit = s.lvBytes + s.vgFreeExtents * s.extentBytes;
  const ceiling = p.ceilingBytes === null ? Infinity : Math.floor(p.ceilingBytes / s.extentBytes) * s.extentBytes;
  const limit = Math.min(vgLimit, ceiling);
  const limitedBy = wanted <= limit ? null : ceiling <= vgLimit ? 'ceiling' : 'vg-free';
  const target = Math.min(wanted, limit);
  const why = overThreshold
    ? `${s.usage.usePercent}% used (threshold ${p.thresholdPercent}%)`
    : `${mib(s.usage.availBytes)} free at ${Math.round(pace.fillBytesPerSecond / 1e6)} MB/s would not outlast growing (${Math.round(pace.growSeconds * 1000)} ms)`;
  if (target <= s.lvBytes) {
    const reason =
      limitedBy === 'ceiling'
        ? `${why}, but the LV is already at its ceiling of ${ceiling / MiB} MiB: not extending; raise ceilingMiB or free space`
        : `${why}, but the VG has ${s.vgFreeExtents} free extents: cannot extend; add a disk to the VG`;
    // The same situation is reported once: it changes only when the LV, the VG or the ceiling does.
    return { action: 'blocked', reason, key: `${s.lvBytes}/${s.vgFreeExtents}/${ceiling}` };
  }
  return {
    action: 'extend',
    targetBytes: target,
    steps,
    limitedBy,
    reason: `${why}: ${s.lvBytes / MiB} -> ${target / MiB} MiB${limitedBy ? ` (capped by the ${limitedBy === 'ceiling' ? 'ceiling' : "VG's free extents"})` : ''}`,
  };
}
