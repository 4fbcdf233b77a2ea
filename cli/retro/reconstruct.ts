import { COMMIT_STEP } from '../../common/audit';
import type { CommandRecord } from '../../common/step';
import { parseActivitySummary, parseTimerSummary, type ActivityTag, type TimerTag } from '../../workflows/engine/event-summary';
import type { RunEvent } from '../history/decode';
import type { RetroApproval, RetroAttempt, RetroStep } from './model';

// Rebuild the engine's steps from a history's events alone, for runs whose history does not carry
// the audit log (cancelled, terminated, still running). The engine tags every activity and timer
// with its step, attempt and phase (workflows/engine/event-summary.ts); RunbookStep upserts name the
// steps that schedule nothing (plan mode). Untagged activities (histories from before the tags) fall
// back to the step named by the last RunbookStep upsert.

interface ActivityState {
  seq: number;
  attempt: number;
  verify: boolean;
  type: string;
  scheduledAt: string;
  closedAt?: string;
  outcome?: 'completed' | 'failed' | 'timed-out' | 'cancelled';
  error?: { message: string; type?: string };
  value?: unknown;
}

interface StepBuild {
  step: RetroStep;
  attempts: Map<number, RetroAttempt>;
  activities: ActivityState[];
  approvalTimer?: { startedAt: string; timeout?: string; endedAt?: string; end?: 'fired' | 'cancelled' };
  decision?: { decision: 'approved' | 'rejected'; approver?: string; comment?: string; at: string };
  pendingBackoff?: number;
  fromUpsertOnly?: boolean;
}

export interface Reconstruction {
  steps: RetroStep[];
  approvals: RetroApproval[];
  /** History event id → the step (seq) it belongs to. */
  stepOfEvent: Map<number, number>;
}

function isCommandRecord(d: unknown): d is CommandRecord {
  return typeof d === 'object' && d !== null && 'command' in d && 'exitCode' in d && 'host' in d;
}

function stepOutputCommands(result: unknown): CommandRecord[] {
  const commands = result && typeof result === 'object' ? (result as { commands?: unknown }).commands : undefined;
  return Array.isArray(commands) ? commands.filter(isCommandRecord) : [];
}

function ms(a: string, b: string): number {
  return Date.parse(b) - Date.parse(a);
}

/**
 * `preApproved`: the steps the run's input pre-approved (`input.approve`). A gate passed that way waits
 * for nothing, so the history shows it only through the input: a step named there that ran without an
 * approval wait is recorded as pre-approved, as the engine's audit log records it.
 */
export function reconstructSteps(events: RunEvent[], opts: { open: boolean; planMode: boolean; closeStatus?: string; preApproved?: string[] }): Reconstruction {
  const steps = new Map<number, StepBuild>();
  const activities = new Map<number, ActivityState>();
  const timers = new Map<number, { tag?: TimerTag; seq?: number }>();
  const stepOfEvent = new Map<number, number>();
  let pendingUpserts: Array<{ name: string; eventId: number; time: string }> = [];
  let lastSeq = 0;
  let cancelRequested = false;
  let fallbackCurrent: number | undefined;

  const newStep = (seq: number, name: string, kind: RetroStep['kind'], at: RunEvent, host?: string): StepBuild => {
    const upsertIndex = kind === 'compensate' ? -1 : pendingUpserts.findIndex((u) => u.name === name);
    const upsert = upsertIndex >= 0 ? pendingUpserts[upsertIndex] : undefined;
    if (upsert) {
      // Upserts before this one with other names were steps that scheduled nothing.
      flushUpserts(upsertIndex);
      pendingUpserts = pendingUpserts.slice(1);
      stepOfEvent.set(upsert.eventId, seq);
    } else if (kind === 'compensate') {
      flushUpserts();
    }
    const build: StepBuild = {
      step: {
        seq,
        name,
        kind,
        host,
        status: 'unknown',
        startedAt: upsert?.time ?? at.time,
        attempts: [],
        commands: [],
        backoffs: [],
        ...(kind === 'compensate' && name.startsWith('undo-') ? { compensates: name.slice('undo-'.length) } : {}),
        events: { first: upsert?.eventId ?? at.id, last: at.id },
      },
      attempts: new Map(),
      activities: [],
    };
    steps.set(seq, build);
    lastSeq = Math.max(lastSeq, seq);
    return build;
  };

  /** Steps announced by a RunbookStep upsert that never scheduled anything (plan mode, a throw). */
  const flushUpserts = (count = pendingUpserts.length) => {
    for (const u of pendingUpserts.slice(0, count)) {
      const seq = ++lastSeq;
      steps.set(seq, {
        step: {
          seq,
          name: u.name,
          kind: 'mutate',
          status: opts.planMode ? 'planned' : 'unknown',
          startedAt: u.time,
          endedAt: u.time,
          durationMs: 0,
          attempts: [],
          commands: [],
          backoffs: [],
          events: { first: u.eventId, last: u.eventId },
        },
        attempts: new Map(),
        activities: [],
        fromUpsertOnly: true,
      });
      stepOfEvent.set(u.eventId, seq);
    }
    pendingUpserts = pendingUpserts.slice(count);
  };

  const touch = (b: StepBuild, e: RunEvent) => {
    b.step.events.last = Math.max(b.step.events.last, e.id);
    stepOfEvent.set(e.id, b.step.seq);
  };

  const stepForActivity = (e: RunEvent, tag: ActivityTag | undefined): StepBuild => {
    if (tag) return steps.get(tag.seq) ?? newStep(tag.seq, tag.step, tag.kind, e, tag.host);
    // No tag (a history from before the engine tagged its events): the step the last RunbookStep
    // upsert named; after a cancellation, compensations (which upsert nothing).
    const named = pendingUpserts.at(-1);
    const current = fallbackCurrent !== undefined ? steps.get(fallbackCurrent) : undefined;
    let b: StepBuild;
    if (cancelRequested) {
      flushUpserts();
      b = newStep(lastSeq + 1, 'compensation', 'compensate', e); // one per activity: retries cannot be told apart
    } else if (named) b = newStep(lastSeq + 1, named.name, 'mutate', e);
    else b = current ?? newStep(lastSeq + 1, e.activity?.type ?? 'activity', 'mutate', e);
    fallbackCurrent = b.step.seq;
    return b;
  };

  const attemptOf = (b: StepBuild, n: number, at: string): RetroAttempt => {
    let a = b.attempts.get(n);
    if (!a) {
      a = { attempt: n, startedAt: at };
      b.attempts.set(n, a);
    }
    return a;
  };

  const handle = (e: RunEvent): void => {
    switch (e.type) {
      case 'UpsertWorkflowSearchAttributes': {
        const step = e.searchAttributes?.RunbookStep;
        if (typeof step === 'string') pendingUpserts.push({ name: step, eventId: e.id, time: e.time });
        break;
      }
      case 'ActivityTaskScheduled': {
        const tag = parseActivitySummary(e.summary);
        const b = stepForActivity(e, tag);
        const attempt = tag?.attempt ?? (b.attempts.size || 1);
        attemptOf(b, attempt, e.time);
        const state: ActivityState = { seq: b.step.seq, attempt, verify: Boolean(tag?.verify), type: e.activity?.type ?? '', scheduledAt: e.time };
        activities.set(e.id, state);
        b.activities.push(state);
        if (b.pendingBackoff !== undefined) b.pendingBackoff = undefined;
        touch(b, e);
        break;
      }
      case 'ActivityTaskStarted':
      case 'ActivityTaskCancelRequested': {
        const s = activities.get(e.ref ?? -1);
        if (s) touch(steps.get(s.seq)!, e);
        break;
      }
      case 'ActivityTaskCompleted':
      case 'ActivityTaskFailed':
      case 'ActivityTaskTimedOut':
      case 'ActivityTaskCanceled': {
        const s = activities.get(e.ref ?? -1);
        if (!s) break;
        const b = steps.get(s.seq)!;
        touch(b, e);
        s.closedAt = e.time;
        const attempt = attemptOf(b, s.attempt, s.scheduledAt);
        attempt.endedAt = e.time;
        if (e.type === 'ActivityTaskCompleted') {
          s.outcome = 'completed';
          s.value = e.result;
          b.step.commands.push(...stepOutputCommands(e.result));
          const verdict = s.verify && e.result && typeof e.result === 'object' ? (e.result as { value?: { ok?: unknown; detail?: unknown } }).value : undefined;
          if (verdict && verdict.ok === false) attempt.error = { message: `verify of ${b.step.name} failed: ${String(verdict.detail ?? '')}`, type: 'VerifyFailed' };
        } else {
          s.outcome = e.type === 'ActivityTaskFailed' ? 'failed' : e.type === 'ActivityTaskTimedOut' ? 'timed-out' : 'cancelled';
          const f = e.failure;
          // The engine records the application failure's message and type (retry.ts describeError).
          s.error = e.type === 'ActivityTaskCanceled' ? { message: 'cancelled', type: 'CancelledFailure' } : { message: f?.message ?? e.type, ...(f?.type ? { type: f.type } : {}) };
          attempt.error = s.error;
          b.step.commands.push(...(f?.details ?? []).filter(isCommandRecord));
        }
        break;
      }
      case 'TimerStarted': {
        const tag = parseTimerSummary(e.summary);
        const b = tag ? (steps.get(tag.seq) ?? newStep(tag.seq, tag.step, 'mutate', e, tag.host)) : undefined;
        timers.set(e.id, { tag, seq: b?.step.seq });
        if (!b || !tag) break;
        touch(b, e);
        if (tag.purpose === 'approval') {
          b.approvalTimer = { startedAt: e.time, timeout: tag.timeout };
          b.step.approvalWait = { from: e.time };
        } else {
          b.step.backoffs.push({ from: e.time });
          b.pendingBackoff = tag.attempt;
        }
        break;
      }
      case 'TimerFired':
      case 'TimerCanceled': {
        const t = timers.get(e.ref ?? -1);
        const b = t?.seq !== undefined ? steps.get(t.seq) : undefined;
        if (!b || !t?.tag) break;
        touch(b, e);
        if (t.tag.purpose === 'approval' && b.approvalTimer) {
          b.approvalTimer.endedAt = e.time;
          b.approvalTimer.end = e.type === 'TimerFired' ? 'fired' : 'cancelled';
          b.step.approvalWait = { from: b.approvalTimer.startedAt, to: b.step.approvalWait?.to ?? e.time };
        } else {
          const last = b.step.backoffs.at(-1);
          if (last && !last.to) last.to = e.time;
        }
        break;
      }
      case 'WorkflowExecutionUpdateAccepted': {
        if (e.update?.name !== 'approve') break;
        const req = (e.update.args?.[0] ?? {}) as { step?: string; decision?: string; approver?: string; comment?: string };
        // The validator accepts an approval only for the step that is waiting, so this is that step.
        const b = [...steps.values()].reverse().find((s) => s.step.name === req.step && s.approvalTimer && !s.decision);
        if (!b) break;
        touch(b, e);
        b.decision = { decision: req.decision === 'reject' ? 'rejected' : 'approved', approver: req.approver, comment: req.comment, at: e.time };
        b.step.approvalWait = { from: b.approvalTimer!.startedAt, to: e.time };
        break;
      }
      case 'WorkflowExecutionCancelRequested':
        cancelRequested = true;
        break;
      case 'MarkerRecorded': {
        // A quick step's local activity: scheduled, run and closed on the worker, recorded as one
        // marker; read as the activity events it stands for, at the times the worker measured.
        const la = e.localActivity;
        if (!la) break;
        handle({ ...e, type: 'ActivityTaskScheduled', time: la.scheduledAt ?? e.time, activity: { id: `local-${la.id}`, type: la.type, input: [] } });
        handle({ ...e, type: e.failure ? 'ActivityTaskFailed' : 'ActivityTaskCompleted', ref: e.id, time: la.completedAt ?? e.time, summary: undefined });
        break;
      }
      default:
        break;
    }
  };
  for (const e of events) handle(e);
  flushUpserts();
  settleUpsertOnlySteps([...steps.values()], opts);

  const approvals: RetroApproval[] = [];
  for (const b of steps.values()) {
    const s = b.step;
    s.attempts = [...b.attempts.values()].sort((x, y) => x.attempt - y.attempt);
    if (b.approvalTimer) {
      const t = b.approvalTimer;
      const approval: RetroApproval = b.decision
        ? {
            step: s.name,
            decision: b.decision.decision,
            approver: b.decision.approver,
            comment: b.decision.comment,
            requestedAt: t.startedAt,
            decidedAt: b.decision.at,
            waitedMs: ms(t.startedAt, b.decision.at),
          }
        : t.end === 'fired'
          ? { step: s.name, decision: 'timed-out', requestedAt: t.startedAt, decidedAt: t.endedAt, waitedMs: ms(t.startedAt, t.endedAt!) }
          : t.end === 'cancelled'
            ? { step: s.name, decision: 'abandoned', requestedAt: t.startedAt, decidedAt: t.endedAt, waitedMs: ms(t.startedAt, t.endedAt!) }
            : { step: s.name, decision: 'pending', requestedAt: t.startedAt };
      s.approval = approval;
      approvals.push(approval);
    } else if (s.kind === 'mutate' && b.attempts.size && opts.preApproved?.includes(s.name)) {
      const approval: RetroApproval = { step: s.name, decision: 'pre-approved', approver: 'input.approve', requestedAt: s.startedAt, decidedAt: s.startedAt, waitedMs: 0 };
      s.approval = approval;
      approvals.push(approval);
    }
    s.status = b.fromUpsertOnly ? s.status : statusOf(b, opts.open);
    const closes = b.activities.map((a) => a.closedAt).filter((t): t is string => Boolean(t));
    const ends = [...closes, b.decision?.at, b.approvalTimer?.endedAt, ...s.backoffs.map((x) => x.to)].filter((t): t is string => Boolean(t)).sort();
    if (s.status !== 'running' && s.status !== 'waiting-approval' && ends.length) {
      s.endedAt = ends.at(-1);
      s.durationMs = ms(s.startedAt, s.endedAt!);
    }
  }
  return { steps: [...steps.values()].map((b) => b.step).sort((a, b) => a.seq - b.seq), approvals, stepOfEvent };
}

/**
 * A step that scheduled nothing (its work was workflow code alone, or plan mode) shows only by its
 * RunbookStep upsert. Steps run one after another, so one that a later step followed had ended well;
 * the last one ended as the run did.
 */
function settleUpsertOnlySteps(builds: StepBuild[], opts: { open: boolean; planMode: boolean; closeStatus?: string }): void {
  if (opts.planMode) return;
  const lastSeq = Math.max(0, ...builds.filter((b) => b.step.kind !== 'compensate').map((b) => b.step.seq));
  for (const b of builds) {
    if (!b.fromUpsertOnly) continue;
    if (b.step.name === COMMIT_STEP || b.step.seq < lastSeq) b.step.status = 'completed';
    else if (opts.open) b.step.status = 'running';
    else b.step.status = ({ completed: 'completed', failed: 'failed', cancelled: 'cancelled' } as Record<string, RetroStep['status']>)[opts.closeStatus ?? ''] ?? 'unknown';
  }
}

function statusOf(b: StepBuild, open: boolean): RetroStep['status'] {
  if (b.decision?.decision === 'rejected' || b.approvalTimer?.end === 'fired') return 'failed';
  const last = [...b.attempts.values()].sort((x, y) => x.attempt - y.attempt).at(-1);
  if (!last) {
    if (b.approvalTimer && !b.approvalTimer.end) return open ? 'waiting-approval' : 'cancelled';
    if (b.approvalTimer?.end === 'cancelled' && !b.decision) return 'cancelled';
    return open ? 'running' : 'unknown';
  }
  const acts = b.activities.filter((a) => a.attempt === last.attempt);
  if (acts.some((a) => !a.closedAt)) return open ? 'running' : 'cancelled';
  if (acts.some((a) => a.outcome === 'cancelled')) return 'cancelled';
  if (last.error) {
    if (b.pendingBackoff !== undefined) {
      const backoff = b.step.backoffs.at(-1);
      if (backoff && !backoff.to) return open ? 'running' : 'cancelled';
      return backoff ? 'cancelled' : 'failed'; // the wait ended and no next attempt came: cancelled during backoff
    }
    return 'failed';
  }
  return 'completed';
}
