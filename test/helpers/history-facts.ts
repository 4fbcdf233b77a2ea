import { readFileSync } from 'node:fs';

// Facts read straight from a history JSON file, without the project's decoder or retro builder, so
// the retro tests compare the retrospective against the history itself and not against its own code.

type JsonEvent = Record<string, any> & { eventId: string; eventType: string };

export interface HistoryFacts {
  events: JsonEvent[];
  closeType?: string;
  /** RunbookStep values, in order, as the run upserted them. */
  stepUpserts: string[];
  /** The last RunbookOutcome the run upserted. */
  outcome?: string;
  /** Engine tags on activities: "#3 step-2 @node1 · mutate · attempt 1". */
  activitySummaries: string[];
  timerSummaries: string[];
  approveUpdates: Array<{ step: string; decision: string; approver: string; comment?: string }>;
  /** Approval-wait timers that fired: nobody decided in time. */
  approvalTimeouts: number;
  cancelRequested: boolean;
  /** The audit log the run carries, if any (result or failure details). */
  audit?: {
    steps: Array<{ seq: number; name: string; status: string; attempts: unknown[]; approval?: { decision: string; approver?: string } }>;
    refusedApprovals: Array<{ step: string; approver?: string }>;
  };
  failureMessage?: string;
}

const b64json = (p: { data?: string } | undefined): unknown => (p?.data ? JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) : undefined);
const b64text = (p: { data?: string } | undefined): string => (p?.data ? String(JSON.parse(Buffer.from(p.data, 'base64').toString('utf8'))) : '');

export function historyFacts(file: string): HistoryFacts {
  const events = (JSON.parse(readFileSync(file, 'utf8')) as { events: JsonEvent[] }).events;
  const last = events.at(-1)!;
  const closeType = /WORKFLOW_EXECUTION_(COMPLETED|FAILED|CANCELED|TERMINATED|TIMED_OUT|CONTINUED_AS_NEW)$/.test(last.eventType)
    ? last.eventType.replace('EVENT_TYPE_WORKFLOW_EXECUTION_', '')
    : undefined;
  const stepUpserts: string[] = [];
  let outcome: string | undefined;
  for (const e of events) {
    const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
    if (fields?.RunbookStep) stepUpserts.push(b64json(fields.RunbookStep) as string);
    if (fields?.RunbookOutcome) outcome = b64json(fields.RunbookOutcome) as string;
  }
  const activitySummaries = events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => b64text(e.userMetadata?.summary));
  const timerSummaries = events.filter((e) => e.timerStartedEventAttributes).map((e) => b64text(e.userMetadata?.summary));
  const approveUpdates = events
    .filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'approve')
    .map((e) => b64json(e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest.input.args.payloads[0]) as HistoryFacts['approveUpdates'][number]);
  const approvalTimerIds = new Set(events.filter((e) => e.timerStartedEventAttributes && b64text(e.userMetadata?.summary).includes('approval wait')).map((e) => e.eventId));
  const approvalTimeouts = events.filter((e) => e.timerFiredEventAttributes && approvalTimerIds.has(e.timerFiredEventAttributes.startedEventId)).length;
  let audit: HistoryFacts['audit'];
  let failureMessage: string | undefined;
  if (closeType === 'COMPLETED') audit = (b64json(last.workflowExecutionCompletedEventAttributes.result?.payloads?.[0]) as { audit?: HistoryFacts['audit'] })?.audit;
  if (closeType === 'FAILED') {
    const failure = last.workflowExecutionFailedEventAttributes.failure;
    failureMessage = failure.message;
    const details = failure.applicationFailureInfo?.details?.payloads?.[0];
    const d = b64json(details) as HistoryFacts['audit'] | undefined;
    if (d && Array.isArray(d.steps)) audit = d;
  }
  return {
    events,
    closeType,
    stepUpserts,
    outcome,
    activitySummaries,
    timerSummaries,
    approveUpdates,
    approvalTimeouts,
    cancelRequested: events.some((e) => e.workflowExecutionCancelRequestedEventAttributes),
    audit,
    failureMessage,
  };
}
