import type { DataConverter, Payload } from '@temporalio/common';
import { decode, decodeFailure } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow/data-converter-helpers';
import { defaultPayloadConverter, type LoadedDataConverter } from '@temporalio/common';
import type { History, HistoryEvent } from './load';

// A history's events as plain, decoded values: what the retrospective and the replay report read.
// Payloads go through the same data converter (and codecs) as the workers', so an encrypted history
// decodes here exactly as it did in the worker.

export interface DecodedFailure {
  message: string;
  /** ApplicationFailure type, or the failure kind (Timeout:START_TO_CLOSE, Cancelled, Terminated...). */
  type?: string;
  nonRetryable?: boolean;
  details: unknown[];
  cause?: DecodedFailure;
}

export interface RunEvent {
  id: number;
  time: string;
  /** e.g. ActivityTaskScheduled (the proto's EVENT_TYPE_ name in PascalCase). */
  type: string;
  /** The one-line summary a workflow put on an activity or timer (user metadata). */
  summary?: string;
  /** Activity events: the ActivityTaskScheduled event they belong to. Timer events: TimerStarted. */
  ref?: number;
  activity?: { id: string; type: string; input: unknown[] };
  /**
   * MarkerRecorded of a local activity (an engine's quick step): the activity, when it was scheduled
   * and completed on the worker (the marker itself is written when the workflow task completes), and
   * its result or failure in `result`/`failure`.
   */
  localActivity?: { id: string; type: string; scheduledAt?: string; completedAt?: string };
  /** ActivityTaskStarted: the server-side attempt (the engine schedules each attempt itself: always 1). */
  attempt?: number;
  identity?: string;
  /** Results of activities, updates and the workflow. */
  result?: unknown;
  failure?: DecodedFailure;
  timer?: { id: string; timeoutMs?: number };
  update?: { id: string; name?: string; args?: unknown[] };
  searchAttributes?: Record<string, unknown>;
  /** WorkflowExecutionStarted */
  started?: { workflowType: string; taskQueue?: string; workflowId?: string; input: unknown[]; staticSummary?: string; staticDetails?: string; parentWorkflowId?: string };
  signal?: { name: string; input: unknown[] };
  child?: { workflowId: string; type?: string; runId?: string };
  reason?: string;
}

type ProtoTime = { seconds?: unknown; nanos?: number | null } | null | undefined;

/** The marker the SDK core records for each local activity, and the JSON in its `data` detail. */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';
interface LocalActivityMarkerData {
  activity_id?: string;
  activity_type?: string;
  original_schedule_time?: ProtoTime;
  complete_time?: ProtoTime;
}

/** Protobuf timestamps and durations arrive with seconds as a number, a string or a Long. */
function num(v: unknown): number {
  if (v && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return Number(v ?? 0);
}

export function protoMs(t: ProtoTime): number | undefined {
  if (!t) return undefined;
  return num(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

function pascal(constant: string): string {
  return constant
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());
}

const EVENT_TYPE_BY_ATTRIBUTE = (key: string) => key.replace(/EventAttributes$/, '').replace(/^./, (c) => c.toUpperCase());

export class HistoryDecoder {
  private readonly converter: LoadedDataConverter;

  constructor(dataConverter: DataConverter) {
    this.converter = loadDataConverter(dataConverter);
  }

  private async payloads(ps: Payload[] | null | undefined): Promise<unknown[]> {
    if (!ps?.length) return [];
    const decoded = await decode(this.converter.payloadCodecs, ps);
    return decoded.map((p) => {
      try {
        return this.converter.payloadConverter.fromPayload(p);
      } catch (err) {
        return `<undecodable payload: ${(err as Error).message}>`;
      }
    });
  }

  private async one(p: Payload | null | undefined): Promise<unknown> {
    return p ? (await this.payloads([p]))[0] : undefined;
  }

  async failure(f: Parameters<typeof decodeFailure>[1] | null | undefined): Promise<DecodedFailure | undefined> {
    if (!f) return undefined;
    const d = await decodeFailure(this.converter.payloadCodecs, f);
    const app = d.applicationFailureInfo;
    const type = app
      ? (app.type ?? undefined)
      : d.timeoutFailureInfo
        ? `Timeout:${String(d.timeoutFailureInfo.timeoutType ?? '').replace(/^TIMEOUT_TYPE_/, '')}`
        : d.canceledFailureInfo
          ? 'Cancelled'
          : d.terminatedFailureInfo
            ? 'Terminated'
            : d.activityFailureInfo
              ? 'ActivityFailure'
              : d.serverFailureInfo
                ? 'ServerFailure'
                : undefined;
    const details = app?.details?.payloads
      ? app.details.payloads.map((p) => this.converter.payloadConverter.fromPayload(p))
      : d.canceledFailureInfo?.details?.payloads
        ? d.canceledFailureInfo.details.payloads.map((p) => this.converter.payloadConverter.fromPayload(p))
        : [];
    return {
      message: d.message ?? '',
      ...(type ? { type } : {}),
      ...(app?.nonRetryable ? { nonRetryable: true } : {}),
      details,
      ...(d.cause ? { cause: await this.failure(d.cause) } : {}),
    };
  }

  private searchAttributes(fields: Record<string, Payload> | null | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    // Search attributes are never codec-encoded (the server indexes them).
    for (const [k, p] of Object.entries(fields ?? {})) out[k] = defaultPayloadConverter.fromPayload(p);
    return out;
  }

  async event(e: HistoryEvent): Promise<RunEvent> {
    const attributeKey = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k]);
    const type = typeof e.eventType === 'string' ? pascal(e.eventType) : attributeKey ? EVENT_TYPE_BY_ATTRIBUTE(attributeKey) : 'Unknown';
    const ms = protoMs(e.eventTime);
    const ev: RunEvent = { id: num(e.eventId), time: new Date(ms ?? 0).toISOString(), type };
    const summary = await this.one(e.userMetadata?.summary);
    if (typeof summary === 'string') ev.summary = summary;

    const started = e.workflowExecutionStartedEventAttributes;
    if (started) {
      const meta = e.userMetadata;
      ev.started = {
        workflowType: started.workflowType?.name ?? '',
        taskQueue: started.taskQueue?.name ?? undefined,
        workflowId: started.workflowId ?? undefined,
        input: await this.payloads(started.input?.payloads),
        ...(typeof summary === 'string' ? { staticSummary: summary } : {}),
        ...(meta?.details ? { staticDetails: String(await this.one(meta.details)) } : {}),
        ...(started.parentWorkflowExecution?.workflowId ? { parentWorkflowId: started.parentWorkflowExecution.workflowId } : {}),
      };
      delete ev.summary;
      ev.searchAttributes = this.searchAttributes(started.searchAttributes?.indexedFields as Record<string, Payload> | undefined);
      ev.identity = started.identity ?? undefined;
    }
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) ev.activity = { id: scheduled.activityId ?? '', type: scheduled.activityType?.name ?? '', input: await this.payloads(scheduled.input?.payloads) };
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === LOCAL_ACTIVITY_MARKER) {
      const data = (await this.one(marker.details?.data?.payloads?.[0])) as LocalActivityMarkerData | undefined;
      const at = (t: ProtoTime) => (protoMs(t) === undefined ? undefined : new Date(protoMs(t)!).toISOString());
      ev.localActivity = { id: String(data?.activity_id ?? ''), type: data?.activity_type ?? '', scheduledAt: at(data?.original_schedule_time), completedAt: at(data?.complete_time) };
      if (marker.failure) ev.failure = await this.failure(marker.failure);
      else ev.result = await this.one(marker.details?.result?.payloads?.[0]);
    }
    const actStarted = e.activityTaskStartedEventAttributes;
    if (actStarted) {
      ev.ref = num(actStarted.scheduledEventId);
      ev.attempt = actStarted.attempt ?? undefined;
      ev.identity = actStarted.identity ?? undefined;
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) {
      ev.ref = num(completed.scheduledEventId);
      ev.result = await this.one(completed.result?.payloads?.[0]);
    }
    const failed = e.activityTaskFailedEventAttributes;
    if (failed) {
      ev.ref = num(failed.scheduledEventId);
      ev.failure = await this.failure(failed.failure);
    }
    const timedOut = e.activityTaskTimedOutEventAttributes;
    if (timedOut) {
      ev.ref = num(timedOut.scheduledEventId);
      ev.failure = await this.failure(timedOut.failure);
    }
    const cancelRequested = e.activityTaskCancelRequestedEventAttributes;
    if (cancelRequested) ev.ref = num(cancelRequested.scheduledEventId);
    const canceled = e.activityTaskCanceledEventAttributes;
    if (canceled) ev.ref = num(canceled.scheduledEventId);

    const timerStarted = e.timerStartedEventAttributes;
    if (timerStarted) ev.timer = { id: timerStarted.timerId ?? '', timeoutMs: protoMs(timerStarted.startToFireTimeout) };
    const timerFired = e.timerFiredEventAttributes;
    if (timerFired) ev.ref = num(timerFired.startedEventId);
    const timerCanceled = e.timerCanceledEventAttributes;
    if (timerCanceled) ev.ref = num(timerCanceled.startedEventId);

    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted) {
      const req = accepted.acceptedRequest;
      ev.update = { id: req?.meta?.updateId ?? accepted.protocolInstanceId ?? '', name: req?.input?.name ?? undefined, args: await this.payloads(req?.input?.args?.payloads) };
      ev.identity = req?.meta?.identity ?? undefined;
    }
    const updated = e.workflowExecutionUpdateCompletedEventAttributes;
    if (updated) {
      ev.update = { id: updated.meta?.updateId ?? '' };
      if (updated.outcome?.failure) ev.failure = await this.failure(updated.outcome.failure);
      else ev.result = await this.one(updated.outcome?.success?.payloads?.[0]);
    }
    const upsert = e.upsertWorkflowSearchAttributesEventAttributes;
    if (upsert) ev.searchAttributes = this.searchAttributes(upsert.searchAttributes?.indexedFields as Record<string, Payload> | undefined);

    const signaled = e.workflowExecutionSignaledEventAttributes;
    if (signaled) ev.signal = { name: signaled.signalName ?? '', input: await this.payloads(signaled.input?.payloads) };

    const cancelWf = e.workflowExecutionCancelRequestedEventAttributes;
    if (cancelWf) {
      ev.identity = cancelWf.identity ?? undefined;
      ev.reason = cancelWf.cause ?? undefined;
    }
    const wfCompleted = e.workflowExecutionCompletedEventAttributes;
    if (wfCompleted) ev.result = await this.one(wfCompleted.result?.payloads?.[0]);
    const wfFailed = e.workflowExecutionFailedEventAttributes;
    if (wfFailed) ev.failure = await this.failure(wfFailed.failure);
    const wfTerminated = e.workflowExecutionTerminatedEventAttributes;
    if (wfTerminated) {
      ev.reason = wfTerminated.reason ?? undefined;
      ev.identity = wfTerminated.identity ?? undefined;
    }
    const wftFailed = e.workflowTaskFailedEventAttributes;
    if (wftFailed) {
      ev.failure = await this.failure(wftFailed.failure);
      ev.reason = String(wftFailed.cause ?? '');
    }
    const child =
      e.startChildWorkflowExecutionInitiatedEventAttributes ??
      e.childWorkflowExecutionStartedEventAttributes ??
      e.childWorkflowExecutionCompletedEventAttributes ??
      e.childWorkflowExecutionFailedEventAttributes ??
      e.childWorkflowExecutionCanceledEventAttributes ??
      e.childWorkflowExecutionTerminatedEventAttributes ??
      e.childWorkflowExecutionTimedOutEventAttributes;
    if (child) {
      const c = child as { workflowId?: string | null; workflowExecution?: { workflowId?: string | null; runId?: string | null } | null; workflowType?: { name?: string | null } | null };
      ev.child = { workflowId: c.workflowId ?? c.workflowExecution?.workflowId ?? '', type: c.workflowType?.name ?? undefined, runId: c.workflowExecution?.runId ?? undefined };
      const childFailed = e.childWorkflowExecutionFailedEventAttributes;
      if (childFailed) ev.failure = await this.failure(childFailed.failure);
    }
    return ev;
  }

  async history(history: History): Promise<RunEvent[]> {
    const out: RunEvent[] = [];
    for (const e of history.events ?? []) out.push(await this.event(e));
    return out;
  }
}
