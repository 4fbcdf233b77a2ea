import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { temporalBinary } from '../lab/temporal-dev-server';
import type { RunbookResult } from '../workflows/engine/runbook';
import { repoRoot, tsxCli } from './helpers/paths';
import { closeTestClient, scheduledActivityTypes, testClient, waitForAudit } from './helpers/temporal';

// Scripts start runbooks without our CLI too: with the Temporal CLI, or with @temporalio/client as
// examples/start-and-wait.ts (the README's example) does. Both are run here as an operator would.

afterAll(closeTestClient);

function temporal(...args: string[]) {
  const r = spawnSync(temporalBinary, [...args, '--address', '127.0.0.1:7233', '--namespace', 'default'], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function example(...args: string[]) {
  const r = spawnSync(process.execPath, [tsxCli, path.join(repoRoot, 'examples', 'start-and-wait.ts'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('`temporal workflow start --type hostFacts --task-queue runbooks --input <json>` runs the runbook', async () => {
  const id = `temporal-cli-test/${randomUUID()}`;
  const r = temporal(
    'workflow',
    'start',
    '--type',
    'hostFacts',
    '--task-queue',
    'runbooks',
    '--workflow-id',
    id,
    '--input',
    JSON.stringify({ hosts: ['node1', 'node2'] }),
    '--static-summary',
    'hostFacts on node1, node2',
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const handle = (await testClient()).workflow.getHandle(id);
  const result = (await handle.result()) as RunbookResult<{ hosts: Array<{ hostname: string }> }>;
  expect(result.outcome).toBe('succeeded');
  expect(result.value.hosts.map((h) => h.hostname)).toEqual(['node1', 'node2']);
  expect(await (await handle.describe()).staticSummary()).toBe('hostFacts on node1, node2');
});

test('`temporal workflow execute` with bad input exits non-zero and prints every problem; no activity ran', async () => {
  const id = `temporal-cli-test/${randomUUID()}`;
  const r = temporal('workflow', 'execute', '--type', 'engineDrill', '--task-queue', 'runbooks', '--workflow-id', id, '--input', JSON.stringify({ host: 'Node 1', dir: '/etc', steps: 0 }));
  expect(r.code).not.toBe(0);
  expect(r.stdout).toContain('invalid input for engineDrill: 3 problems');
  expect(r.stdout).toContain('host: a host name');
  expect(r.stdout).toContain('dir: a folder under /var/tmp/engine-drill/');
  expect(r.stdout).toMatch(/steps: /);
  expect(await scheduledActivityTypes((await testClient()).workflow.getHandle(id))).toEqual([]);
});

test('approve a gate and read the audit with the Temporal CLI alone', async () => {
  const id = `temporal-cli-test/${randomUUID()}`;
  const dir = `/var/tmp/engine-drill/${randomUUID()}`;
  expect(
    temporal('workflow', 'start', '--type', 'engineDrill', '--task-queue', 'runbooks', '--workflow-id', id, '--input', JSON.stringify({ host: 'node1', dir, steps: 2, gatedSteps: ['step-2'] })).code,
  ).toBe(0);
  const handle = (await testClient()).workflow.getHandle(id);
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'step-2' && s.status === 'waiting-approval'));

  const wrong = temporal('workflow', 'update', 'execute', '--workflow-id', id, '--name', 'approve', '--input', JSON.stringify({ step: 'step-1', decision: 'approve', approver: 'script' }));
  expect(wrong.code).not.toBe(0);
  expect(wrong.stderr).toContain('unable to update workflow');
  expect(wrong.stderr).toContain('is not waiting for approval');
  expect(wrong.stderr).toContain('type: ApprovalRefused');
  // A script (or the UI's Update form) that names nobody is told what to fill in.
  const anonymous = temporal('workflow', 'update', 'execute', '--workflow-id', id, '--name', 'approve', '--input', JSON.stringify({ step: 'step-2', decision: 'approve' }));
  expect(anonymous.code).not.toBe(0);
  expect(anonymous.stderr).toContain('malformed approval: approver: name the approver: fill in');

  const ok = temporal(
    'workflow',
    'update',
    'execute',
    '--workflow-id',
    id,
    '--name',
    'approve',
    '--input',
    JSON.stringify({ step: 'step-2', decision: 'approve', approver: 'script', comment: 'from cron' }),
  );
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
  const result = (await handle.result()) as RunbookResult<unknown>;
  // The refusal is in the run's own audit log (Temporal keeps no record of a refused update).
  expect(result.audit.refusedApprovals).toEqual([
    expect.objectContaining({ step: 'step-1', approver: 'script' }),
    expect.objectContaining({ step: 'step-2', reason: expect.stringContaining('name the approver') }),
  ]);

  const query = temporal('workflow', 'query', '--workflow-id', id, '--type', 'audit', '--output', 'json');
  expect(query.code).toBe(0);
  const audit = JSON.parse(query.stdout).queryResult[0];
  expect(audit).toMatchObject({ workflowId: id, outcome: 'succeeded' });
  expect(audit.steps.find((s: { name: string }) => s.name === 'step-2').approval).toMatchObject({ decision: 'approved', approver: 'script', comment: 'from cron' });
  // (Not refusedApprovals: this query is answered by replaying the closed run's history, which has no
  // trace of a refused update, so the replayed audit lacks it. The result above keeps it.)
});

test('examples/start-and-wait.ts starts a runbook, waits, and exits 0 with its result', () => {
  const r = example('engineDrill', JSON.stringify({ host: 'node1', dir: `/var/tmp/engine-drill/${randomUUID()}`, steps: 2, gatedSteps: ['step-2'] }), '--approve', 'step-2');
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out).toMatchObject({ outcome: 'succeeded', value: { log: ['do 1', 'do 2'] } });
  expect(r.stderr).toMatch(/^started script\/engineDrill\//);
});

test("examples/start-and-wait.ts exits 1 with the runbook's own failure message", () => {
  const r = example('engineDrill', JSON.stringify({ host: 'node1', dir: `/var/tmp/engine-drill/${randomUUID()}`, steps: 3, failAtStep: 2 }));
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain('engineDrill failed at step step-2: drill step 2 failed on purpose (exit 3)');
});
