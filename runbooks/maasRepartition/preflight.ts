import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { maasInspectMachine } from '../../activities/maas/machine';
import { describeIssues } from '../../common/input';
import { refusalsAfterInspection, type JudgedInput } from './refusals';
import { maasRepartitionInputSchema } from './schema';

// maasRepartition's pre-flight, run by a starter (`runbook start`, cli/preflights.ts) before it
// starts anything: the input's static problems AND those only MAAS can tell (an unknown machine or
// disk, partitions that do not fit the real disk, a machine MAAS cannot commission now), every one,
// from one read-only inspection. It asks MAAS through the same client and the same inventory entry
// (URL, API key file or variable) as the worker's activities; the key never comes from the input.
// NOT imported by workflow code: workflows are bundled into a sandbox without node:http. A run
// started without it (the Web UI, --no-preflight) refuses the same problems in its first steps.

/** The pre-flight could not ask MAAS (unreachable, no inventory entry or key here): it judged nothing. */
export class PreflightUnavailable extends Error {}

export async function maasRepartitionPreflight(input: Record<string, unknown>): Promise<string[]> {
  const schema = maasRepartitionInputSchema;
  const parsed = schema.safeParse(input);
  const problems = parsed.success ? [] : describeIssues(parsed.error);
  // What the machine-dependent judgement needs, each part on its own: an input invalid elsewhere
  // (a bad pool name, a metacharacter in the script name) is still judged against the machine.
  const field = <K extends keyof typeof schema.shape>(k: K) => {
    const r = schema.shape[k].safeParse(input[k]);
    return r.success ? (r.data as z.output<(typeof schema.shape)[K]>) : undefined;
  };
  const maas = field('maas');
  const machine = field('machine');
  const disk = field('disk');
  const strategy = field('strategy');
  if (maas === undefined || machine === undefined || disk === undefined || strategy === undefined) return problems; // MAAS cannot be asked about it
  const pools = parsed.success ? parsed.data.pools : Array.isArray(input.pools) ? input.pools.map((_, k) => ({ name: `pool${k + 1}`, mountpoint: `/pool${k + 1}` })) : [];
  const judged: JudgedInput = { disk, strategy, pools, partitions: field('partitions') };
  if (pools.length === 0) return problems; // "pools" is a problem already; the partitions cannot be planned

  let view;
  try {
    view = (await maasInspectMachine(maas, machine, disk)).value;
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === 'UnknownMachine') return [...problems, `machine: ${err.message}`];
    throw new PreflightUnavailable(`the pre-flight could not ask MAAS ${maas} about ${machine}: ${(err as Error).message}`);
  }
  return [...problems, ...refusalsAfterInspection(judged, view).map((r) => r.message)];
}
