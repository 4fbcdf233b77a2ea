import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities';
import { DEFAULT_ACTIVITY_OPTIONS } from '../workflows/engine/routing';

// The floor under a runbook step: the same activity (`true` on a lab host over the pooled SSH
// connection), with the same options, scheduled by a workflow with no engine at all (no audit, no
// step table, no search attributes, no tags). bench/engine-step-cost.ts runs it beside the engine's
// step, so the difference is what the engine's own bookkeeping costs and the rest is the platform's.

const acts = proxyActivities<typeof activities>({ ...DEFAULT_ACTIVITY_OPTIONS, startToCloseTimeout: '2 minutes' });

export async function bareSteps(input: { host: string; steps: number }): Promise<{ outcome: 'succeeded' }> {
  for (let step = 1; step <= input.steps; step++) await acts.drillTrue(input.host);
  return { outcome: 'succeeded' };
}
