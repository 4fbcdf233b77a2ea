import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import type { AuditLog } from '../../common/audit';

/** What a refusal says when nobody is named: a retrospective needs to know who decided. */
export const APPROVER_MISSING = 'name the approver: fill in "approver" with who decides, e.g. "alice@ops-laptop" (the `runbook approve` CLI fills in --approver, or your OS user and host)';

export const approvalRequestSchema = z
  .object({
    step: z.string().min(1),
    decision: z.enum(['approve', 'reject']),
    approver: z
      .string({ error: APPROVER_MISSING })
      .max(200)
      .refine((a) => a.trim().length > 0, APPROVER_MISSING),
    comment: z.string().max(2000).optional(),
  })
  .strict();
export type ApprovalRequest = z.infer<typeof approvalRequestSchema>;

export interface ApprovalResponse {
  step: string;
  decision: 'approved' | 'rejected';
  approver: string;
}

/** Approve or reject the step that is waiting. Refused (and audited) for any other step. */
export const approveUpdate = defineUpdate<ApprovalResponse, [ApprovalRequest]>('approve');

/** The run's audit log: every step, attempt, command, approval and compensation so far. */
export const auditQuery = defineQuery<AuditLog>('audit');

/** Which step is waiting for approval, if any (for scripts and the CLI). */
export const pendingApprovalQuery = defineQuery<{ step: string; since: string; timeout: string; description?: string } | null>('pendingApproval');

export const refusedApprovalReportSchema = z
  .object({
    step: z.string().min(1).max(200),
    decision: z.string().max(50),
    approver: z.string().max(200).optional(),
    reason: z.string().min(1).max(2000),
  })
  .strict();
export type RefusedApprovalReport = z.infer<typeof refusedApprovalReportSchema>;

/**
 * Sent by an approver's client (the `runbook approve` CLI) after the `approve` update was refused, so the
 * refusal is in the history: Temporal keeps no record of rejected updates.
 */
export const approvalRefusedSignal = defineSignal<[RefusedApprovalReport]>('approvalRefused');
