import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { HistoryDecoder } from '../cli/history/decode';
import { buildRetroFromEventsOnly } from '../cli/retro/build';
import { runbookDataConverter } from '../workers/data-converter';
import type { RunbookResult } from '../workflows/engine/runbook';
import { RUNBOOKS_TASK_QUEUE } from '../common/task-queues';
import { auditQuery } from '../workflows/engine/messages';
import { waitForFirstActivityCompleted } from './helpers/history-watch';
import { hostLines } from './helpers/lab-host';
import { closeTestClient, runFailure, scheduledActivityTypes, startRunbook, testClient, waitForAudit } from './helpers/temporal';

const host = 'node1';
const drillDir = () => `/var/tmp/engine-drill/${randomUUID()}`;

afterAll(closeTestClient);

test('a multi-step run completes and its audit log has each command, exit code and timing', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 3 });
  const result = (await handle.result()) as RunbookResult<{ log: string[] }>;
  expect(result.outcome).toBe('succeeded');
  expect(result.value.log).toEqual(['do 1', 'do 2', 'do 3']);
  expect(await hostLines(host, `${dir}/log`)).toEqual(['do 1', 'do 2', 'do 3']);

  const steps = result.audit.steps.filter((s) => s.name.startsWith('step-'));
  expect(steps.map((s) => [s.name, s.status])).toEqual([
    ['step-1', 'completed'],
    ['step-2', 'completed'],
    ['step-3', 'completed'],
  ]);
  for (const s of steps) {
    expect(s.attempts).toHaveLength(1);
    expect(Date.parse(s.endedAt!)).toBeGreaterThanOrEqual(Date.parse(s.startedAt));
    expect(s.commands).toHaveLength(1);
    const [c] = s.commands;
    expect(c.host).toBe(host);
    expect(c.exitCode).toBe(0);
    expect(c.command).toContain(`${dir}/lock`);
    expect(c.durationMs).toBeGreaterThanOrEqual(0);
    expect(Number.isNaN(Date.parse(c.startedAt))).toBe(false);
    expect(c.stdoutTail.trim()).toBe('done');
  }
  expect(result.audit.outcome).toBe('succeeded');
});

test('a failure at step k of n settles step k, then compensates steps k-1..1 in reverse order', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 4, failAtStep: 3 });
  const failure = await runFailure(handle);
  expect(failure.message).toMatch(/engineDrill failed at step step-3: drill step 3 failed on purpose \(exit 3\)/);
  expect(await hostLines(host, `${dir}/log`)).toEqual(['do 1', 'do 2', 'settle 3', 'undo 2', 'undo 1']);
  // step 4 never ran
  const types = await scheduledActivityTypes(handle);
  expect(types.filter((t) => t === 'drillDo')).toHaveLength(2);
  expect(types.filter((t) => t === 'drillUndo')).toHaveLength(2);
  // The failed command is in the audit, with its exit code and stderr.
  const audit = (failure as { details?: unknown[] }).details?.[0] as RunbookResult<unknown>['audit'];
  const failed = audit.steps.find((s) => s.name === 'step-3')!;
  expect(failed.status).toBe('failed');
  expect(failed.commands[0].exitCode).toBe(3);
  expect(failed.commands[0].stderrTail).toContain('step 3 fails on purpose');
  expect(audit.steps.filter((s) => s.kind === 'compensate').map((s) => s.compensates)).toEqual(['step-2', 'step-1']);
  // The step cut short was settled as a step of its own, right after it and before the compensations.
  expect(audit.steps.map((s) => s.name).slice(audit.steps.indexOf(failed))).toEqual(['step-3', 'settle-step-3', 'undo-step-2', 'undo-step-1']);
  expect(audit.outcome).toBe('failed');
});

test('cancelling a run mid-way compensates what it did, in reverse order', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 5, stepSeconds: 1 });
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'step-3' && s.status === 'running'));
  await handle.cancel();
  const failure = await runFailure(handle);
  expect(failure.name).toBe('CancelledFailure');
  const lines = await hostLines(host, `${dir}/log`);
  // step-3 was running when cancelled: its remote command may or may not have written before it was stopped,
  // but it never registered a compensation, so only steps 1 and 2 are undone, newest first.
  expect(lines.slice(0, 2)).toEqual(['do 1', 'do 2']);
  expect(lines.filter((l) => l.startsWith('undo'))).toEqual(['undo 2', 'undo 1']);
  const description = await handle.describe();
  expect(description.status.name).toBe('CANCELLED');
});

test('activities of parallel steps carry their own step in their summary, also after an await', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 1, parallelReads: 3 });
  const result = (await handle.result()) as RunbookResult<{ log: string[] }>;
  expect(result.outcome).toBe('succeeded');
  const seqOf = new Map(result.audit.steps.map((s) => [s.name, s.seq]));
  const history = await handle.fetchHistory();
  const reads = (history.events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'drillReadLog')
    .map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : undefined));
  // Three steps side by side, two reads each; the second read of each is scheduled after an await,
  // while the other steps are also in flight: each still names its own step and attempt.
  const expected = [1, 2, 3].flatMap((k) => Array(2).fill(`#${seqOf.get(`parallel-read-${k}`)} parallel-read-${k} @${host} · inspect · attempt 1`));
  expect(reads.slice(0, 6).sort()).toEqual(expected.sort());
});

test('quick read-only steps run as local activities: no activity task, one marker each, the same audit, and their summaries', async () => {
  const dir = drillDir();
  const handle = await startRunbook('engineDrill', { host, dir, steps: 3, action: 'read-true' });
  const result = (await handle.result()) as RunbookResult<{ log: string[] }>;
  expect(result.outcome).toBe('succeeded');
  const steps = result.audit.steps.filter((s) => s.name.startsWith('step-'));
  expect(steps.map((s) => [s.name, s.kind, s.status, s.attempts.length, s.commands.map((c) => [c.command, c.exitCode])])).toEqual(
    [1, 2, 3].map((n) => [`step-${n}`, 'inspect', 'completed', 1, [['true', 0]]]),
  );
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  expect(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'drillTrue')).toHaveLength(0);
  expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(3);
  // A retrospective rebuilt from the events alone reads each marker as the step's activity: its
  // attempt, its command and the step it belongs to, from the summary the engine put on it.
  const retro = buildRetroFromEventsOnly(await new HistoryDecoder(runbookDataConverter).history(history), 'quick');
  expect(retro.steps.filter((s) => s.name.startsWith('step-')).map((s) => [s.name, s.kind, s.host, s.attempts.length, s.commands.map((c) => c.command)])).toEqual(
    [1, 2, 3].map((n) => [`step-${n}`, 'inspect', host, 1, ['true']]),
  );
});

test('a cancel that arrives during quick steps lands at the next heartbeat of the workflow task running them (80% of its timeout): the step is cancelled and nothing after it starts', async () => {
  // A local activity is not cancelled from the server: the cancel waits for the workflow task that
  // runs the quick steps to complete or heartbeat (which is why quick steps are reads of milliseconds).
  const client = await testClient();
  const handle = await client.workflow.start('engineDrill', {
    taskQueue: RUNBOOKS_TASK_QUEUE,
    workflowId: `test/engineDrill/${randomUUID()}`,
    workflowTaskTimeout: '2s',
    args: [{ host, dir: drillDir(), steps: 4, action: 'read-true', stepSeconds: 1 }],
  });
  await waitForFirstActivityCompleted(handle); // resolve-hosts
  await new Promise((r) => setTimeout(r, 300)); // step-1 is sleeping on the host, as a local activity
  const cancelledAt = Date.now();
  await handle.cancel();
  const failure = await runFailure(handle);
  expect(failure.name).toBe('CancelledFailure');
  expect(Date.now() - cancelledAt).toBeLessThan(3_500); // not after all four 1 s steps
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  expect(await scheduledActivityTypes(handle)).toEqual(['describeHosts']); // read-log never started
  const steps = (await handle.query(auditQuery)).steps.filter((s) => s.name.startsWith('step-'));
  expect(steps.length).toBeLessThan(4);
  expect(steps.at(-1)!.status).toBe('cancelled');
});
