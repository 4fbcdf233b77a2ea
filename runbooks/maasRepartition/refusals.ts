import type { MachineView } from '../../activities/maas/machine';
import { layoutMismatches } from './judge';
import { computeLayout } from './layout';
import type { MaasRepartitionInput } from './schema';

// What keeps a run from starting on this machine, judged from MAAS's answer to the read-only
// inspection: the disk, whether the requested partitions fit its real size, and (when the machine
// must be repartitioned) whether MAAS can commission it now. Every problem, for the operator, each
// saying what to do. Pure: the workflow refuses with it after `inspect-machine`, and the CLI's
// pre-flight (preflight.ts) says the same before it starts anything.

export interface Refusal {
  /** The ApplicationFailure type the workflow fails with when this is the only problem. */
  type: string;
  message: string;
}

/**
 * The inputs the judgement reads. A pre-flight of an input that is invalid elsewhere may lack the
 * partitions (they did not parse: that is a problem of its own, and the fit cannot be judged).
 */
export type JudgedInput = Pick<MaasRepartitionInput, 'disk' | 'pools' | 'strategy'> & { partitions?: MaasRepartitionInput['partitions'] };

export function refusalsAfterInspection(i: JudgedInput, m: MachineView): Refusal[] {
  if (!m.disk) return [{ type: 'UnknownDisk', message: `${m.hostname} has no disk ${i.disk} in MAAS; pick one of the disks \`maas <profile> block-devices read ${m.systemId}\` lists` }];
  if (i.strategy === 'loop-files') {
    // Pools on files of the running host: no MAAS operation, so only a deployed machine matters.
    return m.status === 'Deployed' ? [] : [{ type: 'NotDeployed', message: `strategy loop-files needs a deployed machine; ${m.hostname} is ${m.status} in MAAS` }];
  }
  const out: Refusal[] = [];
  const partitions = i.partitions;
  const { layout, problems } = partitions
    ? computeLayout({ ...i, partitions }, { name: m.disk.name, size: m.disk.size, biosBootMethod: m.biosBootMethod, architecture: m.architecture })
    : { layout: undefined, problems: [] };
  for (const p of problems) out.push({ type: 'LayoutDoesNotFit', message: `the requested partitions do not fit: ${p}` });
  // A deployed machine that has the partitions already needs no MAAS operation: nothing below applies.
  if (m.status === 'Deployed' && layout && layoutMismatches(m.disk, layout).length === 0) return out;
  if (!['Deployed', 'Allocated', 'Ready', 'New', 'Failed commissioning', 'Failed deployment', 'Broken'].includes(m.status)) {
    out.push({ type: 'MachineBusy', message: `${m.hostname} is ${m.status} in MAAS; wait until that operation ends (or abort it in MAAS), then run again` });
  }
  // Power (maas-runbook.md §5): without a BMC MAAS cannot start the machine. With `manual` the status
  // still changes, then nothing happens until someone PXE-boots it or node_timeout (30 min) fails
  // it; with none, MAAS refuses to commission.
  if (m.powerType === 'manual')
    out.push({
      type: 'ManualPower',
      message: `${m.hostname}'s power type in MAAS is manual: MAAS cannot power it on, so commissioning and deploying would wait for someone to PXE-boot it by hand until node_timeout (30 min) fails them. Configure its BMC in MAAS (power type ipmi, redfish, ...) and run again, or use strategy "loop-files" on the deployed machine`,
    });
  if (!m.powerType) out.push({ type: 'NoPowerType', message: `${m.hostname} has no power type in MAAS (MAAS refuses to commission it); configure its BMC, then run again` });
  if (m.status === 'Broken')
    out.push({ type: 'MachineBroken', message: `${m.hostname} is Broken in MAAS (${m.errorDescription || 'no reason given'}); mark it fixed after checking it, then run again` });
  return out;
}

/** The workflow's failure: the one problem as it is, or every problem, one per line. */
export function refusalText(hostname: string, refusals: Refusal[]): { message: string; type: string } {
  if (refusals.length === 1) return refusals[0];
  return { type: 'MaasRepartitionRefused', message: `${hostname}: ${refusals.length} problems, nothing was changed:\n${refusals.map((r) => `- ${r.message}`).join('\n')}` };
}
