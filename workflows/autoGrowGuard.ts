import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import { MiB } from '../activities/lvm/commands';
import type { VolumeSample } from '../activities/lvm/extend';
import type * as engineActivities from '../activities/engine';
import { autoGrowGuardInputSchema, type AutoGrowGuardInput, type GuardCarry } from '../runbooks/autoGrowGuard/schema';
import type { AuditLog, StepRecord } from '../common/audit';
import { renderDetails } from './engine/details';
import { parseRunbookInput } from './engine/input';
import { auditQuery } from './engine/messages';
import { commandRecordsOf, describeError } from './engine/retry';
import { RunbookName, RunbookOutcome, RunbookTargets } from './engine/search-attributes';
import { decideExtension } from './readonlyData/guard-policy';

/**
 * autoGrowGuard: keeps one volume from filling up (the incident's "automatically expand the volume
 * by 500M any time it gets close to full"), without its bash loop's faults. It samples on a durable
 * timer instead of busy-spinning; it watches exactly one mount; it extends to an absolute target (LV
 * size + step), so a retried extension is not applied twice; it never passes its ceiling or the VG's
 * free extents, and when it cannot extend it says so once in its details and audit and keeps
 * watching instead of exiting; every extension is in its audit; continue-as-new keeps its history
 * small. Its workflow id autogrow/<host>/<vg>/<lv> makes it one per volume.
 */

export interface GuardStatus {
  host: string;
  volume: string;
  mountPoint: string;
  thresholdPercent: number;
  stepMiB: number;
  ceilingMiB: number | null;
  intervalSeconds: number;
  generation: number;
  samples: number;
  extensions: number;
  lastSample: VolumeSample | null;
  blocked: GuardCarry['blocked'];
}

export const guardStatusQuery = defineQuery<GuardStatus>('guardStatus');

/** Audit records kept across continue-as-new (newest last). */
const KEPT_STEPS = 100;

function nowIso(): string {
  return new Date(Date.now()).toISOString();
}

export async function autoGrowGuard(rawInput: unknown): Promise<never> {
  const input: AutoGrowGuardInput = parseRunbookInput('autoGrowGuard', autoGrowGuardInputSchema, rawInput);
  const { host, vg, lv, mountPoint } = input;
  const info = workflowInfo();
  const carry: GuardCarry = input.carry ?? { startedAt: nowIso(), generation: 0, samples: 0, extensions: 0, steps: [], blocked: null, lastSample: null };
  const audit: AuditLog = {
    runbook: 'autoGrowGuard',
    workflowId: info.workflowId,
    runId: info.runId,
    mode: 'apply',
    targets: [host],
    outcome: 'running',
    startedAt: carry.startedAt,
    steps: carry.steps as StepRecord[],
    refusedApprovals: [],
    planned: [],
  };
  let seq = audit.steps.at(-1)?.seq ?? 0;
  const status = (): GuardStatus => ({
    host,
    volume: `${vg}/${lv}`,
    mountPoint,
    thresholdPercent: input.thresholdPercent,
    stepMiB: input.stepMiB,
    ceilingMiB: input.ceilingMiB ?? null,
    intervalSeconds: input.intervalSeconds,
    generation: carry.generation,
    samples: carry.samples,
    extensions: carry.extensions,
    lastSample: carry.lastSample as VolumeSample | null,
    blocked: carry.blocked,
  });
  setHandler(auditQuery, () => audit, { description: 'Every extension, refusal and failure of this guard (the last 100, across continue-as-new).' });
  setHandler(guardStatusQuery, status, { description: 'Settings, counters, the last sample and whether the guard is blocked.' });
  upsertSearchAttributes([
    { key: RunbookName, value: 'autoGrowGuard' },
    { key: RunbookTargets, value: [host] },
    { key: RunbookOutcome, value: 'running' },
  ]);

  const render = () => {
    const s = carry.lastSample as VolumeSample | null;
    const head = [
      `**autoGrowGuard** ${vg}/${lv} on ${host}:${mountPoint}: extends by ${input.stepMiB} MiB at ${input.thresholdPercent}%${input.ceilingMiB ? `, ceiling ${input.ceilingMiB} MiB` : ''}, every ${input.intervalSeconds}s`,
      '',
      s
        ? `Last sample ${s.at}: ${s.usage.usePercent}% used of ${Math.round(s.usage.sizeBytes / MiB)} MiB; LV ${s.lvBytes / MiB} MiB; VG free ${s.vgFreeExtents} extents. ${carry.samples} samples, ${carry.extensions} extensions (run ${carry.generation + 1}).`
        : 'No sample yet.',
      ...(carry.blocked ? ['', `> ⚠ **Cannot extend** since ${carry.blocked.since}: ${carry.blocked.reason}`] : []),
      '',
    ];
    setCurrentDetails(head.join('\n') + renderDetails(audit));
  };
  const record = (r: Omit<StepRecord, 'seq' | 'attempts' | 'commands' | 'host'> & Partial<Pick<StepRecord, 'commands'>>) => {
    const step: StepRecord = { seq: ++seq, host, attempts: [], commands: [], ...r };
    audit.steps.push(step);
    if (audit.steps.length > KEPT_STEPS) audit.steps.splice(0, audit.steps.length - KEPT_STEPS);
    render();
    return step;
  };

  // Activities go where the host's site says (as for every runbook), found once per run.
  const engine = proxyActivities<typeof engineActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 5 } });
  const [described] = (await engine.describeHosts([host])).value;
  const taskQueue = described?.site ? `site-${described.site}` : undefined;
  const sampler = proxyActivities<typeof activities>({ taskQueue, startToCloseTimeout: '2 minutes', heartbeatTimeout: '10 seconds', retry: { maximumAttempts: 3, initialInterval: '500 milliseconds' } });
  // Extensions are not retried by Temporal: a failed one is audited and tried again later, after a backoff.
  const extender = proxyActivities<typeof activities>({ taskQueue, startToCloseTimeout: '30 minutes', heartbeatTimeout: '10 seconds', retry: { maximumAttempts: 1 } });

  const policy = { thresholdPercent: input.thresholdPercent, stepBytes: input.stepMiB * MiB, ceilingBytes: input.ceilingMiB ? input.ceilingMiB * MiB : null };
  let lastFailure = '';
  let failures = 0;
  let samplesThisRun = 0;
  render();
  try {
    for (;;) {
      let pause = input.intervalSeconds * 1000;
      try {
        const sampled = await sampler.sampleVolume(host, vg, lv, mountPoint);
        const s = sampled.value;
        carry.lastSample = s;
        carry.samples++;
        samplesThisRun++;
        const d = decideExtension(s, policy);
        if (d.action === 'none') {
          if (carry.blocked) record({ name: 'unblocked', kind: 'inspect', status: 'completed', startedAt: nowIso(), endedAt: nowIso(), summary: `usage ${s.usage.usePercent}% is below ${input.thresholdPercent}% again` });
          carry.blocked = null;
        } else if (d.action === 'blocked') {
          if (carry.blocked?.key !== d.key) {
            // Said once per situation; no lvextend is attempted until the LV, the VG or the ceiling changes.
            record({ name: 'cannot-extend', kind: 'inspect', status: 'failed', startedAt: s.at, endedAt: nowIso(), summary: d.reason, commands: sampled.commands });
            carry.blocked = { reason: d.reason, since: s.at, key: d.key };
          }
        } else {
          const started = nowIso();
          const step = record({ name: 'extend', kind: 'mutate', status: 'running', startedAt: started, description: d.reason });
          const out = await extender.extendVolume(host, vg, lv, mountPoint, d.targetBytes);
          step.commands.push(...out.commands);
          step.status = 'completed';
          step.endedAt = nowIso();
          step.durationMs = Date.parse(step.endedAt) - Date.parse(s.at);
          step.summary = `${d.reason}; ${out.value.detail}; ${step.durationMs} ms from the sample to the grown filesystem`;
          carry.extensions += out.value.changed ? 1 : 0;
          carry.blocked = null;
          pause = 0; // look again at once: the writes have not stopped
        }
        failures = 0;
        lastFailure = '';
        render();
      } catch (err) {
        if (isCancellation(err)) throw err;
        failures++;
        const e = describeError(err);
        const running = audit.steps.at(-1);
        if (running?.status === 'running') {
          running.status = 'failed';
          running.endedAt = nowIso();
          running.summary = `${running.description ?? ''}; failed: ${e.message}`;
          running.commands.push(...commandRecordsOf(err));
        } else if (e.message !== lastFailure) {
          record({ name: 'sample-failed', kind: 'inspect', status: 'failed', startedAt: nowIso(), endedAt: nowIso(), summary: e.message });
        }
        lastFailure = e.message;
        // Back off on repeated failures rather than hammering a sick host (the bash loop either spun or exited).
        pause = Math.min(300_000, input.intervalSeconds * 1000 * 2 ** Math.min(failures, 10));
        render();
      }
      if (samplesThisRun >= input.samplesPerRun || workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof autoGrowGuard>({ ...input, carry: { ...carry, generation: carry.generation + 1, steps: audit.steps } });
      }
      if (pause > 0) await sleep(pause);
    }
  } catch (err) {
    if (isCancellation(err)) {
      audit.outcome = 'cancelled';
      audit.endedAt = nowIso();
      upsertSearchAttributes([{ key: RunbookOutcome, value: 'cancelled' }]);
      render();
    }
    throw err;
  }
}
