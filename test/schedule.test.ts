import os from 'node:os';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { ScheduleDescription } from '@temporalio/client';
import type { RunbookResult } from '../workflows/engine/runbook';
import { repoRoot, tsxCli } from './helpers/paths';
import { closeTestClient, testClient } from './helpers/temporal';

// `runbook schedule ...` on the real dev server, firing runs on the base lab through the suite's
// worker: a schedule fires on time, an overlapping fire is skipped and counted, pausing stops it,
// trigger fires once, deleting leaves its runs in place, and bad input creates nothing. Intervals are
// seconds so the file takes seconds.

afterAll(closeTestClient);

/** The CLI, as an operator runs it (async: the test polls the server while it runs). */
function runbook(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runbookWithEnv(process.env, ...args);
}

function runbookWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsxCli, path.join(repoRoot, 'cli', 'main.ts'), ...args], { cwd: repoRoot, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function describe(id: string): Promise<ScheduleDescription> {
  return (await testClient()).schedule.getHandle(id).describe();
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function runsOf(scheduleId: string): Promise<Array<{ workflowId: string; status: string }>> {
  const out: Array<{ workflowId: string; status: string }> = [];
  for await (const w of (await testClient()).workflow.list({ query: `TemporalScheduledById = '${scheduleId}'` })) out.push({ workflowId: w.workflowId, status: w.status.name });
  return out;
}

test('bad input, a lock-id runbook or a bad interval: exit 2 and nothing is created', async () => {
  const id = `test-bad-${randomUUID().slice(0, 8)}`;
  // Independent refusals, run side by side (each is a CLI process).
  const [bad, interval, lock] = await Promise.all([
    runbook('schedule', 'create', id, 'hostFacts', '--input', '{"hosts":["BAD HOST"]}', '--every', '10s'),
    runbook('schedule', 'create', id, 'hostFacts', '--input', '{"hosts":["node1"]}', '--every', 'often'),
    runbook('schedule', 'create', id, 'replicateProject', '--input', JSON.stringify({ project: randomUUID(), source: 'node1', replicas: ['node2'] }), '--every', '10m'),
  ]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('hosts[0]: a host name');
  expect(interval.code).toBe(2);
  expect(interval.stderr).toContain('--every "often": a duration like 30s');
  expect(lock.code).toBe(2);
  expect(lock.stderr).toContain('workflow id is its lock');
  const described = await runbook('schedule', 'describe', id);
  expect(described.code).toBe(4);
  expect(described.stderr).toContain(`no schedule with id ${id}`);
}, 120_000);

test('a schedule fires on time against the lab; pausing stops it, trigger fires once, deleting leaves its runs', async () => {
  const id = `test-facts-${randomUUID().slice(0, 8)}`;
  // From a shell without $USER (cron, env -i): the note still names the OS user, never "unknown".
  const { USER: _u, SUDO_USER: _s, ...noUser } = process.env;
  const created = await runbookWithEnv(noUser, 'schedule', 'create', id, 'hostFacts', '--input', '{"hosts":["node1"]}', '--every', '2s', '--catchup-window', '10s');
  expect(created.stderr).toBe('');
  expect(created.code).toBe(0);
  expect((await describe(id)).state.note).toBe(`created by runbook schedule create (${os.userInfo().username})`);
  const d = await until(
    'two fires',
    () => describe(id),
    (x) => x.info.numActionsTaken >= 2,
  );
  expect(d.policies.overlap).toBe('SKIP');
  expect(d.policies.catchupWindow).toBe(10_000);
  // On time: each fire on the 2 s grid, taken within 1.5 s of its time (a loaded CI machine included).
  for (const a of d.info.recentActions) {
    expect(a.scheduledAt.getTime() % 2000).toBe(0);
    expect(a.takenAt.getTime() - a.scheduledAt.getTime()).toBeLessThan(1500);
  }
  // Each fire is an ordinary runbook run against the lab host.
  const client = await testClient();
  for (const a of d.info.recentActions.slice(0, 2)) {
    const r = (await client.workflow.getHandle(a.action.workflow.workflowId).result()) as RunbookResult<{ hosts: Array<{ hostname: string }> }>;
    expect(r.outcome).toBe('succeeded');
    expect(r.value.hosts.map((h) => h.hostname)).toEqual(['node1']);
  }

  // Pausing stops it: no fire across two intervals and more.
  const paused = await runbook('schedule', 'pause', id, '--note', 'test: maintenance window');
  expect(paused.code).toBe(0);
  const taken = (await describe(id)).info.numActionsTaken;
  await new Promise((r) => setTimeout(r, 5000));
  const still = await describe(id);
  expect(still.state.paused).toBe(true);
  expect(still.state.note).toBe('test: maintenance window');
  expect(still.info.numActionsTaken).toBe(taken);

  // Trigger fires once even while paused.
  expect((await runbook('schedule', 'trigger', id)).code).toBe(0);
  await until(
    'the triggered run',
    () => describe(id),
    (x) => x.info.numActionsTaken === taken + 1,
    10_000,
  );

  const shown = await runbook('schedule', 'describe', id);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toContain(`${id}: hostFacts every 2s, overlap skip, catch-up window 10s; PAUSED (test: maintenance window)`);
  // (On a loaded machine a run can outlast the 2 s interval; that fire is skipped, not doubled.)
  expect(shown.stdout).toMatch(new RegExp(`actions taken ${taken + 1}, skipped \\(overlap\\) \\d+, missed \\(catch-up window\\) 0`));
  process.stderr.write(`[schedule] runbook schedule describe ${id}:\n${shown.stdout}`);
  const listed = await runbook('schedule', 'list');
  expect(listed.code).toBe(0);
  expect(listed.stdout).toMatch(new RegExp(`${id}\\s+hostFacts\\s+every 2s\\s+PAUSED`));

  // Deleting leaves the runs it started in place, with their results.
  const before = await until(
    'every run closed',
    () => runsOf(id),
    (rs) => rs.length === taken + 1 && rs.every((r) => r.status === 'COMPLETED'),
    20_000,
  );
  const deleted = await runbook('schedule', 'delete', id);
  expect(deleted.code).toBe(0);
  expect((await describe(id).catch((err: Error) => err)) instanceof Error).toBe(true);
  for (const r of before) expect((await client.workflow.getHandle(r.workflowId).describe()).status.name).toBe('COMPLETED');
  expect((await runsOf(id)).map((r) => r.workflowId).sort()).toEqual(before.map((r) => r.workflowId).sort());
}, 150_000);

test('an overlapping fire is skipped and counted while a run is still open', async () => {
  const id = `test-overlap-${randomUUID().slice(0, 8)}`;
  // The drill's first step waits for an approval, so its run stays open across the next fires.
  const input = { host: 'node1', dir: `/var/tmp/engine-drill/${randomUUID()}`, steps: 2, gatedSteps: ['step-1'] };
  const created = await runbook('schedule', 'create', id, 'engineDrill', '--input', JSON.stringify(input), '--every', '2s');
  expect(created.code).toBe(0);
  const d = await until(
    'two skipped fires',
    () => describe(id),
    (x) => x.info.numActionsSkippedOverlap >= 2,
  );
  expect(d.info.numActionsTaken).toBe(1);
  expect(d.info.runningActions).toHaveLength(1);
  const runs = await runsOf(id);
  expect(runs).toEqual([{ workflowId: d.info.runningActions[0].workflow.workflowId, status: 'RUNNING' }]);
  const shown = await runbook('schedule', 'describe', id);
  expect(Number(/actions taken 1, skipped \(overlap\) (\d+)/.exec(shown.stdout)?.[1])).toBeGreaterThanOrEqual(2);
  expect(shown.stdout).toContain(`running: ${runs[0].workflowId}`);

  // Deleting the schedule leaves even the open run as it is; cancelling it is the operator's call.
  expect((await runbook('schedule', 'delete', id)).code).toBe(0);
  const open = (await testClient()).workflow.getHandle(runs[0].workflowId);
  expect((await open.describe()).status.name).toBe('RUNNING');
  await open.cancel();
  await expect(open.result()).rejects.toThrow();
}, 120_000);
