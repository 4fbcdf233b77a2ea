// Where a runbook step's time goes, from the server's own event timestamps (history event times are
// written by the history service as it persists each event, so they include no client clock skew).
// One step of a sequential runbook is the cycle between two schedulings of the step's activity:
//
//   ActivityTaskScheduled ─dispatch─▶ ActivityTaskStarted ─run─▶ ActivityTaskCompleted
//     ─▶ WorkflowTaskScheduled ─dispatch─▶ WorkflowTaskStarted ─worker─▶ WorkflowTaskCompleted
//     ─▶ next ActivityTaskScheduled
//
// "activity dispatch" is transfer queue + matching + poll delivery (zero wait when the activity is
// dispatched eagerly: the worker gets it in the reply to its workflow task completion); "activity run"
// is the poll reply reaching the worker, the activity itself, its completion RPC and the persistence
// write; "workflow task on worker" is the task's delivery, the worker's activation, its completion RPC
// and the persistence write of the new commands.
import type { temporal } from '@temporalio/proto';
import { median, percentile } from './stats';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export const PHASES = [
  'activity dispatch',
  'activity run (incl. completion write)',
  'completion → workflow task scheduled',
  'workflow task dispatch',
  'workflow task on worker (incl. completion write)',
  'workflow task completed → next scheduled',
] as const;
export type Phase = (typeof PHASES)[number];

export interface StepProfile {
  /** Per-step cycle (scheduled to next scheduled), ms. */
  cycles: number[];
  phases: Record<Phase, number[]>;
  /** History events per step, by type, and workflow tasks per step. */
  eventsPerStep: Record<string, number>;
  workflowTasksPerStep: number;
}

function ms(e: HistoryEvent): number {
  return Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
}

function typeName(e: HistoryEvent): string {
  // EventType enum numbers → the attribute field that is set, which names the event.
  const key = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k]);
  return key ? key.replace(/EventAttributes$/, '') : String(e.eventType);
}

/** Profile the steps of a sequential run whose steps each schedule one `activityType`. */
export function profileSteps(events: HistoryEvent[], activityType: string): StepProfile {
  const byId = new Map<number, HistoryEvent>();
  for (const e of events) byId.set(Number(e.eventId), e);
  const scheduledIdx = events.flatMap((e, i) => (e.activityTaskScheduledEventAttributes?.activityType?.name === activityType ? [i] : []));
  const phases = Object.fromEntries(PHASES.map((p) => [p, [] as number[]])) as Record<Phase, number[]>;
  const cycles: number[] = [];
  const counts: Record<string, number> = {};
  let wfts = 0;
  for (let k = 0; k + 1 < scheduledIdx.length; k++) {
    const from = scheduledIdx[k];
    const to = scheduledIdx[k + 1];
    const slice = events.slice(from, to);
    for (const e of slice) counts[typeName(e)] = (counts[typeName(e)] ?? 0) + 1;
    wfts += slice.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    const scheduled = events[from];
    const schedId = Number(scheduled.eventId);
    const started = slice.find((e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === schedId);
    const completed = slice.find((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === schedId);
    // The first workflow task after the completion is the one that reacts to it.
    const completedAt = completed ? slice.indexOf(completed) : -1;
    const wftScheduled = slice.slice(completedAt + 1).find((e) => e.workflowTaskScheduledEventAttributes);
    const wftStarted = wftScheduled && slice.find((e) => Number(e.workflowTaskStartedEventAttributes?.scheduledEventId) === Number(wftScheduled.eventId));
    const wftCompleted = wftStarted && slice.find((e) => Number(e.workflowTaskCompletedEventAttributes?.startedEventId) === Number(wftStarted.eventId));
    if (!started || !completed || !wftScheduled || !wftStarted || !wftCompleted) continue;
    const next = events[to];
    cycles.push(ms(next) - ms(scheduled));
    phases['activity dispatch'].push(ms(started) - ms(scheduled));
    phases['activity run (incl. completion write)'].push(ms(completed) - ms(started));
    phases['completion → workflow task scheduled'].push(ms(wftScheduled) - ms(completed));
    phases['workflow task dispatch'].push(ms(wftStarted) - ms(wftScheduled));
    phases['workflow task on worker (incl. completion write)'].push(ms(wftCompleted) - ms(wftStarted));
    phases['workflow task completed → next scheduled'].push(ms(next) - ms(wftCompleted));
  }
  const n = Math.max(1, scheduledIdx.length - 1);
  const eventsPerStep = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / n]));
  return { cycles, phases, eventsPerStep, workflowTasksPerStep: wfts / n };
}

/**
 * Profile the quick steps of a sequential run (local activities of `activityType`): they leave no
 * activity events, only a marker each, written when the workflow task completes, whose data holds
 * when the worker scheduled and completed the activity. One step is the cycle between two
 * schedulings, as for profileSteps; the phases are not split (they happen inside one workflow task).
 */
export function profileLocalSteps(events: HistoryEvent[], activityType: string): StepProfile {
  const scheduledAt: number[] = [];
  for (const e of events) {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_local_activity') continue;
    const raw = m.details?.data?.payloads?.[0]?.data;
    if (!raw) continue;
    const data = JSON.parse(Buffer.from(raw).toString()) as { activity_type?: string; original_schedule_time?: { seconds: number; nanos: number } };
    const t = data.original_schedule_time;
    if (data.activity_type === activityType && t) scheduledAt.push(t.seconds * 1000 + t.nanos / 1e6);
  }
  const cycles = scheduledAt.slice(1).map((t, k) => t - scheduledAt[k]);
  const phases = Object.fromEntries(PHASES.map((p) => [p, [] as number[]])) as Record<Phase, number[]>;
  return { cycles, phases, eventsPerStep: { MarkerRecorded: 1 }, workflowTasksPerStep: 0 };
}

/** A markdown table of the phases' medians and p90s (their medians need not add up to the cycle's). */
export function phaseTable(profiles: { label: string; profile: StepProfile }[]): string[] {
  const head = `| phase | ${profiles.map((p) => `${p.label} median | p90`).join(' | ')} |`;
  const rule = `|---|${profiles.map(() => '---|---').join('|')}|`;
  const fmt = (xs: number[]) => (xs.length ? xs : [NaN]);
  const row = (name: string, pick: (p: StepProfile) => number[]) =>
    `| ${name} | ${profiles.map((p) => `${median(fmt(pick(p.profile))).toFixed(1)} | ${percentile(fmt(pick(p.profile)), 90).toFixed(1)}`).join(' | ')} |`;
  return [head, rule, ...PHASES.map((ph) => row(ph, (p) => p.phases[ph])), row('**step (scheduled → next scheduled)**', (p) => p.cycles)];
}
