import { allHandlersFinished, ApplicationFailure, condition, continueAsNew, defineQuery, isCancellation, setHandler, sleep, TimeoutFailure, ActivityFailure, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities';
import { MiB, storageCommands as c } from '../activities/lvm/commands';
import type { VolumeSample } from '../activities/lvm/extend';
import type { GuardExtension, WatchHeartbeat, WatchResult, WatchSettings } from '../activities/lvm/watch';
import { autoGrowGuardDefinition } from '../runbooks/autoGrowGuard/definition';
import { guardCarrySchema, KEPT_STEPS, type AutoGrowGuardInput, type GuardCarry } from '../runbooks/autoGrowGuard/schema';
import { Runbook, type CarriedAudit, type RunbookResult } from './engine/runbook';
import type { CommandRecord } from '../common/step';

/**
 * autoGrowGuard: keeps one volume from filling up (the incident's "automatically expand the volume by
 * 500M any time it gets close to full"), even under a writer at the disk's full speed. A workflow
 * timer cannot react fast enough for that (20% of a 512 MiB filesystem is under a second of writes),
 * so the watching is a host-side loop: each step of this runbook is one watch window, a long
 * heartbeating activity that streams usage every pollMs and extends the LV itself, to absolute
 * sizes sized from the observed fill rate and the measured time of one grow (see
 * activities/lvm/guard-policy.ts). The workflow records each window (its extensions with their
 * commands) and reports once when it cannot extend (ceiling reached, VG out of space). It runs on
 * the engine like every runbook: plan mode, audit, routing to the host's site, search attributes.
 * It continues as new every windowsPerRun windows, carrying its audit (guardCarrySchema).
 */

export interface GuardStatus {
  host: string;
  volume: string;
  mountPoint: string;
  thresholdPercent: number;
  stepMiB: number;
  ceilingMiB: number | null;
  pollMs: number;
  windowSeconds: number;
  /** Runs before this one (continue-as-new), windows, usage lines and extensions since the guard began. */
  generation: number;
  windows: number;
  samples: number;
  extensions: number;
  grownMiB: number;
  peakFillMBps: number;
  lastSample: VolumeSample | null;
  blocked: GuardCarry['blocked'];
}

export const guardStatusQuery = defineQuery<GuardStatus>('guardStatus');

export interface GuardPlan {
  watch: string;
  nextExtension: string | null;
}

/** The audit that earlier runs of this guard carried over (the engine puts it first). */
function carriedAudit(raw: unknown): CarriedAudit | undefined {
  const carry = guardCarrySchema.safeParse((raw as { carry?: unknown } | null)?.carry);
  return carry.success ? { startedAt: carry.data.startedAt, steps: carry.data.steps } : undefined;
}

/**
 * A watcher whose worker died leaves its extensions only in its last heartbeat: turn them into
 * command records on a retryable failure, so the audit keeps them.
 */
function withLostExtensions(err: unknown, host: string, vg: string, lv: string): unknown {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof TimeoutFailure)) return err;
  const beat = err.cause.lastHeartbeatDetails as WatchHeartbeat | undefined;
  if (!beat?.extensions?.length) return err;
  const commands: CommandRecord[] = beat.extensions.map((x) => ({
    host,
    command: c.extendTo(vg, lv, x.toBytes / MiB).display,
    exitCode: 0,
    startedAt: x.at,
    durationMs: x.growMs,
    stdoutTail: `(from the last heartbeat of the watcher: ${x.reason})`,
    stderrTail: '',
    truncated: false,
  }));
  return ApplicationFailure.create({ message: `the watcher was lost (${err.cause.message}) after ${commands.length} extension(s)`, type: 'WatcherLost', details: commands });
}

function describeWindow(w: WatchResult): string {
  const last = w.last ? `${w.last.usage.usePercent}% used of ${Math.round(w.last.usage.sizeBytes / MiB)} MiB` : 'no sample';
  const pace = `peak fill ${w.peakFillMBps} MB/s, longest gap between samples ${w.maxGapMs} ms`;
  if (w.extensions.length) {
    const sizes = [w.extensions[0].fromBytes, ...w.extensions.map((x) => x.toBytes)].map((b) => b / MiB).join(' -> ');
    const grows = w.extensions.map((x) => x.growMs).join('/');
    return `${w.extensions.length} extension${w.extensions.length === 1 ? '' : 's'}: ${sizes} MiB (grow ${grows} ms); ${last}; ${pace}`;
  }
  return `no extension needed in ${w.seconds} s (${w.samples} samples); ${last}; ${pace}`;
}

export async function autoGrowGuard(rawInput: unknown): Promise<RunbookResult<GuardPlan>> {
  return Runbook.run(autoGrowGuardDefinition, rawInput, (rb, input) => guard(rb, input), { carried: carriedAudit });
}

async function guard(rb: Runbook<AutoGrowGuardInput>, input: AutoGrowGuardInput): Promise<GuardPlan> {
  const { host, vg, lv, mountPoint } = input;
  const carry: GuardCarry = input.carry ?? {
    startedAt: rb.audit.startedAt,
    generation: 0,
    windows: 0,
    samples: 0,
    extensions: 0,
    grownBytes: 0,
    peakFillMBps: 0,
    blocked: null,
    lastSample: null,
    steps: [],
  };
  const carriedSeqs = new Set(carry.steps.map((s) => s.seq));
  /** Steps of this run worth carrying: windows that extended, reports, failures. */
  const worthKeeping = new Set<number>();
  setHandler(
    guardStatusQuery,
    (): GuardStatus => ({
      host,
      volume: `${vg}/${lv}`,
      mountPoint,
      thresholdPercent: input.thresholdPercent,
      stepMiB: input.stepMiB,
      ceilingMiB: input.ceilingMiB ?? null,
      pollMs: input.pollMs,
      windowSeconds: input.windowSeconds,
      generation: carry.generation,
      windows: carry.windows,
      samples: carry.samples,
      extensions: carry.extensions,
      grownMiB: carry.grownBytes / MiB,
      peakFillMBps: carry.peakFillMBps,
      lastSample: carry.lastSample,
      blocked: carry.blocked,
    }),
    { description: 'Settings, lifetime counters (across continue-as-new), the last sample and whether the guard is blocked.' },
  );

  let lastPace: WatchSettings['startPace'] = { fillMBps: 0, growMs: null };
  const reader = rb.on<typeof activities>(host, { startToCloseTimeout: '2 minutes' });
  // One window is one activity: it heartbeats every usage line, so a dead worker is noticed in 5 s.
  const watcher = rb.on<typeof activities>(host, { startToCloseTimeout: `${input.windowSeconds + 600} seconds`, heartbeatTimeout: '5 seconds' });
  const settings = (): WatchSettings => ({
    thresholdPercent: input.thresholdPercent,
    stepMiB: input.stepMiB,
    ceilingMiB: input.ceilingMiB ?? null,
    pollMs: input.pollMs,
    windowSeconds: input.windowSeconds,
    maxExtensions: 200,
    quietAfterExtensionMs: 2_000, // after the rate has decayed below 1 MB/s (about 4 s after a fast writer stops)
    startPace: lastPace,
    blockedKey: carry.blocked?.key ?? null,
  });

  // Where the volume stands now: the operator's first reading, and the basis of the plan.
  const first = await rb.inspect({
    name: 'sample-volume',
    host,
    description: `read ${vg}/${lv}, its VG and the usage of ${mountPoint}`,
    retry: { maximumAttempts: 3, initialIntervalMs: 500 },
    run: () => reader.sampleVolume(host, vg, lv, mountPoint),
    summarize: (s) => `${s.usage.usePercent}% used of ${Math.round(s.usage.sizeBytes / MiB)} MiB; LV ${s.lvBytes / MiB} MiB; VG free ${(s.vgFreeExtents * s.extentBytes) / MiB} MiB`,
  });
  carry.lastSample = first;
  const nextTarget = Math.min(first.lvBytes + first.vgFreeExtents * first.extentBytes, Math.ceil((first.lvBytes + input.stepMiB * MiB) / first.extentBytes) * first.extentBytes);
  const watchCommand = c.watchUsage(mountPoint, input.pollMs, input.windowSeconds).display;
  const extendCommand = nextTarget > first.lvBytes ? c.extendTo(vg, lv, nextTarget / MiB).display : null;
  const description =
    `watch ${mountPoint} every ${input.pollMs} ms for ${input.windowSeconds} s; at ${input.thresholdPercent}% used, or sooner when its free space would not outlast ` +
    `two grows at the observed fill rate, extend ${vg}/${lv} to an absolute size (at least ${input.stepMiB} MiB more${input.ceilingMiB ? `, never past ${input.ceilingMiB} MiB` : ''}), with its filesystem`;

  if (rb.planning) {
    await rb.mutate({
      name: 'watch',
      host,
      description,
      plan: () => [watchCommand, ...(extendCommand ? [extendCommand] : [])],
      run: () => watcher.watchVolume(host, vg, lv, mountPoint, settings()),
    });
    return { watch: watchCommand, nextExtension: extendCommand };
  }

  let failures = 0;
  for (let window = 0; ; window++) {
    if (window >= input.windowsPerRun || workflowInfo().continueAsNewSuggested) {
      const kept = rb.audit.steps.filter((s) => carriedSeqs.has(s.seq) || worthKeeping.has(s.seq)).slice(-KEPT_STEPS);
      await condition(allHandlersFinished);
      await continueAsNew<typeof autoGrowGuard>({ ...input, carry: { ...carry, generation: carry.generation + 1, steps: kept } });
    }
    const seqBefore = rb.audit.steps.at(-1)?.seq ?? 0;
    try {
      const w = await rb.mutate({
        name: 'watch',
        host,
        description,
        plan: () => [watchCommand],
        run: async () => {
          try {
            return await watcher.watchVolume(host, vg, lv, mountPoint, settings());
          } catch (err) {
            throw withLostExtensions(err, host, vg, lv);
          }
        },
        retry: { maximumAttempts: 3, initialIntervalMs: 500, maximumIntervalMs: 5_000 },
        summarize: describeWindow,
      });
      const result = w!;
      failures = 0;
      carry.windows++;
      carry.samples += result.samples;
      carry.extensions += result.extensions.length;
      carry.grownBytes += result.extensions.reduce((n, x: GuardExtension) => n + x.toBytes - x.fromBytes, 0);
      carry.peakFillMBps = Math.max(carry.peakFillMBps, result.peakFillMBps);
      if (result.last) carry.lastSample = result.last;
      lastPace = result.endPace;
      const step = rb.audit.steps.at(-1)!;
      if (result.extensions.length || step.attempts.length > 1) worthKeeping.add(step.seq);
      if (result.blocked && result.blocked.key !== carry.blocked?.key) {
        // Said once per situation; the watcher keeps watching and says nothing more until it changes.
        const report = result.blocked;
        await rb.inspect({
          name: 'cannot-extend',
          host,
          description: 'the guard cannot extend the volume any further',
          run: async () => ({ value: report, commands: [] }),
          summarize: (b) => b.reason,
        });
        worthKeeping.add(rb.audit.steps.at(-1)!.seq);
      }
      // The same situation keeps its first report (and its time); a new one, or none, replaces it.
      carry.blocked = result.blocked && result.blocked.key === carry.blocked?.key ? carry.blocked : result.blocked;
    } catch (err) {
      if (isCancellation(err)) throw err;
      // The failed window is in the audit with its attempts; back off before the next, never exit.
      for (const s of rb.audit.steps) if (s.seq > seqBefore) worthKeeping.add(s.seq);
      failures++;
      await sleep(Math.min(300_000, 1000 * 2 ** Math.min(failures, 9)));
    }
  }
}
