import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { startSshd, stopSshd } from '../lab/lab';
import type { RunbookResult } from '../workflows/engine/runbook';
import type { ReplicateProjectResult } from '../workflows/replicateProject';
import { closeTestClient, failureWithin, resultWithin } from './helpers/temporal';
import { createProject, snapshotsOn, startReplicationLab, type ReplicationLab } from './helpers/replication-lab';

// The stream from the source's `zfs send` through the worker into the replica's `zfs recv`, broken
// on purpose: the replica's SSH connection cut mid-stream, the worker SIGKILLed mid-stream, the run
// cancelled mid-stream. Each time both remote sides must stop, the replica must stay at its previous
// snapshot (zfs-fuse has no resumable receive: nothing is half-applied), and the run must recover and
// leave every replica consistent and complete, judged by the scenario's independent check.

let lab: ReplicationLab;
let id: string;
const MiB = 2 ** 20;
// The worker's pipe holds the stream to this rate, so "mid-stream" lasts long enough to hit.
const RATE = 12 * MiB;
// The project's first full stream: 5 s at RATE, twice the time to see its first bytes and wait a second
// (load only slows a stream further). It was 96 MiB: every full stream of the file paid 3 s more.
const BIG_MIB = 64;

beforeAll(async () => {
  lab = await startReplicationLab('replicate-faults', 164);
  id = await createProject(lab, 'compute1', { quotaBytes: 2048 * MiB, bigMiB: BIG_MIB });
}, 120_000);

// A test that failed or timed out leaves no run behind to change the hosts under the next one.
afterEach(async () => {
  await lab?.terminateOpenRuns('the test that started this run has ended');
}, 30_000);

/** A run (its streams capped at RATE) takes 10-20 s here; one that has not ended in this long is stuck, and says where. */
const RUN_MS = 90_000;

afterAll(async () => {
  await lab?.stop();
  await closeTestClient();
}, 60_000);

type Result = RunbookResult<ReplicateProjectResult>;

/** Bytes the running stream activity reported in its last heartbeat (0 before it started). */
async function streamedBytes(handle: WorkflowHandle): Promise<number> {
  const d = await handle.describe();
  const pending = d.raw.pendingActivities ?? [];
  const send = pending.find((a) => a.activityType?.name === 'zfsSendSnapshot');
  const payload = send?.heartbeatDetails?.payloads?.[0];
  if (!payload) return 0;
  return (defaultPayloadConverter.fromPayload(payload) as { bytes?: number }).bytes ?? 0;
}

/**
 * Wait until the stream runs (its first heartbeat reported bytes), then `moreMs` longer. Heartbeats
 * reach the server at most every 0.8 x the heartbeat timeout, so their byte counts show progress
 * but cannot time a cut precisely; the pipe's rate cap makes "first bytes + a second" mid-stream.
 */
async function midStream(handle: WorkflowHandle, moreMs: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const b = await streamedBytes(handle).catch(() => 0);
    if (b > 0) {
      await new Promise((r) => setTimeout(r, moreMs));
      return b;
    }
    if (Date.now() > deadline) throw new Error('the stream never reported a byte count');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `zfs send` / `zfs recv` processes in a host (its own PID namespace). */
async function zfsStreams(host: string): Promise<string[]> {
  const r = await lab.ctx[host].exec(`ps -eo args | grep -E '^zfs (send|recv)' || true`);
  return r.stdout.split('\n').filter(Boolean);
}

async function untilNoStreams(hosts: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = (await Promise.all(hosts.map(async (h) => (await zfsStreams(h)).map((p) => `${h}: ${p}`)))).flat();
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`still running: ${left.join('; ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('the replica SSH connection is cut mid-stream: both sides stop, nothing is half-applied, the run recovers', async () => {
  const handle = await lab.start('replicateProject', { project: id, source: 'compute1', replicas: ['compute2'], bandwidthLimitBytesPerSecond: RATE }, `replicate/${id}`);
  const cutAt = await midStream(handle, 1_000);
  await stopSshd('compute2'); // drops the connection: sshd and its session processes (zfs recv) die
  // The worker notices and stops the sender; the truncated full stream left no dataset behind.
  await untilNoStreams(['compute1', 'compute2']);
  expect(await snapshotsOn(lab, 'compute2', `projects/${id}`)).toEqual([]);
  await startSshd('compute2');

  const result = await resultWithin<Result>(handle, RUN_MS);
  expect(result.value.replicas[0]).toMatchObject({ host: 'compute2', result: 'sent', stream: { kind: 'full' } });
  expect(result.value.bytesSent).toBeGreaterThan(BIG_MIB * MiB);
  const send = result.audit.steps.find((s) => s.name === 'send')!;
  expect(send.attempts.length).toBeGreaterThanOrEqual(2);
  expect(send.attempts[0].error?.type).toBe('StreamInterrupted');
  expect(send.attempts[0].error?.message).toMatch(/the stream was cut after \d+ bytes \(the connection to the receiver compute2 was lost\)/);
  const cutBytes = Number(/cut after (\d+) bytes/.exec(send.attempts[0].error!.message)![1]);
  expect(cutBytes).toBeGreaterThanOrEqual(cutAt);
  expect(cutBytes).toBeLessThan(BIG_MIB * MiB);
  // Consistent and complete: same snapshot by guid, same files, unmounted, quota; one snapshot, received once.
  const check = await lab.check([{ id, source: 'compute1', replicas: ['compute2'] }]);
  expect(check.checks.filter((c) => !c.ok)).toEqual([]);
  expect(await snapshotsOn(lab, 'compute2', `projects/${id}`)).toEqual(await snapshotsOn(lab, 'compute1', `projects/${id}`));
}, 180_000);

test('the worker is SIGKILLed mid-stream: the remote sides die with its connections, a new worker finishes the run', async () => {
  await lab.sh('compute1', `head -c ${80 * MiB} /dev/urandom > /projects/${id}/data/more.bin`);
  const before = await snapshotsOn(lab, 'compute2', `projects/${id}`);
  const handle = await lab.start('replicateProject', { project: id, source: 'compute1', replicas: ['compute2', 'compute3'], bandwidthLimitBytesPerSecond: RATE }, `replicate/${id}`);
  await midStream(handle, 1_000);
  await lab.worker.stop('SIGKILL');
  await untilNoStreams(['compute1', 'compute2', 'compute3']);
  // compute2's increment did not land; compute3 (new) has no dataset.
  expect(await snapshotsOn(lab, 'compute2', `projects/${id}`)).toEqual(before);
  await lab.restartWorker();

  const result = await resultWithin<Result>(handle, RUN_MS);
  expect(result.value.replicas.map((r) => [r.host, r.result, r.stream?.kind])).toEqual([
    ['compute2', 'sent', 'incremental'],
    ['compute3', 'sent', 'full'],
  ]);
  const sends = result.audit.steps.filter((s) => s.name === 'send');
  // Both streams died with the worker: their attempts timed out (no heartbeat), and the engine's
  // second attempt, on the new worker, sent each increment once, whole.
  expect(sends.map((s) => [s.host, s.attempts.map((x) => x.error?.type ?? 'ok')])).toEqual([
    ['compute2', ['Timeout:HEARTBEAT', 'ok']],
    ['compute3', ['Timeout:HEARTBEAT', 'ok']],
  ]);
  const check = await lab.check([{ id, source: 'compute1', replicas: ['compute2', 'compute3'] }]);
  expect(check.checks.filter((c) => !c.ok)).toEqual([]);
  const source = await snapshotsOn(lab, 'compute1', `projects/${id}`);
  expect(await snapshotsOn(lab, 'compute2', `projects/${id}`)).toEqual(source);
  expect(await snapshotsOn(lab, 'compute3', `projects/${id}`)).toEqual([source.at(-1)]);
}, 180_000);

test('a run cancelled mid-stream stops both remote sides and leaves the replica at its previous snapshot', async () => {
  await lab.sh('compute1', `head -c ${120 * MiB} /dev/urandom > /projects/${id}/data/cancel.bin`);
  const before = await snapshotsOn(lab, 'compute2', `projects/${id}`);
  const handle = await lab.start('replicateProject', { project: id, source: 'compute1', replicas: ['compute2'], bandwidthLimitBytesPerSecond: 8 * MiB }, `replicate/${id}`);
  await midStream(handle, 1_000);
  await handle.cancel();
  const failure = await failureWithin(handle, RUN_MS);
  expect(failure.name).toBe('CancelledFailure');
  await untilNoStreams(['compute1', 'compute2']);
  expect(await snapshotsOn(lab, 'compute2', `projects/${id}`)).toEqual(before);
}, 180_000);
