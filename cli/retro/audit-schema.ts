import { auditLogSchema, type AuditLog } from '../../common/audit';

// The engine's audit log as it arrives in a history: in a completed run's result (RunbookResult.audit)
// or a failed run's failure details[0]. Histories outlive code, so it is checked at the boundary with
// the audit's one schema (common/audit.ts).

/** The audit log in a workflow result or failure details, if it has one. */
export function findAuditLog(candidates: unknown[]): AuditLog | undefined {
  for (const c of candidates) {
    const inner = c && typeof c === 'object' && 'audit' in c ? (c as { audit: unknown }).audit : c;
    const parsed = auditLogSchema.safeParse(inner);
    if (parsed.success) return parsed.data;
  }
  return undefined;
}
