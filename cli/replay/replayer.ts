import { DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { DataConverter } from '@temporalio/common';
import { runbookDataConverter } from '../../workers/data-converter';
import { HistoryDecoder } from '../history/decode';
import type { History } from '../history/load';
import { describeDivergence, divergenceEventId, locateDivergence, type Divergence } from './divergence';

/**
 * A replay that diverges makes the SDK log every failed workflow task; the report says it better.
 * The runtime can be installed once per process: where one already runs, its settings stay.
 */
export function quietReplayRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
  } catch {
    /* already installed */
  }
}

/** Bundle the workflow code once; every replay then reuses it (a bundle takes seconds, a replay ms). */
export { bundleWorkflows } from '../../workers/workflow-bundle';

export interface ReplayItem {
  /** How the report names it: a file path or a workflow id. */
  name: string;
  workflowId: string;
  history: History;
}

export interface ReplayReport {
  name: string;
  workflowId: string;
  ok: boolean;
  nondeterminism?: boolean;
  error?: string;
  divergence?: Divergence;
  /** One line for a person: OK, or what diverged and where. */
  summary: string;
}

/**
 * Replay histories against a workflow bundle with the workers' data converter, as a worker picking the
 * run up after a deploy would. A nondeterminism error is mapped back to the runbook step it hit.
 */
export async function replayHistories(items: ReplayItem[], bundle: WorkflowBundle, dataConverter: DataConverter = runbookDataConverter): Promise<ReplayReport[]> {
  const reports: ReplayReport[] = [];
  const results = Worker.runReplayHistories(
    { workflowBundle: bundle, dataConverter, replayName: 'runbook-replay' },
    items.map((i) => ({ workflowId: i.workflowId, history: i.history })),
  );
  let index = 0;
  // Replays run one at a time, in order, so the nth result is the nth item.
  for await (const result of results) {
    const item = items[index++];
    if (!result.error) {
      reports.push({ name: item.name, workflowId: item.workflowId, ok: true, summary: `${item.name}: OK` });
      continue;
    }
    const message = (result.error as Error).message ?? String(result.error);
    const nondeterminism = result.error instanceof DeterminismViolationError || /nondetermin/i.test(message);
    const events = await new HistoryDecoder(dataConverter).history(item.history);
    let divergence: Divergence | undefined;
    if (nondeterminism) {
      const eventId = divergenceEventId(message) ?? (await divergentEventByPrefixes(item, bundle, dataConverter, message));
      divergence = locateDivergence(events, eventId);
    }
    reports.push({
      name: item.name,
      workflowId: item.workflowId,
      ok: false,
      nondeterminism,
      error: message,
      ...(divergence ? { divergence } : {}),
      summary: `${item.name}: ${nondeterminism ? `NONDETERMINISM: ${describeDivergence(divergence!)}` : `FAILED: ${message}`}`,
    });
  }
  return reports;
}

type HistoryEvent = NonNullable<History['events']>[number];

function eventNumber(e: HistoryEvent): number {
  return Number(typeof e.eventId === 'object' && e.eventId !== null ? e.eventId.toString() : e.eventId);
}

/**
 * Some mismatches name no event ("Activity type of scheduled event 'drillDo' does not match activity
 * type of activity command 'drillReadLog'"). Replay the history cut before each workflow task, in
 * order: the first prefix that fails ends with the task whose commands diverged. Within that task,
 * the event the message hints at (the scheduled activity type), else its first command event.
 */
async function divergentEventByPrefixes(item: ReplayItem, bundle: WorkflowBundle, dataConverter: DataConverter, message: string): Promise<number | undefined> {
  const events = item.history.events ?? [];
  const cuts = events.map((e, i) => (e.workflowTaskScheduledEventAttributes && i > 1 ? i : -1)).filter((i) => i > 0);
  cuts.push(events.length);
  const prefixes = cuts.map((cut) => ({ workflowId: item.workflowId, history: { events: events.slice(0, cut) } }));
  let failedCut: number | undefined;
  let i = 0;
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle, dataConverter, replayName: 'runbook-replay-bisect' }, prefixes)) {
    if (r.error && failedCut === undefined) failedCut = cuts[i];
    i++;
  }
  if (failedCut === undefined) return undefined;
  const prefix = events.slice(0, failedCut);
  let lastCompleted = -1;
  prefix.forEach((e, idx) => {
    if (e.workflowTaskCompletedEventAttributes) lastCompleted = idx;
  });
  const commands = prefix.slice(lastCompleted + 1);
  const hintedType = /scheduled event '([^']+)'/.exec(message)?.[1];
  const hinted = hintedType ? commands.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === hintedType) : undefined;
  const chosen = hinted ?? commands[0];
  return chosen ? eventNumber(chosen) : undefined;
}
