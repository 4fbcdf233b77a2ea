import { MiB } from '../../activities/lvm/commands';
import type { VolumeSample } from '../../activities/lvm/extend';

// When and how far the auto-grow guard extends a volume. Pure: the guard workflow calls it on each
// sample, and tests and the benchmark can reason about it without a host.

export interface GuardPolicy {
  thresholdPercent: number;
  stepBytes: number;
  ceilingBytes: number | null;
}

export type GuardDecision =
  | { action: 'none' }
  | { action: 'extend'; targetBytes: number; steps: number; limitedBy: 'ceiling' | 'vg-free' | null; reason: string }
  | { action: 'blocked'; reason: string; key: string };

/** Use% as df shows it, if the filesystem grew by `growBytes` with the same data. */
function projectedPercent(s: VolumeSample, growBytes: number): number {
  const { usedBytes, availBytes } = s.usage;
  const total = usedBytes + availBytes + growBytes;
  return total === 0 ? 100 : Math.ceil((usedBytes * 100) / total);
}

export function decideExtension(s: VolumeSample, p: GuardPolicy): GuardDecision {
  if (s.usage.usePercent < p.thresholdPercent) return { action: 'none' };
  // One step normally; more when one would still leave it at the threshold (data arriving fast), so a
  // single extension makes room instead of a string of them chasing the writes.
  let steps = 1;
  while (steps < 64 && projectedPercent(s, steps * p.stepBytes) >= p.thresholdPercent) steps++;
  const wanted = Math.ceil((s.lvBytes + steps * p.stepBytes) / s.extentBytes) * s.extentBytes;
  const vgLimit = s.lvBytes + s.vgFreeExtents * s.extentBytes;
  const ceiling = p.ceilingBytes === null ? Infinity : Math.floor(p.ceilingBytes / s.extentBytes) * s.extentBytes;
  const limit = Math.min(vgLimit, ceiling);
  const limitedBy = wanted <= limit ? null : ceiling <= vgLimit ? 'ceiling' : 'vg-free';
  const target = Math.min(wanted, limit);
  const at = `${s.usage.usePercent}% used (threshold ${p.thresholdPercent}%)`;
  if (target <= s.lvBytes) {
    const reason =
      limitedBy === 'ceiling'
        ? `${at}, but the LV is already at its ceiling of ${ceiling / MiB} MiB: not extending; raise ceilingMiB or free space`
        : `${at}, but the VG has ${s.vgFreeExtents} free extents: cannot extend; add a disk to the VG`;
    // The same situation is reported once: it changes only when the LV, the VG or the ceiling does.
    return { action: 'blocked', reason, key: `${s.lvBytes}/${s.vgFreeExtents}/${ceiling}` };
  }
  return {
    action: 'extend',
    targetBytes: target,
    steps,
    limitedBy,
    reason: `${at}: ${s.lvBytes / MiB} -> ${target / MiB} MiB${limitedBy ? ` (capped by the ${limitedBy === 'ceiling' ? 'ceiling' : "VG's free extents"})` : ''}`,
  };
}
