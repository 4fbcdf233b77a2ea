import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { RunbookResult } from '../workflows/engine/runbook';
import { approveUpdate, auditQuery } from '../workflows/engine/messages';
import { hostLines } from './helpers/lab-host';
import { closeTestClient, runFailure, startRunbook, waitForAudit } from './helpers/temporal';

const host = 'node1';
const drillDir = () => `/var/tmp/engine-drill/${randomUUID()}`;
const waitingOn = (step: string) => (a: { steps: Array<{ name: string; status: string }> }) => a.steps.some((s) => s.name === step && s.status === 'waiting-approval');

afterAll(closeTestClient);

test('an approved gate lets the step run, and the audit names the approver and comment', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 3, gatedSteps: ['step-2'] });
  await waitForAudit(handle, waitingOn('step-2'));
  expect(await hostLines(host, `${dir}/log`)).toEqual(['do 1']); // nothing past the gate yet
  const response = await handle.executeUpdate(approveUpdate, { args: [{ step: 'step-2', decision: 'approve', approver: 'alice', comment: 'looked at it' }] });
  expect(response).toEqual({ step: 'step-2', decision: 'approved', approver: 'alice' });
  const result = (await handle.result()) as RunbookResult<{ log: string[] }>;
  expect(result.value.log).toEqual(['do 1', 'do 2', 'do 3']);
  const gated = result.audit.steps.find((s) => s.name === 'step-2')!;
  expect(gated.approval).toMatchObject({ decision: 'approved', approver: 'alice', comment: 'looked at it' });
  expect(gated.approval!.waitedMs).toBeGreaterThanOrEqual(0);
});

test('a rejected gate fails the run and compensates; the rejection is audited', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 3, gatedSteps: ['step-2'] });
  await waitForAudit(handle, waitingOn('step-2'));
  await handle.executeUpdate(approveUpdate, { args: [{ step: 'step-2', decision: 'reject', approver: 'bob', comment: 'not during peak' }] });
  const failure = await runFailure(handle);
  expect(failure.message).toContain('step "step-2" was rejected by bob: not during peak');
  expect(await hostLines(host, `${dir}/log`)).toEqual(['do 1', 'undo 1']);
  const audit = (failure.details?.[0] ?? {}) as RunbookResult<unknown>['audit'];
  expect(audit.steps.find((s) => s.name === 'step-2')!.approval).toMatchObject({ decision: 'rejected', approver: 'bob' });
});

test('a rejected gate settles nothing: the step never started', async () => {
  const dir = drillDir();
  // step-2 would fail and settle if it ran; rejected, it never starts, so there is nothing to settle.
  const handle = await startRunbook('engineDrill', { host, dir, steps: 3, failAtStep: 2, gatedSteps: ['step-2'] });
  await waitForAudit(handle, waitingOn('step-2'));
  await handle.executeUpdate(approveUpdate, { args: [{ step: 'step-2', decision: 'reject', approver: 'bob' }] });
  const failure = await runFailure(handle);
  expect(failure.message).toContain('step "step-2" was rejected by bob');
  expect(await hostLines(host, `${dir}/log`)).toEqual(['do 1', 'undo 1']);
  const audit = (failure.details?.[0] ?? {}) as RunbookResult<unknown>['audit'];
  expect(audit.steps.map((s) => s.name)).toEqual(['resolve-hosts', 'step-1', 'step-2', 'undo-step-1']);
});

test('a gate times out: the run fails, compensates, and the timeout is audited', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 2, gatedSteps: ['step-2'], approvalTimeout: '2s' });
  const failure = await runFailure(handle);
  expect(failure.message).toContain('no decision on step "step-2" within 2s');
  expect(await hostLines(host, `${dir}/log`)).toEqual(['do 1', 'undo 1']);
  const audit = (failure.details?.[0] ?? {}) as RunbookResult<unknown>['audit'];
  expect(audit.steps.find((s) => s.name === 'step-2')!.approval).toMatchObject({ decision: 'timed-out' });
});

test('an approval for a step that is not waiting is refused and recorded', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 3, gatedSteps: ['step-2'] });
  await waitForAudit(handle, waitingOn('step-2'));
  const wrong = handle.executeUpdate(approveUpdate, { args: [{ step: 'step-3', decision: 'approve', approver: 'mallory' }] });
  await expect(wrong).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
  await wrong.catch((err: WorkflowUpdateFailedError) => expect(err.cause?.message).toBe('step "step-3" is not waiting for approval; "step-2" is'));
  const audit = await handle.query(auditQuery);
  expect(audit.refusedApprovals).toEqual([expect.objectContaining({ step: 'step-3', approver: 'mallory', decision: 'approve', reason: 'step "step-3" is not waiting for approval; "step-2" is' })]);
  // still waiting, and nothing past the gate ran
  expect(audit.steps.find((s) => s.name === 'step-2')!.status).toBe('waiting-approval');
  expect(await hostLines(host, `${dir}/log`)).toEqual(['do 1']);
  await handle.executeUpdate(approveUpdate, { args: [{ step: 'step-2', decision: 'approve', approver: 'alice' }] });
  const result = (await handle.result()) as RunbookResult<unknown>;
  expect(result.audit.refusedApprovals).toHaveLength(1);
  // and after the gate, approving again is refused too
});

test('an approval that names no approver is refused, saying what to fill in, and the gate keeps waiting', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 2, gatedSteps: ['step-2'] });
  await waitForAudit(handle, waitingOn('step-2'));
  // What the UI's Update form sends when the operator leaves the approver out, or types only spaces.
  for (const request of [
    { step: 'step-2', decision: 'approve' },
    { step: 'step-2', decision: 'approve', approver: '  ' },
  ]) {
    const refused = handle.executeUpdate(approveUpdate, { args: [request as never] });
    await expect(refused).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await refused.catch((err: WorkflowUpdateFailedError) => expect(err.cause?.message).toMatch(/^malformed approval: approver: name the approver: fill in "approver" with who decides/));
  }
  const audit = await handle.query(auditQuery);
  expect(audit.refusedApprovals.map((r) => [r.step, r.approver])).toEqual([
    ['step-2', undefined],
    ['step-2', '  '],
  ]);
  expect(audit.steps.find((s) => s.name === 'step-2')!.status).toBe('waiting-approval');
  expect(await hostLines(host, `${dir}/log`)).toEqual(['do 1']);
  await handle.executeUpdate(approveUpdate, { args: [{ step: 'step-2', decision: 'approve', approver: 'alice@ops' }] });
  const result = (await handle.result()) as RunbookResult<unknown>;
  expect(result.audit.steps.find((s) => s.name === 'step-2')!.approval).toMatchObject({ decision: 'approved', approver: 'alice@ops' });
});

test('pre-approved steps do not wait', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 2, gatedSteps: ['step-2'], approve: ['step-2'] });
  const result = (await handle.result()) as RunbookResult<unknown>;
  expect(result.audit.steps.find((s) => s.name === 'step-2')!.approval).toMatchObject({ decision: 'pre-approved', approver: 'input.approve' });
});
