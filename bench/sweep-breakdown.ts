import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

// Where a sweep's wall time goes, read from its histories (every run of the continue-as-new chain):
// activities by type (wall time as the union of their intervals, so parallel ones count once; split
// into remote commands and the worker's own time: parsing, placing, ssh setup), workflow tasks,
// the gaps between runs (continue-as-new), child workflows, and the payload sizes. Nothing here
// needs instrumentation in the workflow: the history already has every timestamp.

type History = temporal.api.history.v1.IHistory;
type Event = temporal.api.history.v1.IHistoryEvent;

export interface SweepBreakdown {
  runs: number;
  wallMs: number;
  /** Union of each activity type's intervals (scheduled -> closed), summed over runs. */
  activities: Record<
    string,
    {
      count: number;
      wallMs: number;
      /** Union of the activity's remote command intervals (parallel hosts count once, sequential chunks add up). */
      commandMs: number;
      commands: number;
      resultBytes: number;
      /** Per kind of command: the union of its intervals (wall) and their sum over all hosts (total). */
      byCommand: Record<string, { count: number; wallMs: number; totalMs: number }>;
    }
  >;
  /** Workflow task time (started -> completed), summed. */
  workflowTaskMs: number;
  workflowTasks: number;
  /** From a run's last event to the next run's first: continue-as-new. */
  continueAsNewGapMs: number;
  /** Union of child workflow intervals (initiated -> closed). */
  childrenMs: number;
  children: number;
  /** What is in none of the above: scheduling latency between tasks, timers, waits. */
  otherMs: number;
  historyBytes: number[];
  /** The carried state each run starts with (continue-as-new input). */
  inputBytes: number[];
}

function ms(t: Event['eventTime']): number {
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

function commandKind(command: string): string {
  if (/^\d+ change probes?\b/.test(command) || /^n=-1; if zfs snapshot/.test(command)) return 'change probes';
  const m = /^(zfs \w+(?: -\S+)*)/.exec(command);
  return m ? m[1] : (command.split(/\s+/)[0] ?? '?');
}

function union(intervals: Array<[number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [s, e] of sorted) {
    if (e <= end) continue;
    total += e - Math.max(s, end);
    end = e;
  }
  return total;
}

function decode(p: temporal.api.common.v1.IPayload | undefined | null): unknown {
  if (!p?.data) return undefined;
  try {
    return JSON.parse(Buffer.from(p.data).toString('utf8'));
  } catch {
    return undefined;
  }
}

export async function runChain(client: Client, workflowId: string, firstRunId: string): Promise<History[]> {
  const out: History[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    out.push(history);
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return out;
}

export function sweepBreakdown(runs: History[]): SweepBreakdown {
  const b: SweepBreakdown = {
    runs: runs.length,
    wallMs: 0,
    activities: {},
    workflowTaskMs: 0,
    workflowTasks: 0,
    continueAsNewGapMs: 0,
    childrenMs: 0,
    children: 0,
    otherMs: 0,
    historyBytes: [],
    inputBytes: [],
  };
  let prevEnd: number | null = null;
  let first = Infinity;
  let last = 0;
  let covered = 0;
  for (const h of runs) {
    const events = h.events ?? [];
    b.historyBytes.push(temporal.api.history.v1.History.encode(h).finish().length);
    b.inputBytes.push(events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.reduce((n, p) => n + (p.data?.length ?? 0), 0) ?? 0);
    const start = ms(events[0]?.eventTime);
    const end = ms(events.at(-1)?.eventTime);
    first = Math.min(first, start);
    last = Math.max(last, end);
    if (prevEnd !== null) b.continueAsNewGapMs += Math.max(0, start - prevEnd);
    prevEnd = end;
    const byId = new Map<number, Event>();
    for (const e of events) byId.set(Number(e.eventId), e);
    const perType = new Map<string, Array<[number, number]>>();
    const children: Array<[number, number]> = [];
    const wft: Array<[number, number]> = [];
    const all: Array<[number, number]> = [];
    for (const e of events) {
      const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
      if (done) {
        const scheduled = byId.get(Number(done.scheduledEventId));
        const type = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
        const iv: [number, number] = [ms(scheduled?.eventTime), ms(e.eventTime)];
        perType.set(type, [...(perType.get(type) ?? []), iv]);
        const a = (b.activities[type] ??= { count: 0, wallMs: 0, commandMs: 0, commands: 0, resultBytes: 0, byCommand: {} });
        a.count++;
        const payload = e.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
        a.resultBytes += payload?.data?.length ?? 0;
        const value = decode(payload) as { commands?: Array<{ durationMs?: number; command?: string; startedAt?: string }> } | undefined;
        // Each command's interval on the worker's clock: commands of one kind run in parallel across
        // hosts and one after another across chunks, so their union is that kind's wall time.
        const kinds = new Map<string, Array<[number, number]>>();
        const all: Array<[number, number]> = [];
        for (const c of value?.commands ?? []) {
          const kind = commandKind(c.command ?? '');
          const start = c.startedAt ? Date.parse(c.startedAt) : 0;
          const iv: [number, number] = [start, start + (c.durationMs ?? 0)];
          kinds.set(kind, [...(kinds.get(kind) ?? []), iv]);
          all.push(iv);
          a.commands++;
        }
        for (const [kind, ivs] of kinds) {
          const k = (a.byCommand[kind] ??= { count: 0, wallMs: 0, totalMs: 0 });
          k.count += ivs.length;
          k.wallMs += union(ivs);
          k.totalMs += ivs.reduce((x, [s0, e0]) => x + (e0 - s0), 0);
        }
        a.commandMs += union(all);
      }
      const wfDone = e.workflowTaskCompletedEventAttributes;
      if (wfDone) {
        const started = byId.get(Number(wfDone.startedEventId));
        wft.push([ms(started?.eventTime), ms(e.eventTime)]);
      }
      const childDone =
        e.childWorkflowExecutionCompletedEventAttributes ??
        e.childWorkflowExecutionFailedEventAttributes ??
        e.childWorkflowExecutionCanceledEventAttributes ??
        e.childWorkflowExecutionTimedOutEventAttributes ??
        e.childWorkflowExecutionTerminatedEventAttributes;
      if (childDone) {
        const initiated = byId.get(Number(childDone.initiatedEventId));
        children.push([ms(initiated?.eventTime), ms(e.eventTime)]);
      }
    }
    for (const [type, ivs] of perType) {
      const w = union(ivs);
      b.activities[type].wallMs += w;
      all.push(...ivs);
    }
    b.workflowTaskMs += wft.reduce((n, [s, e]) => n + (e - s), 0);
    b.workflowTasks += wft.length;
    b.childrenMs += union(children);
    b.children += children.length;
    covered += union([...all, ...children, ...wft]);
  }
  b.wallMs = last - first;
  b.otherMs = Math.max(0, b.wallMs - covered - b.continueAsNewGapMs);
  return b;
}

/** One line per part, in ms per project. */
export function formatBreakdown(b: SweepBreakdown, projects: number): string {
  const per = (x: number) => `${(x / projects).toFixed(2)} ms/project`;
  const lines = [`  wall ${(b.wallMs / 1000).toFixed(1)} s over ${b.runs} run(s): ${per(b.wallMs)}`];
  for (const [type, a] of Object.entries(b.activities).sort((x, y) => y[1].wallMs - x[1].wallMs)) {
    lines.push(
      `  activity ${type} x${a.count}: ${(a.wallMs / 1000).toFixed(2)} s (${per(a.wallMs)}); remote commands ${a.commands}, running ${(a.commandMs / 1000).toFixed(2)} s of it; worker-side (ssh setup, parsing, placing, between commands) ${((a.wallMs - Math.min(a.wallMs, a.commandMs)) / 1000).toFixed(2)} s; results ${(a.resultBytes / 1024).toFixed(0)} KiB`,
    );
    for (const [kind, k] of Object.entries(a.byCommand))
      lines.push(`    ${kind} x${k.count}: ${(k.wallMs / 1000).toFixed(2)} s wall (${per(k.wallMs)}), ${(k.totalMs / 1000).toFixed(2)} s summed over hosts`);
  }
  lines.push(`  workflow tasks x${b.workflowTasks}: ${(b.workflowTaskMs / 1000).toFixed(2)} s (${per(b.workflowTaskMs)})`);
  lines.push(`  children x${b.children}: ${(b.childrenMs / 1000).toFixed(2)} s (${per(b.childrenMs)})`);
  lines.push(`  continue-as-new gaps: ${(b.continueAsNewGapMs / 1000).toFixed(2)} s (${per(b.continueAsNewGapMs)})`);
  lines.push(`  other (dispatch latency between tasks): ${(b.otherMs / 1000).toFixed(2)} s (${per(b.otherMs)})`);
  lines.push(`  history bytes per run: ${b.historyBytes.join(', ')}; carried input bytes per run: ${b.inputBytes.join(', ')}`);
  return lines.join('\n');
}
