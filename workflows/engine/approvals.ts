import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { CommonInput } from '../../common/input';
import type { ApprovalRecord, StepRecord } from '../../common/audit';
import { nowIso } from './clock';
import { timerSummary } from './event-summary';
import { approvalRefusedSignal, approvalRequestSchema, approveUpdate, pendingApprovalQuery, refusedApprovalReportSchema, type ApprovalRequest, type ApprovalResponse } from './messages';
import type { AuditRecorder } from './recorder';
import { APPROVAL_REJECTED, APPROVAL_TIMED_OUT, type MutateStep } from './steps';

// Approval gates: a mutating step with `approval` waits for the `approve` update (or is pre-approved
// in the input). The update's validator refuses what cannot be decided now, and the refusal is kept in
// the audit, because Temporal records nothing of a rejected update.

/** At most this many refusals are kept: a flood or junk is not worth a record. */
const MAX_REFUSALS = 200;

export class Approvals {
  private decision?: { request: ApprovalRequest; at: string };

  constructor(private readonly recorder: AuditRecorder) {}

  private get audit() {
    return this.recorder.audit;
  }

  /** The `approve` update (with its validator), the `approvalRefused` signal and the `pendingApproval` query. */
  install(): void {
    setHandler(pendingApprovalQuery, () => this.recorder.waiting ?? null, { description: 'The step waiting for approval, or null.' });
    setHandler(
      approvalRefusedSignal,
      (report) => {
        const parsed = refusedApprovalReportSchema.safeParse(report);
        if (!parsed.success || this.audit.refusedApprovals.length >= MAX_REFUSALS) return;
        const r = parsed.data;
        // The validator may already hold this refusal in memory (same run, no replay since): mark it durable.
        const inMemory = this.audit.refusedApprovals.find((e) => !e.durable && e.step === r.step && e.decision === r.decision && e.approver === r.approver && e.reason === r.reason);
        if (inMemory) inMemory.durable = true;
        else this.audit.refusedApprovals.push({ at: nowIso(), ...r, durable: true });
        this.recorder.render();
      },
      { description: "Record an approval that the `approve` update refused (sent by the approver's client, so the record survives replay)." },
    );
    setHandler(
      approveUpdate,
      (request): ApprovalResponse => {
        this.decision = { request, at: nowIso() };
        return { step: request.step, decision: request.decision === 'approve' ? 'approved' : 'rejected', approver: request.approver };
      },
      {
        description: 'Approve or reject the step that is waiting: {"step": "<name>", "decision": "approve" | "reject", "approver": "<who>", "comment": "<why>"}',
        validator: (request: unknown) => this.validate(request),
      },
    );
  }

  /** Throws (refusing the update) unless `request` decides the step that waits, for the first time. */
  private validate(request: unknown): void {
    const parsed = approvalRequestSchema.safeParse(request);
    const field = (name: string): unknown => (typeof request === 'object' && request !== null ? (request as Record<string, unknown>)[name] : undefined);
    const step = typeof field('step') === 'string' ? (field('step') as string) : '?';
    const refuse = (reason: string): never => {
      // Temporal records nothing of a rejected update; keep our own record of the attempt.
      this.audit.refusedApprovals.push({
        at: nowIso(),
        step,
        decision: String(field('decision') ?? '?'),
        approver: typeof field('approver') === 'string' ? (field('approver') as string) : undefined,
        reason,
      });
      this.recorder.render();
      throw ApplicationFailure.nonRetryable(reason, 'ApprovalRefused');
    };
    if (!parsed.success) refuse(`malformed approval: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`);
    const waiting = this.recorder.waiting;
    if (!waiting) refuse(`no step of this run is waiting for approval; "${step}" cannot be approved now`);
    else if (waiting.step !== step) refuse(`step "${step}" is not waiting for approval; "${waiting.step}" is`);
    else if (this.decision) refuse(`step "${step}" already has a decision`);
  }

  /** Wait for the decision on `step` (or take its pre-approval); a rejection or a timeout fails the step. */
  async await<T>(record: StepRecord, step: MutateStep<T>, input: CommonInput): Promise<ApprovalRecord> {
    const requestedAt = nowIso();
    if (input.approve.includes(step.name)) {
      return { step: step.name, decision: 'pre-approved', approver: 'input.approve', requestedAt, decidedAt: requestedAt, waitedMs: 0 };
    }
    const timeout = (typeof step.approval === 'object' && step.approval.timeout) || input.approvalTimeout;
    this.recorder.waiting = { step: step.name, since: requestedAt, timeout, description: step.description };
    this.decision = undefined;
    record.status = 'waiting-approval';
    this.recorder.render();
    try {
      const decided = await condition(() => this.decision !== undefined, timeout as Duration, {
        summary: timerSummary({ seq: record.seq, step: record.name, host: record.host, purpose: 'approval', timeout }),
      });
      const decidedAt = nowIso();
      const waitedMs = Date.parse(decidedAt) - Date.parse(requestedAt);
      if (!decided) {
        record.approval = { step: step.name, decision: 'timed-out', requestedAt, decidedAt, waitedMs };
        throw ApplicationFailure.nonRetryable(`no decision on step "${step.name}" within ${timeout}; nothing was done for it`, APPROVAL_TIMED_OUT);
      }
      const { request } = this.decision!;
      const approval: ApprovalRecord = {
        step: step.name,
        decision: request.decision === 'approve' ? 'approved' : 'rejected',
        approver: request.approver,
        comment: request.comment,
        requestedAt,
        decidedAt,
        waitedMs,
      };
      if (approval.decision === 'rejected') {
        record.approval = approval;
        throw ApplicationFailure.nonRetryable(`step "${step.name}" was rejected by ${request.approver}${request.comment ? `: ${request.comment}` : ''}`, APPROVAL_REJECTED);
      }
      return approval;
    } finally {
      this.recorder.waiting = undefined;
      record.status = 'running';
      this.recorder.render();
    }
  }
}
