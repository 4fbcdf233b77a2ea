import { z } from 'zod';

// The engine's audit log (workflows/engine/audit.ts) as it arrives in a history: in a completed run's
// result (RunbookResult.audit) or a failed run's failure details[0]. Histories outlive code, so this is
// checked at the boundary and read leniently: unknown fields pass, missing optional ones are fine.

const commandSchema = z.looseObject({
  host: z.string(),
  command: z.string(),
  exitCode: z.number().nullable(),
  signal: z.string().optional(),
  startedAt: z.string(),
  durationMs: z.number(),
  stdoutTail: z.string(),
  stderrTail: z.string(),
  truncated: z.boolean(),
  timedOut: z.boolean().optional(),
  cancelled: z.boolean().optional(),
});

const approvalSchema = z.looseObject({
  step: z.string(),
  decision: z.enum(['approved', 'rejected', 'timed-out', 'pre-approved']),
  approver: z.string().optional(),
  comment: z.string().optional(),
  requestedAt: z.string(),
  decidedAt: z.string(),
  waitedMs: z.number(),
});

export const auditLogSchema = z.looseObject({
  runbook: z.string(),
  workflowId: z.string(),
  runId: z.string(),
  mode: z.enum(['apply', 'plan']),
  targets: z.array(z.string()),
  outcome: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  error: z.string().optional(),
  steps: z.array(
    z.looseObject({
      seq: z.number(),
      name: z.string(),
      kind: z.enum(['inspect', 'mutate', 'compensate']),
      host: z.string().optional(),
      description: z.string().optional(),
      status: z.enum(['running', 'waiting-approval', 'completed', 'failed', 'planned', 'cancelled']),
      startedAt: z.string(),
      endedAt: z.string().optional(),
      durationMs: z.number().optional(),
      attempts: z.array(z.looseObject({ attempt: z.number(), startedAt: z.string(), endedAt: z.string().optional(), error: z.looseObject({ message: z.string(), type: z.string().optional() }).optional() })),
      commands: z.array(commandSchema),
      approval: approvalSchema.optional(),
      compensates: z.string().optional(),
      summary: z.string().optional(),
      commandsOmitted: z.number().optional(),
    }),
  ),
  refusedApprovals: z.array(z.looseObject({ at: z.string(), step: z.string(), decision: z.string(), approver: z.string().optional(), reason: z.string() })).default([]),
  planned: z.array(z.looseObject({ step: z.string(), host: z.string().optional(), description: z.string(), commands: z.array(z.string()) })).default([]),
});
export type ParsedAuditLog = z.infer<typeof auditLogSchema>;

/** The audit log in a workflow result or failure details, if it has one. */
export function findAuditLog(candidates: unknown[]): ParsedAuditLog | undefined {
  for (const c of candidates) {
    const inner = c && typeof c === 'object' && 'audit' in c ? (c as { audit: unknown }).audit : c;
    const parsed = auditLogSchema.safeParse(inner);
    if (parsed.success) return parsed.data;
  }
  return undefined;
}
