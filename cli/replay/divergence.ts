import type { RunEvent } from '../history/decode';
import { reconstructSteps } from '../retro/reconstruct';
import type { RetroStep } from '../retro/model';

export interface Divergence {
  /** The history event the new code could not match, when the error names one. */
  eventId?: number;
  eventType?: string;
  /** What that event was, e.g. "ActivityTaskScheduled drillDo" or "UpsertWorkflowSearchAttributes RunbookStep=step-2". */
  event?: string;
  /** The step that event belongs to (or, for an event of no step, the step before it). */
  step?: Pick<RetroStep, 'seq' | 'name' | 'host' | 'kind'>;
  /** True when the event is inside `step`, false when it only follows it. */
  insideStep?: boolean;
  /** The last step that had completed before the divergence: everything up to here replays the same. */
  lastCompletedStep?: Pick<RetroStep, 'seq' | 'name' | 'host' | 'kind'>;
}

// Core names the event it could not match: "... HistoryEvent(id: 22, ActivityTaskScheduled) ..." or
// "... event 22 ...". Different mismatches word it differently, so try the shapes we have seen.
const EVENT_ID_PATTERNS = [/HistoryEvent\(\s*id:\s*(\d+)/, /event[_ ]id[:=]?\s*(\d+)/i, /\bevent (\d+)\b/i];

export function divergenceEventId(message: string): number | undefined {
  for (const re of EVENT_ID_PATTERNS) {
    const m = re.exec(message);
    if (m) return Number(m[1]);
  }
  return undefined;
}

function describeEvent(e: RunEvent): string {
  if (e.activity) return `${e.type} ${e.activity.type}${e.summary ? ` (${e.summary})` : ''}`;
  if (e.type === 'UpsertWorkflowSearchAttributes' && e.searchAttributes) {
    return `${e.type} ${Object.entries(e.searchAttributes)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(' ')}`;
  }
  if (e.timer) return `${e.type}${e.summary ? ` (${e.summary})` : ''}`;
  if (e.update) return `${e.type} ${e.update.name ?? ''}`.trim();
  return e.type;
}

const pick = (s: RetroStep) => ({ seq: s.seq, name: s.name, host: s.host, kind: s.kind });

/** Map the event where a replay diverged back to the runbook step it belongs to. */
export function locateDivergence(events: RunEvent[], eventId: number | undefined): Divergence {
  const last = events.at(-1);
  const open = !last || !/^WorkflowExecution(Completed|Failed|Canceled|Terminated|TimedOut|ContinuedAsNew)$/.test(last.type);
  const { steps, stepOfEvent } = reconstructSteps(events, { open, planMode: false });
  const bySeq = new Map(steps.map((s) => [s.seq, s]));
  if (eventId === undefined) return {};
  const event = events.find((e) => e.id === eventId);
  const out: Divergence = { eventId, ...(event ? { eventType: event.type, event: describeEvent(event) } : {}) };
  const own = stepOfEvent.get(eventId);
  if (own !== undefined) {
    out.step = pick(bySeq.get(own)!);
    out.insideStep = true;
  } else {
    for (let id = eventId - 1; id > 0; id--) {
      const seq = stepOfEvent.get(id);
      if (seq !== undefined) {
        out.step = pick(bySeq.get(seq)!);
        out.insideStep = false;
        break;
      }
    }
  }
  const done = steps.filter((s) => s.status === 'completed' && s.events.last < eventId).at(-1);
  if (done) out.lastCompletedStep = pick(done);
  return out;
}

export function describeDivergence(d: Divergence): string {
  if (d.eventId === undefined) return 'the step where it diverged could not be found';
  const step = d.step ? `step #${d.step.seq} ${d.step.name}${d.step.host ? ` @${d.step.host}` : ''}${d.step.kind === 'compensate' ? ' (a compensation)' : ''}` : undefined;
  const where = step ? (d.insideStep ? `in ${step}` : `after ${step}`) : 'before the first step';
  const done = d.lastCompletedStep ? `; steps up to #${d.lastCompletedStep.seq} ${d.lastCompletedStep.name} replay unchanged` : '';
  return `diverged at event ${d.eventId}${d.event ? ` (${d.event})` : ''}, ${where}${done}`;
}
