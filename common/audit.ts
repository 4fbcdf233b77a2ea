import { z } from 'zod';
import { commandRecordSchema, plannedMutationSchema } from './step';

// The audit log every run keeps: its one definition. The engine builds it (workflows/engine/), a run's
// result or failure carries it, the `audit` query answers with it, and the retrospective
// (cli/retro/) reads it back from a history with auditLogSchema. The types are inferred from these
// schemas, so the three cannot drift. Parsing strips fields it does not know (a history written by
// newer code still reads) and fills what older histories lack.

export const stepKindSchema = z.enum(['inspect', 'mutate', 'compensate']);
export type StepKind = z.infer<typeof stepKindSchema>;

export const stepStatusSchema = z.enum(['running', 'waiting-approval', 'completed', 'failed', 'planned', 'cancelled']);
export type StepStatus = z.infer<typeof stepStatusSchema>;

/** The step `rb.commit` records: the point of no return. A record only, so it always completes. */
export const COMMIT_STEP = 'commit';

export const outcomeSchema = z.enum(['running', 'succeeded', 'failed', 'cancelled', 'planned']);
export type Outcome = z.infer<typeof outcomeSchema>;

export const attemptRecordSchema = z.object({
  attempt: z.number(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  error: z.object({ message: z.string(), type: z.string().optional() }).optional(),
});
export type AttemptRecord = z.infer<typeof attemptRecordSchema>;

export const approvalDecisionSchema = z.enum(['approved', 'rejected', 'timed-out', 'pre-approved']);
export type ApprovalDecision = z.infer<typeof approvalDecisionSchema>;

export const approvalRecordSchema = z.object({
  step: z.string(),
  decision: approvalDecisionSchema,
  approver: z.string().optional(),
  comment: z.string().optional(),
  requestedAt: z.string(),
  decidedAt: z.string(),
  waitedMs: z.number(),
});
export type ApprovalRecord = z.infer<typeof approvalRecordSchema>;

/** An approval the validator refused (wrong step, nothing waiting). Temporal keeps no record of these. */
export const refusedApprovalSchema = z.object({
  at: z.string(),
  step: z.string(),
  decision: z.string(),
  approver: z.string().optional(),
  reason: z.string(),
  /**
   * True once the approver's client reported the refusal back as the `approvalRefused` signal, which
   * puts it in the history. Without it the entry lives only in the running workflow's memory (a
   * validator cannot issue a durable command) and a replay would lose it.
   */
  durable: z.boolean().optional(),
});
export type RefusedApproval = z.infer<typeof refusedApprovalSchema>;

export const stepRecordSchema = z.object({
  seq: z.number(),
  name: z.string(),
  kind: stepKindSchema,
  host: z.string().optional(),
  description: z.string().optional(),
  status: stepStatusSchema,
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  attempts: z.array(attemptRecordSchema),
  commands: z.array(commandRecordSchema),
  approval: approvalRecordSchema.optional(),
  /** For a compensation: the step it undoes. */
  compensates: z.string().optional(),
  /** A one-line result for the step table. */
  summary: z.string().optional(),
  /** Set when the commands were left out of a result (resultAudit: steps): how many there were. */
  commandsOmitted: z.number().optional(),
});
export type StepRecord = z.infer<typeof stepRecordSchema>;

export const auditLogSchema = z.object({
  runbook: z.string(),
  workflowId: z.string(),
  runId: z.string(),
  mode: z.enum(['apply', 'plan']),
  targets: z.array(z.string()),
  outcome: outcomeSchema,
  startedAt: z.string(),
  endedAt: z.string().optional(),
  error: z.string().optional(),
  steps: z.array(stepRecordSchema),
  refusedApprovals: z.array(refusedApprovalSchema).default([]),
  planned: z.array(plannedMutationSchema).default([]),
});
export type AuditLog = z.infer<typeof auditLogSchema>;

/** The audit log a result carries when its run was asked for steps only (see resultAudit). */
export function withoutCommands(audit: AuditLog): AuditLog {
  return {
    ...audit,
    steps: audit.steps.map((s) => ({ ...s, commands: [], commandsOmitted: s.commands.length })),
  };
}
