import type { CommissioningEvidence, DiskView } from '../../activities/maas/machine';
import type { ComputedLayout } from './layout';

// How maasRepartition decides that MAAS really did what it says (maas-runbook.md §2-3): a NEW result
// set whose every result passed (an unreachable BMC reverts to Ready with Aborted results), no
// "Cannot apply custom layout" event (an unappliable layout still ends in Ready, with no layout), and
// the block devices as requested (no field says "custom"). Pure: the workflow calls it.

export interface Verdict {
  ok: boolean;
  problems: string[];
}

/** The partitions MAAS shows for the disk against the plan: numbers, sizes, filesystems, spares unused. */
export function layoutMismatches(disk: DiskView | null, layout: ComputedLayout): string[] {
  if (!disk) return ['the disk is gone from the machine'];
  const problems: string[] = [];
  if (disk.partitions.length !== layout.partitions.length) problems.push(`${disk.name} has ${disk.partitions.length} partitions, the layout has ${layout.partitions.length}`);
  for (const want of layout.partitions) {
    const got = disk.partitions.find((p) => p.index === want.index);
    const name = `${disk.name}-part${want.index}`;
    if (!got) {
      problems.push(`${name} (${want.role}) is missing`);
      continue;
    }
    if (got.size !== want.bytes) problems.push(`${name} is ${got.size} bytes, not ${want.bytes}`);
    if (want.role === 'spare' && (got.fstype !== null || got.usedFor !== 'Unused')) problems.push(`${name} should be an unused spare, MAAS says ${got.usedFor}`);
    if (want.role !== 'spare' && got.mount !== want.mount) problems.push(`${name} should be mounted at ${want.mount}, MAAS says ${got.usedFor}`);
  }
  return problems;
}

export function eventLines(ev: CommissioningEvidence): string[] {
  return ev.events.map((e) => `[${e.level}] ${e.type}: ${e.description}`);
}

export function judgeCommissioning(ev: CommissioningEvidence, previousSet: number | null, layout: ComputedLayout, scriptName: string): Verdict {
  const problems: string[] = [];
  const m = ev.machine;
  if (m.status !== 'Ready') problems.push(`commissioning ended in ${m.status}${m.errorDescription ? `: ${m.errorDescription}` : ''}`);
  if (ev.setId === null || ev.setId === previousSet) problems.push(`MAAS made no new commissioning result set (still ${String(previousSet)}): commissioning never ran`);
  else if (ev.setStatus !== 'Passed') {
    const bad = ev.results.filter((r) => r.status !== 'Passed').map((r) => `${r.name} ${r.status}${r.exitStatus !== null ? ` (exit ${r.exitStatus})` : ''}`);
    problems.push(`commissioning result set ${ev.setId} is ${ev.setStatus}: ${bad.join(', ')}`);
    if (ev.results.every((r) => r.status === 'Aborted')) problems.push('every result was Aborted: MAAS reverted the machine (unreachable BMC?)');
  }
  const cannot = ev.events.filter((e) => e.description.startsWith('Cannot apply custom layout'));
  if (cannot.length) problems.push(`MAAS could not apply the layout and left the machine without one: ${cannot.map((e) => e.description).join('; ')}`);
  if (!ev.results.some((r) => r.name === scriptName) && ev.setId !== previousSet) problems.push(`the script ${scriptName} did not run in set ${ev.setId}`);
  if (!problems.length) problems.push(...layoutMismatches(m.disk, layout).map((p) => `block devices do not match the layout: ${p}`));
  return { ok: problems.length === 0, problems };
}

/** The failure text an operator gets: what was wrong, then MAAS's events and the scripts' output. */
export function failureReport(what: string, verdicts: Verdict[], ev: CommissioningEvidence, scriptName: string): string {
  const out = ev.results.filter((r) => r.name === scriptName || r.name === '50-maas-01-commissioning' || r.status !== 'Passed');
  return [
    what,
    ...verdicts.map((v, k) => `attempt ${k + 1}: ${v.problems.join('; ')}`),
    'MAAS events:',
    ...eventLines(ev).map((l) => `  ${l}`),
    'script output:',
    ...out.map((r) => `  ${r.name} (${r.status}): ${`${r.stdoutTail}${r.stderrTail}`.trim().slice(-600) || '(no output)'}`),
  ].join('\n');
}
