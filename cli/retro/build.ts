import type { RunEvent } from '../history/decode';
import { findAuditLog } from './audit-schema';
import type { Retro, RetroApproval, RetroStep, RunStatus } from './model';
import { reconstructSteps, type Reconstruction } from './reconstruct';
import { redactText, redactValue } from './redact';
import { approvalRefusedSignal, refusedApprovalReportSchema } from '../../workflows/engine/messages';
import type { AuditLog, RefusedApproval } from '../../common/audit';

const CLOSE_STATUS: Record<string, RunStatus> = {
  WorkflowExecutionCompleted: 'completed',
  WorkflowExecutionFailed: 'failed',
  WorkflowExecutionCanceled: 'cancelled',
  WorkflowExecutionTerminated: 'terminated',
  WorkflowExecutionTimedOut: 'timed-out',
  WorkflowExecutionContinuedAsNew: 'continued-as-new',
};

function ms(a: string, b: string): number {
  return Date.parse(b) - Date.parse(a);
}

/** The engine's audit steps, with what only the events know (waits, event ids) added. */
function stepsFromAudit(audit: AuditLog, rebuilt: Reconstruction): RetroStep[] {
  return audit.steps.map((s) => {
    const r = rebuilt.steps.find((x) => x.seq === s.seq);
    return {
      seq: s.seq,
      name: s.name,
      kind: s.kind,
      host: s.host,
      description: s.description,
      status: s.status,
      startedAt: s.startedAt,
      endedAt: s.endedAt,
      durationMs: s.durationMs,
      attempts: s.attempts.map((a) => ({ attempt: a.attempt, startedAt: a.startedAt, endedAt: a.endedAt, ...(a.error ? { error: { message: a.error.message, type: a.error.type } } : {}) })),
      // A result asked for steps only (resultAudit: steps) left the commands in the activity events.
      commands: s.commandsOmitted ? (r?.commands ?? []) : s.commands,
      ...(s.approval ? { approval: { ...s.approval } } : {}),
      // The audit's own times (workflow time) keep the wait and the attempts on one clock.
      approvalWait: s.approval && s.approval.decision !== 'pre-approved' ? { from: s.approval.requestedAt, to: s.approval.decidedAt } : r?.approvalWait,
      backoffs: r?.backoffs ?? [],
      compensates: s.compensates,
      summary: s.summary,
      events: r?.events ?? { first: 0, last: 0 },
    };
  });
}

/**
 * Refusals the approver's client reported back with the `approvalRefused` signal: the only ones a
 * history holds (Temporal records no rejected update), read when there is no audit log to ask.
 */
function refusedFromSignals(events: RunEvent[]): RefusedApproval[] {
  return events.flatMap((e) => {
    if (e.signal?.name !== approvalRefusedSignal.name) return [];
    const report = refusedApprovalReportSchema.safeParse(e.signal.input[0]);
    return report.success ? [{ at: e.time, ...report.data, durable: true }] : [];
  });
}

/** Fold the search attributes set at start and upserted since into their last values. */
function searchAttributes(events: RunEvent[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of events) if (e.searchAttributes) Object.assign(out, e.searchAttributes);
  return out;
}

/**
 * Build the retrospective of one run from its decoded history events. Pure: the same events always
 * give the same retro, so tests can check it against the history it came from.
 */
export function buildRetro(events: RunEvent[], source: string, opts: { asOf?: string } = {}): Retro {
  const first = events[0];
  if (!first?.started) throw new Error(`${source}: the history does not begin with WorkflowExecutionStarted`);
  const last = events.at(-1)!;
  const status: RunStatus = CLOSE_STATUS[last.type] ?? 'running';
  const open = status === 'running';
  const sa = searchAttributes(events);
  const rawInput = first.started.input[0];
  const inputObject = rawInput && typeof rawInput === 'object' ? (rawInput as Record<string, unknown>) : {};
  const planMode = inputObject.mode === 'plan';

  const audit = findAuditLog([last.type === 'WorkflowExecutionCompleted' ? last.result : undefined, ...(last.failure?.details ?? [])]);
  const preApproved = Array.isArray(inputObject.approve) ? inputObject.approve.filter((a): a is string => typeof a === 'string') : [];
  const rebuilt = reconstructSteps(events, { open, planMode, closeStatus: status, preApproved });
  const steps = audit ? stepsFromAudit(audit, rebuilt) : rebuilt.steps;
  const approvals: RetroApproval[] = audit ? audit.steps.flatMap((s) => (s.approval ? [{ ...s.approval }] : [])) : rebuilt.approvals;

  const cancel = events.find((e) => e.type === 'WorkflowExecutionCancelRequested');
  const terminated = last.type === 'WorkflowExecutionTerminated' ? last : undefined;
  const notes: string[] = [];
  if (!audit) {
    const why = open ? 'the run is still open' : status === 'completed' || status === 'failed' ? 'its result carries no engine audit log' : `the run was ${status}`;
    notes.push(
      `Rebuilt from the history's events because ${why}: steps, attempts, errors, commands and approvals come from the activity, timer and update events. ` +
        "Refused approvals come from the approvers' `approvalRefused` signals (one refused in the UI's Update form sends none); pre-approvals and step summaries live only in the engine's audit log: ask a running run with the `audit` query.",
    );
  }
  if (open) notes.push(`The run is still open; this is its state as of ${opts.asOf && opts.asOf > last.time ? `${opts.asOf}, when its history was fetched` : `its last event (${last.time})`}.`);
  if (status === 'terminated') notes.push('The run was terminated: no workflow code ran after that, so no compensation ran. Check the targets by hand.');

  const workflowTaskFailures = events.filter((e) => e.type === 'WorkflowTaskFailed' && e.failure).map((e) => ({ at: e.time, message: e.failure!.message }));
  if (workflowTaskFailures.some((f) => /nondetermin/i.test(f.message))) {
    notes.push('A workflow task failed with a nondeterminism error: the worker ran code that does not match this history. Check it with `runbook replay`.');
  }

  const children = new Map<string, { workflowId: string; type?: string; status: string }>();
  for (const e of events) {
    if (!e.child?.workflowId) continue;
    const c = children.get(e.child.workflowId) ?? { workflowId: e.child.workflowId, type: e.child.type, status: 'initiated' };
    c.type ??= e.child.type;
    c.status =
      e.type
        .replace(/^ChildWorkflowExecution/, '')
        .replace(/^StartChildWorkflowExecution/, '')
        .toLowerCase() || c.status;
    children.set(e.child.workflowId, c);
  }

  let error: string | undefined;
  if (last.failure) error = last.failure.message;
  else if (status === 'cancelled') error = `cancelled${cancel?.identity ? ` by ${cancel.identity}` : ''}${cancel ? ` (requested ${cancel.time})` : ''}`;
  else if (terminated) error = `terminated${terminated.identity ? ` by ${terminated.identity}` : ''}${terminated.reason ? `: ${terminated.reason}` : ''}`;
  else if (status === 'timed-out') error = 'the run hit its workflow execution timeout';

  const endedAt = open ? undefined : last.time;
  return {
    workflowId: first.started.workflowId ?? audit?.workflowId ?? source,
    runId: audit?.runId,
    runbook: first.started.workflowType,
    taskQueue: first.started.taskQueue,
    status,
    outcome: (typeof sa.RunbookOutcome === 'string' ? sa.RunbookOutcome : undefined) ?? audit?.outcome,
    mode: audit?.mode ?? (planMode ? 'plan' : 'apply'),
    targets: audit?.targets ?? (Array.isArray(sa.RunbookTargets) ? sa.RunbookTargets.map(String) : []),
    staticSummary: first.started.staticSummary,
    startedAt: first.time,
    endedAt,
    durationMs: endedAt ? ms(first.time, endedAt) : undefined,
    input: redactValue(rawInput),
    steps: steps.map((s) => ({ ...s, commands: s.commands.map((c) => ({ ...c, command: redactText(c.command), stdoutTail: redactText(c.stdoutTail), stderrTail: redactText(c.stderrTail) })) })),
    approvals,
    refusedApprovals: audit?.refusedApprovals ?? refusedFromSignals(events),
    planned: audit?.planned ?? [],
    ...(cancel ? { cancellation: { requestedAt: cancel.time, identity: cancel.identity, reason: cancel.reason } } : {}),
    ...(terminated ? { termination: { at: terminated.time, identity: terminated.identity, reason: terminated.reason } } : {}),
    error: error ? redactText(error) : undefined,
    workflowTaskFailures,
    children: [...children.values()],
    signals: events.filter((e) => e.signal).map((e) => ({ at: e.time, name: e.signal!.name })),
    source: audit ? 'audit' : 'events',
    notes,
    history: { events: events.length, lastEventAt: last.time, source },
    asOf: endedAt ?? (opts.asOf && opts.asOf > last.time ? opts.asOf : last.time),
  };
}

/** Build without the audit log even when the history has one: the path cancelled and running runs take. */
export function buildRetroFromEventsOnly(events: RunEvent[], source: string): Retro {
  const last = events.at(-1)!;
  const stripped = { ...last, result: undefined, failure: last.failure ? { ...last.failure, details: [] } : undefined };
  return buildRetro([...events.slice(0, -1), stripped], source);
}
