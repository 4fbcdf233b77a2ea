import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { AuditLog } from '../../common/audit';
import { approveUpdate, auditQuery, pendingApprovalQuery } from '../../workflows/engine/messages';
import type { RunbookResult } from '../../workflows/engine/runbook';
import { runFailure, scheduledActivityTypes, waitForAudit } from '../helpers/temporal';
import { READ_ONLY_STAND_INS } from './activities';
import { startEngineTier, type EngineTier } from './harness';
import { stepTableRendersQuery } from './workflows';

// The engine's semantics on stand-in activities (activities.ts) with the real dev server and a real
// worker, no lab: `npm run test:engine` runs this file alone, in seconds, before the suite.

jest.setTimeout(60_000);

let tier: EngineTier;
beforeAll(async () => {
  tier = await startEngineTier();
}, 120_000);
afterAll(async () => {
  await tier?.stop();
});

type Audit = RunbookResult<unknown>['audit'];
const auditOf = (failure: { details?: unknown[] }) => failure.details?.[0] as Audit;
const step = (audit: Audit, name: string) => audit.steps.find((s) => s.name === name)!;
const waitingOn = (name: string) => (a: AuditLog) => a.steps.some((s) => s.name === name && s.status === 'waiting-approval');

/** The UI's "Current Details": the step table the engine renders (workflows/engine/details.ts). */
async function currentDetails(handle: WorkflowHandle): Promise<string> {
  return (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
}

async function timersStarted(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter((e) => e.timerStartedEventAttributes).length;
}

test('steps run in order; a retryable failure is retried with backoff, and every attempt, its error and its commands are audited', async () => {
  const { handle, log } = await tier.start({ steps: [{ name: 'a' }, { name: 'b', failTimes: 2 }, { name: 'c' }] });
  const result = (await handle.result()) as RunbookResult<{ log: string[] }>;
  const expected = ['a attempt 1', 'b attempt 1', 'b attempt 2', 'b attempt 3', 'c attempt 1'];
  expect(tier.lines(log)).toEqual(expected);
  expect(result.value.log).toEqual(expected);
  expect(result.outcome).toBe('succeeded');
  expect(result.audit.outcome).toBe('succeeded');
  expect(result.audit.steps.map((s) => [s.name, s.kind, s.status])).toEqual([
    ['a', 'mutate', 'completed'],
    ['b', 'mutate', 'completed'],
    ['c', 'mutate', 'completed'],
    ['read-log', 'inspect', 'completed'],
  ]);
  const b = step(result.audit, 'b');
  expect(b.attempts.map((a) => [a.attempt, a.error?.type, a.error?.message])).toEqual([
    [1, 'StandInFlaky', 'b attempt 1 failed on purpose'],
    [2, 'StandInFlaky', 'b attempt 2 failed on purpose'],
    [3, undefined, undefined],
  ]);
  for (const a of b.attempts) expect(Date.parse(a.endedAt!)).toBeGreaterThanOrEqual(Date.parse(a.startedAt));
  // The failed attempts' command records (carried by the failures) and the successful one's, in order.
  expect(b.commands.map((c) => [c.stdoutTail, c.exitCode])).toEqual([
    ['b attempt 1', 1],
    ['b attempt 2', 1],
    ['b attempt 3', 0],
  ]);
  expect(b.summary).toBe('succeeded at attempt 3');
  expect(await timersStarted(handle)).toBe(2); // one backoff before each retry

  // The UI's step table (Current Details) shows the end state, and was rendered at most once per
  // workflow task, not at each of a step's changes (begun, attempt, failure, end: some 20 here).
  const details = await currentDetails(handle);
  expect(details).toContain('**engineTier** on stand-in: **succeeded**');
  expect(details).toMatch(/\| 2 \| b \| {2}\| ✅ completed \| 3 \| [\d.]+s \| succeeded at attempt 3 \|/);
  const tasks = ((await handle.fetchHistory()).events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).length;
  const renders = await handle.query(stepTableRendersQuery);
  expect(renders).toBeGreaterThan(0);
  expect(renders).toBeLessThanOrEqual(tasks);
});

test('a non-retryable failure is not retried; a retryable one stops at maximumAttempts', async () => {
  const fatal = await tier.start({ steps: [{ name: 'a', fatal: true }] });
  const failure = await runFailure(fatal.handle);
  expect(failure.type).toBe('RunbookFailed');
  expect(failure.message).toBe('engineTier failed at step a: a failed on purpose');
  expect(tier.lines(fatal.log)).toEqual(['a attempt 1']);
  expect(step(auditOf(failure), 'a').attempts).toHaveLength(1);

  const flaky = await tier.start({ steps: [{ name: 'a', failTimes: 99 }] });
  const gaveUp = await runFailure(flaky.handle);
  expect(gaveUp.message).toBe('engineTier failed at step a: a attempt 4 failed on purpose');
  expect(tier.lines(flaky.log)).toEqual(['a attempt 1', 'a attempt 2', 'a attempt 3', 'a attempt 4']);
  expect(auditOf(gaveUp).outcome).toBe('failed');
});

test('a failed verify fails the attempt, and the step is retried until its verify passes', async () => {
  const { handle, log } = await tier.start({ steps: [{ name: 'a', verifyFailTimes: 1 }] });
  const result = (await handle.result()) as RunbookResult<unknown>;
  expect(tier.lines(log)).toEqual(['a attempt 1', 'a verify 1 bad', 'a attempt 2', 'a verify 2 ok']);
  expect(step(result.audit, 'a').attempts.map((a) => a.error?.type)).toEqual(['VerifyFailed', undefined]);
});

test('a failure at step k settles k (its act had started), then undoes k-1..1 newest first; later steps never run', async () => {
  const { handle, log } = await tier.start({ steps: [{ name: 'a' }, { name: 'b' }, { name: 'c', fatal: true, settle: true }, { name: 'd' }] });
  const failure = await runFailure(handle);
  expect(failure.message).toBe('engineTier failed at step c: c failed on purpose');
  expect(tier.lines(log)).toEqual(['a attempt 1', 'b attempt 1', 'c attempt 1', 'settle c', 'undo b', 'undo a']);
  const audit = auditOf(failure);
  expect(audit.steps.map((s) => [s.name, s.status])).toEqual([
    ['a', 'completed'],
    ['b', 'completed'],
    ['c', 'failed'],
    ['settle-c', 'completed'],
    ['undo-b', 'completed'],
    ['undo-a', 'completed'],
  ]);
  expect(audit.steps.filter((s) => s.kind === 'compensate').map((s) => s.compensates)).toEqual(['b', 'a']);
  expect(step(audit, 'c').commands.map((c) => c.exitCode)).toEqual([3]);
  expect(audit.outcome).toBe('failed');
});

test('cancelling mid-step cancels the act, settles it, undoes the finished steps newest first, and ends cancelled', async () => {
  const { handle, log } = await tier.start({ steps: [{ name: 'a' }, { name: 'b' }, { name: 'c', slowMs: 60_000, settle: true }, { name: 'd' }] });
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'c' && s.status === 'running'));
  for (let i = 0; i < 100 && !tier.lines(log).includes('c started'); i++) await new Promise((r) => setTimeout(r, 50));
  await handle.cancel();
  const failure = await runFailure(handle);
  expect(failure.name).toBe('CancelledFailure');
  // The act learns of the cancellation on a heartbeat and stops; when exactly is its own business.
  for (let i = 0; i < 100 && !tier.lines(log).includes('c cut short'); i++) await new Promise((r) => setTimeout(r, 50));
  const lines = tier.lines(log);
  expect(lines).toContain('c cut short');
  expect(lines).not.toContain('c finished');
  expect(lines.filter((l) => l !== 'c cut short')).toEqual(['a attempt 1', 'b attempt 1', 'c started', 'settle c', 'undo b', 'undo a']);
  const audit = await handle.query(auditQuery);
  expect(audit.steps.map((s) => [s.name, s.status])).toEqual([
    ['a', 'completed'],
    ['b', 'completed'],
    ['c', 'cancelled'],
    ['settle-c', 'completed'],
    ['undo-b', 'completed'],
    ['undo-a', 'completed'],
  ]);
  expect(audit.outcome).toBe('cancelled');
  expect((await handle.describe()).status.name).toBe('CANCELLED');
});

test('an approval gate waits; its validator refuses a wrong step or a malformed approval and audits the refusal; the approval names approver and comment', async () => {
  const { handle, log } = await tier.start({ steps: [{ name: 'a' }, { name: 'b', approval: true }, { name: 'c' }] });
  await waitForAudit(handle, waitingOn('b'));
  expect(tier.lines(log)).toEqual(['a attempt 1']); // nothing past the gate
  expect(await handle.query(pendingApprovalQuery)).toMatchObject({ step: 'b', timeout: '24h' });

  const refusal = async (request: unknown) => {
    const err = await handle.executeUpdate(approveUpdate, { args: [request as never] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    return (err as WorkflowUpdateFailedError).cause?.message;
  };
  expect(await refusal({ step: 'c', decision: 'approve', approver: 'mallory' })).toBe('step "c" is not waiting for approval; "b" is');
  expect(await refusal({ step: 'b', decision: 'approve' })).toMatch(/^malformed approval: approver: /);
  const waiting = await handle.query(auditQuery);
  expect(waiting.refusedApprovals.map((r) => [r.step, r.approver])).toEqual([
    ['c', 'mallory'],
    ['b', undefined],
  ]);
  expect(step(waiting, 'b').status).toBe('waiting-approval');
  // The step table, rendered as the task that began the wait ended, tells the operator how to answer.
  const details = await currentDetails(handle);
  expect(details).toContain('> ⏸ Step **b** is waiting for approval since');
  expect(details).toMatch(/\| 2 \| b \| {2}\| ⏸ waiting for approval \|/);

  const response = await handle.executeUpdate(approveUpdate, { args: [{ step: 'b', decision: 'approve', approver: 'alice', comment: 'checked' }] });
  expect(response).toEqual({ step: 'b', decision: 'approved', approver: 'alice' });
  const result = (await handle.result()) as RunbookResult<unknown>;
  expect(tier.lines(log)).toEqual(['a attempt 1', 'b attempt 1', 'c attempt 1']);
  expect(step(result.audit, 'b').approval).toMatchObject({ decision: 'approved', approver: 'alice', comment: 'checked' });
  expect(result.audit.refusedApprovals).toHaveLength(2);
});

test('a rejected gate fails the run and undoes what was done; the step never started, so nothing settles', async () => {
  const { handle, log } = await tier.start({ steps: [{ name: 'a' }, { name: 'b', approval: true, settle: true }, { name: 'c' }] });
  await waitForAudit(handle, waitingOn('b'));
  await handle.executeUpdate(approveUpdate, { args: [{ step: 'b', decision: 'reject', approver: 'bob', comment: 'not now' }] });
  const failure = await runFailure(handle);
  expect(failure.message).toBe('engineTier failed at step b: step "b" was rejected by bob: not now');
  expect(tier.lines(log)).toEqual(['a attempt 1', 'undo a']);
  const audit = auditOf(failure);
  expect(audit.steps.map((s) => s.name)).toEqual(['a', 'b', 'undo-a']);
  expect(step(audit, 'b').approval).toMatchObject({ decision: 'rejected', approver: 'bob', comment: 'not now' });
});

test('a gate with no decision times out: the run fails and undoes what was done; a pre-approved gate does not wait', async () => {
  const timedOut = await tier.start({ steps: [{ name: 'a' }, { name: 'b', approval: { timeout: '1s' } }] });
  const failure = await runFailure(timedOut.handle);
  expect(failure.message).toBe('engineTier failed at step b: no decision on step "b" within 1s; nothing was done for it');
  expect(tier.lines(timedOut.log)).toEqual(['a attempt 1', 'undo a']);
  const approval = step(auditOf(failure), 'b').approval!;
  expect(approval.decision).toBe('timed-out');
  expect(approval.waitedMs).toBeGreaterThanOrEqual(1000);

  const preApproved = await tier.start({ steps: [{ name: 'a', approval: true }], approve: ['a'] });
  const result = (await preApproved.handle.result()) as RunbookResult<unknown>;
  expect(step(result.audit, 'a').approval).toMatchObject({ decision: 'pre-approved', approver: 'input.approve', waitedMs: 0 });
});

test('after the point of no return a failure undoes only what came after it', async () => {
  const { handle, log } = await tier.start({ steps: [{ name: 'a' }, { name: 'b', commitAfter: true }, { name: 'c' }, { name: 'd', fatal: true }] });
  const failure = await runFailure(handle);
  expect(tier.lines(log)).toEqual(['a attempt 1', 'b attempt 1', 'c attempt 1', 'd attempt 1', 'undo c']);
  const audit = auditOf(failure);
  expect(step(audit, 'commit').summary).toBe('b is kept; no longer undone on failure: undo-a, undo-b');
  expect(audit.steps.map((s) => s.name)).toEqual(['a', 'b', 'commit', 'c', 'd', 'undo-c']);
});

test('a compensation that fails is reported as MANUAL ACTION NEEDED, and the other compensations still run', async () => {
  const { handle, log } = await tier.start({ steps: [{ name: 'a', undoFails: true }, { name: 'b' }, { name: 'c', fatal: true }] });
  const failure = await runFailure(handle);
  expect(failure.message).toBe('engineTier failed at step c: c failed on purpose; MANUAL ACTION NEEDED: undo of a failed: undo of a failed on purpose');
  expect(tier.lines(log)).toEqual(['a attempt 1', 'b attempt 1', 'c attempt 1', 'undo b', 'undo a']);
  expect(step(auditOf(failure), 'undo-a').status).toBe('failed');
});

test('plan mode schedules no mutating activity: the plan names every step, its commands and its gate, and nothing is written', async () => {
  const { handle, log } = await tier.start({ steps: [{ name: 'a' }, { name: 'b', approval: true }, { name: 'c', fatal: true }], mode: 'plan' });
  const result = (await handle.result()) as RunbookResult<{ log: string[] }>;
  expect(result.outcome).toBe('planned');
  expect(result.planned.map((p) => [p.step, p.description.endsWith('(needs approval)')])).toEqual([
    ['a', false],
    ['b', true],
    ['c', false],
  ]);
  expect(result.planned[0].commands).toEqual([`append "a attempt <n>" to ${log}`]);
  expect(result.audit.steps.map((s) => [s.name, s.status])).toEqual([
    ['a', 'planned'],
    ['b', 'planned'],
    ['c', 'planned'],
    ['read-log', 'completed'],
  ]);
  const types = await scheduledActivityTypes(handle);
  expect(types).toEqual(['standInReadLog']);
  expect(types.filter((t) => !READ_ONLY_STAND_INS.includes(t))).toEqual([]);
  expect(tier.lines(log)).toEqual([]);
});

test('bad input fails before any activity, naming every problem', async () => {
  const { handle } = await tier.start({ steps: [{ name: '1-bad', failTimes: -1 }], mode: 'dry-run' });
  const failure = await runFailure(handle);
  expect(failure.message).toContain('steps[0].name');
  expect(failure.message).toContain('steps[0].failTimes');
  expect(failure.message).toContain('mode');
  expect(await scheduledActivityTypes(handle)).toEqual([]);
});
