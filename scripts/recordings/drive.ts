import type { WorkflowHandle } from '@temporalio/client';
import type { AuditLog } from '../../common/audit';
import { approveUpdate, auditQuery } from '../../workflows/engine/messages';

/** Poll the audit query until `predicate` holds. */
export async function waitForAudit(handle: WorkflowHandle, predicate: (a: AuditLog) => boolean, timeoutMs = 60_000): Promise<AuditLog> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const audit = await handle.query(auditQuery).catch(() => undefined);
    if (audit && predicate(audit)) return audit;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${handle.workflowId}: audit condition not met within ${timeoutMs} ms`);
}

export function waitForApprovalGate(handle: WorkflowHandle, step: string): Promise<AuditLog> {
  return waitForAudit(handle, (a) => a.steps.some((s) => s.name === step && s.status === 'waiting-approval'));
}

export async function decide(handle: WorkflowHandle, step: string, decision: 'approve' | 'reject', approver: string, comment?: string): Promise<void> {
  await handle.executeUpdate(approveUpdate, { args: [{ step, decision, approver, ...(comment ? { comment } : {}) }] });
}

/** An approval the workflow's validator refuses: Temporal records nothing, the engine's audit does. */
export async function refusedApproval(handle: WorkflowHandle, step: string, approver: string): Promise<void> {
  const refused = await handle.executeUpdate(approveUpdate, { args: [{ step, decision: 'approve', approver }] }).then(
    () => false,
    () => true,
  );
  if (!refused) throw new Error(`${handle.workflowId}: the approval of ${step} by ${approver} was expected to be refused`);
}
