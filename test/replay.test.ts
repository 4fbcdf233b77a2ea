import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { catalog } from '../runbooks/catalog';
import { parseHistoryFile } from '../cli/history/load';
import { bundleWorkflows, quietReplayRuntime, replayHistories, type ReplayItem } from '../cli/replay/replayer';
import { createRunbooksWorker } from '../workers/runbooks-worker';
import { closeSharedPool } from '../activities/ssh/shared-pool';
import { changedWorkflows } from './helpers/changed-workflows';
import { repoRoot, tsxCli } from './helpers/paths';
import { closeTestClient, testClient, waitForAudit } from './helpers/temporal';

// CI replays every recorded history (test/histories/, written by scripts/record-histories.ts) against
// the workflow code in this checkout: a change that would break runs already in flight fails here.

const historiesDir = path.join(repoRoot, 'test', 'histories');
const historyFiles = readdirSync(historiesDir)
  .flatMap((runbook) => readdirSync(path.join(historiesDir, runbook)).map((f) => path.join(runbook, f)))
  .filter((f) => f.endsWith('.json'))
  .sort();

function item(file: string): ReplayItem {
  const { history, workflowId } = parseHistoryFile(path.join(historiesDir, file));
  return { name: file, workflowId, history };
}

/** The id of the ActivityTaskScheduled event the engine tagged with this step and attempt. */
function scheduledEventOf(file: string, summaryPrefix: string): number {
  const events = (JSON.parse(readFileSync(path.join(historiesDir, file), 'utf8')) as { events: Array<Record<string, any>> }).events;
  const e = events.find(
    (ev) =>
      ev.activityTaskScheduledEventAttributes &&
      Buffer.from(ev.userMetadata?.summary?.data ?? '', 'base64')
        .toString()
        .includes(summaryPrefix),
  );
  if (!e) throw new Error(`${file} has no activity tagged ${summaryPrefix}`);
  return Number(e.eventId);
}

function runbookCli(...args: string[]) {
  const r = spawnSync(process.execPath, [tsxCli, path.join(repoRoot, 'cli', 'main.ts'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

// A developer adds a read-only step before step 2 of engineDrill: harmless for new runs, fatal for
// runs that were past step 1 when the new code was deployed.
const ADDED_STEP = "      if (step === 2) await rb.inspect({ name: 'peek', host: i.host, run: () => acts.drillReadLog(i.host, i.dir) });\n";
let current: WorkflowBundle;
let changed: { bundle: WorkflowBundle; indexPath: string; cleanup: () => void };

beforeAll(async () => {
  quietReplayRuntime();
  current = await bundleWorkflows();
  const copy = changedWorkflows('workflows/engineDrill.ts', '      const name = `step-${step}`;\n', ADDED_STEP);
  changed = { ...copy, bundle: await bundleWorkflows(copy.indexPath) };
});

afterAll(async () => {
  changed?.cleanup();
  await closeTestClient();
});

test('every runbook has recorded histories to replay', () => {
  // Every workflow type the worker registers (importing the module runs no workflow code).
  const exported = Object.keys(require('../workflows') as Record<string, unknown>);
  const runbooks = [...new Set([...catalog.map((e) => e.name), ...exported])];
  const missing = runbooks.filter((r) => !existsSync(path.join(historiesDir, r)) || !readdirSync(path.join(historiesDir, r)).some((f) => f.endsWith('.json')));
  expect({ missing, hint: 'record them: npx tsx scripts/record-histories.ts --runbook <name>' }).toEqual({ missing: [], hint: expect.any(String) });
  // engineDrill exercises every engine path; its recordings must cover each of them.
  expect(readdirSync(path.join(historiesDir, 'engineDrill')).sort()).toEqual(
    expect.arrayContaining(['completed.json', 'failed-compensated.json', 'cancelled.json', 'approved.json', 'rejected.json', 'approval-timed-out.json', 'running-waiting-approval.json']),
  );
});

test('every recorded history replays against the current workflow code', async () => {
  const reports = await replayHistories(historyFiles.map(item), current);
  expect(reports.filter((r) => !r.ok).map((r) => r.summary)).toEqual([]);
  expect(reports).toHaveLength(historyFiles.length);
});

test('a changed workflow is reported as nondeterministic, naming the event and the step where it diverged', async () => {
  const files = ['engineDrill/completed.json', 'engineDrill/failed-compensated.json', 'engineDrill/approved.json', 'engineDrill/running-waiting-approval.json', 'hostFacts/completed.json'];
  const reports = await replayHistories(files.map(item), changed.bundle);
  const byName = Object.fromEntries(reports.map((r) => [r.name, r]));
  // hostFacts did not change
  expect(byName['hostFacts/completed.json'].ok).toBe(true);
  // Where step-2 ran its act, the new code wants the new step's activity instead.
  for (const f of ['engineDrill/completed.json', 'engineDrill/failed-compensated.json']) {
    const r = byName[f];
    expect(r).toMatchObject({ ok: false, nondeterminism: true });
    expect(r.divergence).toMatchObject({
      eventId: scheduledEventOf(f, '#3 step-2 @node1 · mutate · attempt 1'),
      insideStep: true,
      step: { seq: 3, name: 'step-2', host: 'node1' },
      lastCompletedStep: { name: 'step-1' },
    });
    expect(r.summary).toContain('in step #3 step-2 @node1');
  }
  // Where step-2 waited for approval first, the divergence is the approval timer of step-2.
  for (const f of ['engineDrill/approved.json', 'engineDrill/running-waiting-approval.json']) {
    const r = byName[f];
    expect(r).toMatchObject({ ok: false, nondeterminism: true, divergence: { eventType: 'TimerStarted', step: { name: 'step-2' }, insideStep: true } });
    expect(r.summary).toMatch(/approval wait/);
  }
});

test('`runbook replay` exits 0 on the recorded histories and 1, naming the step, against changed code', () => {
  const ok = runbookCli('replay', 'test/histories/engineDrill/completed.json', 'test/histories/hostFacts');
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain('test/histories/engineDrill/completed.json: OK');
  expect(ok.stdout).toMatch(/histories replay against workflows\//);

  const bad = runbookCli('--json', 'replay', 'test/histories/engineDrill/completed.json', '--workflows', changed.indexPath);
  expect(bad.code).toBe(1);
  const out = JSON.parse(bad.stdout);
  expect(out).toMatchObject({ ok: false, failed: 1, reports: [{ nondeterminism: true, divergence: { step: { name: 'step-2' } } }] });

  expect(runbookCli('replay', 'test/histories/no-such-file.json').code).toBe(4);
});

test('`runbook replay <workflow-id>` fetches a live run from the server and replays it', async () => {
  const handle = await (await testClient()).workflow.start('hostFacts', { taskQueue: 'runbooks', workflowId: `replay-test/${randomUUID()}`, args: [{ hosts: ['node1'] }] });
  await handle.result();
  const r = runbookCli('replay', handle.workflowId);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`${handle.workflowId}: OK`);
});

describe('a nondeterministic deploy on a live worker', () => {
  let connection: NativeConnection;
  const taskQueue = `replay-test-${randomUUID()}`;
  beforeAll(async () => {
    connection = await NativeConnection.connect({ address: '127.0.0.1:7233' });
  });
  afterAll(async () => {
    await connection?.close();
    closeSharedPool(); // the in-process workers' SSH connections to the lab
  });
  const worker = (bundle: WorkflowBundle) => createRunbooksWorker({ connection, taskQueue, workflowsPath: undefined, workflowBundle: bundle, shutdownGraceTime: '1s' });

  /** A run that the old code brought to its approval gate, then woken up on the changed code. */
  async function runIntoChangedCode(strict: boolean) {
    const handle = await (
      await testClient()
    ).workflow.start('engineDrill', {
      taskQueue,
      workflowId: `replay-test/${randomUUID()}`,
      args: [{ host: 'node1', dir: `/var/tmp/engine-drill/${randomUUID()}`, steps: 3, gatedSteps: ['step-2'] }],
    });
    await (await worker(current)).runUntil(waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'step-2' && s.status === 'waiting-approval')));
    if (strict) process.env.RUNBOOK_FAIL_ON_NONDETERMINISM = '1';
    let deployed;
    try {
      deployed = await worker(changed.bundle); // reads the policy from the environment, as workers/main.ts does
    } finally {
      delete process.env.RUNBOOK_FAIL_ON_NONDETERMINISM;
    }
    // A signal wakes the run up (an update would wait for the workflow to accept it, which a worker
    // that cannot replay the run never does).
    await deployed.runUntil(async () => {
      await handle.signal('wake-up');
      for (let i = 0; i < 150; i++) {
        const events = (await handle.fetchHistory()).events ?? [];
        if (events.some((e) => /Nondeterminism/.test(e.workflowTaskFailedEventAttributes?.failure?.message ?? e.workflowExecutionFailedEventAttributes?.failure?.message ?? ''))) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error('the changed code never hit the nondeterminism');
    });
    return handle;
  }

  test('by default the workflow task fails and the run stays open, to resume on fixed code', async () => {
    const handle = await runIntoChangedCode(false);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test cleanup: the changed code can never finish it');
  });

  test('RUNBOOK_FAIL_ON_NONDETERMINISM=1 fails the run instead', async () => {
    const handle = await runIntoChangedCode(true);
    expect((await handle.describe()).status.name).toBe('FAILED');
    const failure = await handle.result().catch((err: { cause?: Error }) => err.cause);
    expect(failure?.message).toMatch(/Nondeterminism/);
  });
});
