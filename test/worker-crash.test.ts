import { randomUUID } from 'node:crypto';
import type { RunbookResult } from '../workflows/engine/runbook';
import { execInHost } from '../lab/exec';
import { shq } from '../activities/ssh/command';
import { waitForFirstActivityCompleted } from './helpers/history-watch';
import { hostLines } from './helpers/lab-host';
import { closeTestClient, resultWithin, startRunbook, testClient, waitForAudit } from './helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

// This run gets its own task queue and worker process, so killing that worker is like losing the
// machine it ran on: the shared test worker cannot pick the work up behind our back.
const taskQueue = `crash-test-${randomUUID().slice(0, 8)}`;
let worker: WorkerProcess | undefined;

async function lockHeld(host: string, lock: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await execInHost(host, `flock -n ${shq(lock)} true`);
    if (r.code !== 0) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`${lock} was never taken on ${host}`);
}

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await closeTestClient();
});

test('a worker killed with SIGKILL mid-run is replaced, the run completes, and no completed step ran twice', async () => {
  const dir = `/var/tmp/engine-drill/${randomUUID()}`;
  worker = await startWorkerProcess({ taskQueue });
  const handle = await startRunbook('engineDrill', { host: 'node1', dir, steps: 4, stepSeconds: 2 }, { taskQueue });

  // Kill it while step-2's remote command is sleeping: step-1 is complete, step-2 is in flight. The
  // audit says step-2 began; the lock it holds on the host says its activity really is running.
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'step-2' && s.status === 'running'));
  await lockHeld('node1', `${dir}/lock`);
  await worker.stop('SIGKILL');
  expect(await hostLines('node1', `${dir}/log`)).toEqual(['do 1']);

  worker = await startWorkerProcess({ taskQueue });
  const result = (await handle.result()) as RunbookResult<{ log: string[] }>;
  expect(result.outcome).toBe('succeeded');
  // Side effects counted on the host: each step's marker exactly once.
  expect(await hostLines('node1', `${dir}/log`)).toEqual(['do 1', 'do 2', 'do 3', 'do 4']);
  // step-2 needed a second attempt (the first one's worker died); step-1 was not repeated.
  const step1 = result.audit.steps.find((s) => s.name === 'step-1')!;
  const step2 = result.audit.steps.find((s) => s.name === 'step-2')!;
  expect(step1.attempts).toHaveLength(1);
  expect(step2.attempts.length).toBeGreaterThanOrEqual(2);
  expect(step2.attempts[0].error?.type).toMatch(/^Timeout/);
});

test("a running step's heartbeats reach the server every second, so a slow worker is not taken for a dead one", async () => {
  // The SDK holds heartbeats back to 0.8 x the heartbeat timeout unless the worker caps it: with the
  // engine's 10 s timeout the server would hear from a live 6 s step once, then after 8 s.
  worker ??= await startWorkerProcess({ taskQueue });
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) worker = await startWorkerProcess({ taskQueue });
  const handle = await startRunbook('engineDrill', { host: 'node1', dir: `/var/tmp/engine-drill/${randomUUID()}`, steps: 1, stepSeconds: 6 }, { taskQueue });
  const seen = new Set<number>();
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    const { raw } = await handle.describe();
    if (raw.workflowExecutionInfo?.status !== 1) break; // no longer running
    for (const a of raw.pendingActivities ?? []) {
      const t = a.lastHeartbeatTime;
      if (t?.seconds != null) seen.add(Number(t.seconds) * 1000 + Math.round((t.nanos ?? 0) / 1e6));
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  expect((await handle.result()) as RunbookResult<unknown>).toMatchObject({ outcome: 'succeeded' });
  const times = [...seen].sort((a, b) => a - b);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  // Six seconds of a running command, heartbeats each second: at least four reach the server, none
  // more than 2.5 s apart (with the SDK's default throttle it is one, or two 8 s apart).
  expect(times.length).toBeGreaterThanOrEqual(4);
  expect(Math.max(...gaps)).toBeLessThanOrEqual(2_500);
});

test('a worker killed during quick read-only steps (local activities not yet recorded) is replaced: they run again, and each is recorded once', async () => {
  // Quick steps' results reach the history only when the workflow task that ran them completes: a
  // worker lost before that loses them, and the next worker runs them again (they only read). A short
  // workflow task timeout makes the server notice the lost task in seconds.
  worker ??= await startWorkerProcess({ taskQueue });
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) worker = await startWorkerProcess({ taskQueue });
  const client = await testClient();
  const handle = await client.workflow.start('engineDrill', {
    taskQueue,
    workflowId: `test/engineDrill/${randomUUID()}`,
    workflowTaskTimeout: '3s',
    args: [{ host: 'node1', dir: `/var/tmp/engine-drill/${randomUUID()}`, steps: 3, action: 'read-true', stepSeconds: 1 }],
  });
  await waitForFirstActivityCompleted(handle); // resolve-hosts
  await new Promise((r) => setTimeout(r, 1_500)); // step-1 done on the worker, step-2 sleeping: nothing recorded yet
  await worker.stop('SIGKILL');
  const before = (await handle.fetchHistory()).events ?? [];
  expect(before.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(0);

  worker = await startWorkerProcess({ taskQueue });
  const result = await resultWithin<RunbookResult<unknown>>(handle, 60_000);
  expect(result.outcome).toBe('succeeded');
  const steps = result.audit.steps.filter((s) => s.name.startsWith('step-'));
  expect(steps.map((s) => [s.name, s.status, s.attempts.length])).toEqual([1, 2, 3].map((n) => [`step-${n}`, 'completed', 1]));
  const events = (await handle.fetchHistory()).events ?? [];
  expect(events.some((e) => e.workflowTaskTimedOutEventAttributes)).toBe(true);
  expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(3);
});
