import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { retroFromHistory } from '../cli/retro';
import { startSshd, stopSshd } from '../lab/lab';
import { runbookDataConverter } from '../workers/data-converter';
import { auditQuery } from '../workflows/engine/messages';
import type { RunbookResult } from '../workflows/engine/runbook';
import { sweepProgressQuery, type SweepProgress, type SweepResult } from '../workflows/replicateProjects';
import type { ProjectsManifest } from '../lab/scenarios/zfs-projects';
import { repoRoot, tsxCli } from './helpers/paths';
import { closeTestClient, resultWithin, testClient } from './helpers/temporal';
import { startReplicationLab, within, type ReplicationLab } from './helpers/replication-lab';

// replicateProjects over the zfs-projects lab: child replicateProject runs under limits overall and
// per host, a failure threshold that stops scheduling, continue-as-new between batches, live progress,
// and a summary that gives every failure's reason. Judged by the scenario's independent check.

let lab: ReplicationLab;
let threshold: ProjectsManifest;
let big: ProjectsManifest;
const HOSTS = ['compute1', 'compute2', 'compute3'];
const EVERY_GATE = HOSTS.flatMap((h) => [`rollback-${h}`, `replace-${h}`]);

beforeAll(async () => {
  lab = await startReplicationLab('replicate-sweep', 167);
}, 120_000);

// A test that failed or timed out leaves no sweep (nor its children) behind to change the hosts
// under the next one: the CI run where the no-change sweep found 160 projects to do had one going.
afterEach(async () => {
  await lab?.terminateOpenRuns('the test that started this run has ended');
}, 30_000);

afterAll(async () => {
  await lab?.stop();
  await closeTestClient();
}, 60_000);

type Result = RunbookResult<SweepResult>;

/** Poll the sweep's progress query while it runs; returns every answer seen. */
function watch(handle: WorkflowHandle): { seen: SweepProgress[]; stop: () => Promise<void> } {
  const seen: SweepProgress[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const p = await within(10_000, 'the sweep progress query', handle.query(sweepProgressQuery)).catch(() => null);
      if (p) seen.push(p);
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Every run of a workflow that continued as new, first to last, with their histories. */
async function runChain(client: Client, workflowId: string, firstRunId: string): Promise<temporal.api.history.v1.IHistory[]> {
  const out: temporal.api.history.v1.IHistory[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const history: temporal.api.history.v1.IHistory = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    out.push(history);
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return out;
}

test('a sweep stops scheduling once its failure threshold is reached; `runbook start --wait` lists every refusal with its remedy and exits 5', async () => {
  threshold = await lab.generate({ count: 20, seed: 'sweep-threshold', divergedSnapshot: 10 });
  // Through the CLI, as an operator starts it (the lab's worker polls its own queue).
  const workflowId = `replicateProjects/threshold/${randomUUID()}`;
  const input = { hosts: HOSTS, concurrency: 2, perHostConcurrency: 2, maxFailures: 3, batchSize: 100 };
  const cli = spawnSync(process.execPath, [tsxCli, path.join(repoRoot, 'cli', 'main.ts'), 'start', 'replicateProjects', '--id', workflowId, '--input', JSON.stringify(input), '--wait'], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, RUNBOOK_TASK_QUEUE: lab.taskQueue },
  });
  const handle = (await testClient()).workflow.getHandle(workflowId);
  expect(cli.error).toBeUndefined(); // spawnSync's timeout: the CLI did not return within 120 s
  const r = await resultWithin<Result>(handle, 30_000);
  expect(r.value.status).toBe('stopped');
  expect(r.value.totals.refused).toBeGreaterThanOrEqual(3);
  // Projects go in id order; after the third failure at most the two running children finish.
  const order = threshold.projects.map((p) => p.id).sort();
  const diverged = new Set(threshold.projects.filter((p) => p.replicas.some((x) => x.state === 'diverged-snapshot')).map((p) => p.id));
  const thirdFailure = order.filter((id) => diverged.has(id))[2];
  expect(r.value.totals.scheduled).toBeLessThan(20);
  expect(r.value.totals.scheduled).toBeLessThanOrEqual(order.indexOf(thirdFailure) + 1 + 2);
  for (const f of r.value.failures) {
    expect(diverged.has(f.project)).toBe(true);
    expect(f.reason).toContain('REFUSED');
    expect(f.reason).toContain('@manual-on-replica');
    expect(f.workflowId).toBe(`replicate/${f.project}`);
  }
  expect(r.value.failures).toHaveLength(r.value.totals.failed + r.value.totals.refused);
  expect(r.value.totals.failed).toBe(0);
  // Every refused project needs an operator: what is wrong (the replica's own snapshot) and what to do.
  expect(r.value.needsOperator.map((n) => n.target).sort()).toEqual(r.value.failures.map((f) => f.project).sort());
  for (const n of r.value.needsOperator) {
    expect(n.kind).toBe('refused');
    expect(n.problem).toContain('@manual-on-replica');
    expect(n.problem).not.toContain('Nothing on it was changed');
    expect(n.remedy).toContain('allowRollback: true');
    expect(n.remedy).toMatch(/approve step rollback-compute\d/);
  }
  // The CLI printed the totals and each of them with its remedy, and exited with "needs an operator".
  expect(cli.stderr).toBe('');
  expect(cli.status).toBe(5);
  expect(cli.stdout).toContain(
    `totals: scheduled ${r.value.totals.scheduled}, replicated ${r.value.totals.replicated}, unchanged ${r.value.totals.unchanged}, refused ${r.value.totals.refused}, failed 0`,
  );
  expect(cli.stdout).toContain(`NEEDS AN OPERATOR (${r.value.needsOperator.length})`);
  for (const n of r.value.needsOperator) {
    expect(cli.stdout).toContain(`REFUSED ${n.target} (replicate/${n.target}): ${n.problem}`);
    expect(cli.stdout).toContain(`remedy: ${n.remedy}`);
  }
  expect(cli.stdout).toContain(`${workflowId}: succeeded, but ${r.value.needsOperator.length} targets NEED AN OPERATOR (exit 5)`);
  // The UI's current details say the same.
  const meta = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
  expect(meta.currentDetails).toContain(`**Needs an operator (${r.value.needsOperator.length})**`);
  for (const n of r.value.needsOperator) expect(meta.currentDetails).toContain(`**refused** \`${n.target}\``);
}, 180_000);

// 80 projects, 100 with the threshold test's: enough for four batches (three continue-as-new), for
// eight children at once to saturate the per-host limit, and for every kind of broken replica. It was
// 200 in batches of 60; the scale proved nothing more and cost a minute and a half.
const COUNT = 80;
const ALL = COUNT + 20; // the threshold test's 20 (10 diverged, healed here by pre-approved rollbacks) and these
const BATCH = 25;

test('a host that does not answer is reported unreachable, with the remedy for a host that is down (one that answers with an error is not: cli.test.ts)', async () => {
  await stopSshd('compute3');
  try {
    const r = await resultWithin<Result>(await lab.start('replicateProjects', { hosts: ['compute3'] }, `replicateProjects/down/${randomUUID()}`), 60_000);
    expect(r.value.totals.scheduled).toBe(0);
    expect(r.value.unreachableHosts).toEqual([expect.objectContaining({ host: 'compute3', answered: false })]);
    expect(r.value.unreachableHosts[0].error).toMatch(/^the feature probe failed: /);
    expect(r.value.needsOperator).toEqual([
      expect.objectContaining({
        target: 'compute3',
        kind: 'blocked',
        problem: expect.stringMatching(/^unreachable, its projects were not swept: the feature probe failed: /),
        remedy: expect.stringContaining('check compute3 (sshd, the network)'),
      }),
    ]);
  } finally {
    await startSshd('compute3');
  }
});

describe(`${COUNT} projects`, () => {
  let first: Result;

  beforeAll(async () => {
    big = await lab.generate({ count: COUNT, seed: 'sweep-big', divergedWrite: 1, divergedSnapshot: 1, missingBaseOlderCommon: 1, missingBaseNoCommon: 1 });
  }, 300_000);

  test(`with concurrency 8 in batches of ${BATCH}: continue-as-new between batches, limits held, every project replicated`, async () => {
    if (!big) throw new Error(`the ${COUNT} projects were not generated (see the beforeAll error): no sweep over a half-built lab`);
    const input = { hosts: HOSTS, concurrency: 8, perHostConcurrency: 6, maxFailures: 20, batchSize: BATCH, allowRollback: true, childApprove: EVERY_GATE };
    const handle = await lab.start('replicateProjects', input);
    const progress = watch(handle);
    first = await resultWithin<Result>(handle, 420_000, `the sweep of ${ALL} projects`);
    await progress.stop();

    expect(first.value.status).toBe('complete');
    expect(first.value.totals).toMatchObject({ refused: 0, failed: 0, locked: 0 });
    expect(first.value.totals.scheduled).toBeGreaterThan(BATCH); // changed projects, and every replica's first ledger
    expect(first.value.totals.replicated + first.value.totals.unchanged).toBe(ALL);
    expect(first.value.totals.bytesSent).toBeGreaterThan(0);
    expect(first.value.failures).toEqual([]);
    // A run per BATCH projects that need a child (the scan counts the others without batching them),
    // the earlier ones ended by continue-as-new; one more when the last batch filled exactly.
    const batches = Math.ceil((first.value.totals.scheduled + first.value.totals.locked) / BATCH);
    expect(first.value.runs).toBeGreaterThanOrEqual(Math.max(2, batches));
    expect(first.value.runs).toBeLessThanOrEqual(batches + 1);
    const client = await testClient();
    const firstRun = await client.workflow.getHandle(handle.workflowId, (handle as unknown as { firstExecutionRunId: string }).firstExecutionRunId).describe();
    expect(firstRun.status.name).toBe('CONTINUED_AS_NEW');
    // Small histories: each child's result carries its steps but not their commands, which stay in
    // the child's own history.
    const runs = await runChain(client, handle.workflowId, (handle as unknown as { firstExecutionRunId: string }).firstExecutionRunId);
    expect(runs).toHaveLength(first.value.runs);
    const childResults = runs.flatMap((h) => (h.events ?? []).flatMap((e) => e.childWorkflowExecutionCompletedEventAttributes?.result?.payloads?.map((p) => p.data?.length ?? 0) ?? []));
    expect(childResults).toHaveLength(first.value.totals.scheduled);
    const historyBytes = runs.map((h) => temporal.api.history.v1.History.encode(h).finish().length);
    const someChild = `replicate/${big.projects.find((p) => p.replicas.some((x) => x.state !== 'in-sync'))!.id}`;
    const childHandle = client.workflow.getHandle(someChild);
    const fullAudit = JSON.stringify(await childHandle.query(auditQuery)).length;
    process.stderr.write(
      `[replicate-sweep] runs: ${runs.length}; history bytes per run: ${historyBytes.join(', ')}; child results: max ${Math.max(...childResults)} B, median ${childResults.sort((a, b) => a - b)[childResults.length >> 1]} B; one child's full audit: ${fullAudit} B\n`,
    );
    expect(Math.max(...childResults)).toBeLessThan(16 * 1024);
    expect(Math.max(...historyBytes)).toBeLessThan(1024 * 1024);
    // A retrospective of a child still lists every command: from its activity events.
    const retro = await retroFromHistory(await childHandle.fetchHistory(), someChild, runbookDataConverter);
    expect(retro.source).toBe('audit');
    const sends = retro.steps.filter((s) => s.name === 'send' || s.name.startsWith('rollback-') || s.name.startsWith('replace-'));
    expect(sends.length).toBeGreaterThan(0);
    for (const s of retro.steps.filter((x) => x.host && x.kind !== 'compensate' && x.status === 'completed' && x.attempts.length)) expect(s.commands.length).toBeGreaterThan(0);

    // Live progress was visible, and the limits held whenever we looked.
    expect(progress.seen.length).toBeGreaterThan(3);
    expect(Math.max(...progress.seen.map((p) => p.running.length))).toBeGreaterThan(1);
    for (const p of progress.seen) {
      expect(p.running.length).toBeLessThanOrEqual(8);
      for (const n of Object.values(p.busy)) expect(n).toBeLessThanOrEqual(6);
    }

    // Independently: every replica of every project at its source's newest snapshot by guid, unmounted, with its quota...
    const placements = [...threshold.projects, ...big.projects].map((p) => ({ id: p.id, source: p.source, replicas: p.replicas.map((x) => x.host) }));
    const structure = await lab.check(placements, { compareContent: 'none' });
    expect(structure.checks.filter((c) => !c.ok)).toEqual([]);
    // ...and the same files, for a sample and every project that had a broken replica.
    const broken = [...threshold.projects, ...big.projects].filter((p) => p.replicas.some((x) => x.state !== 'in-sync')).map((p) => p.id);
    const content = await lab.check(placements.filter((p, k) => k % 10 === 0 || broken.includes(p.id)));
    expect(content.checks.filter((c) => !c.ok)).toEqual([]);
  }, 600_000);

  test('a no-change sweep skips every project: no snapshot, no stream', async () => {
    if (first?.value.status !== 'complete') throw new Error('the first sweep did not complete (see its failure): a no-change sweep proves nothing after it');
    const handle = await lab.start('replicateProjects', { hosts: HOSTS, concurrency: 8, batchSize: 60 });
    const r = await resultWithin<Result>(handle, 120_000, 'the no-change sweep');
    // The scan found nothing to do: no child ran at all, in one run.
    expect(r.value.totals).toMatchObject({ scheduled: 0, unchanged: ALL, replicated: 0, failed: 0, bytesSent: 0 });
    const childStarts = ((await handle.fetchHistory()).events ?? []).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
    expect(childStarts).toHaveLength(0);
    expect(r.value.runs).toBe(1);
    // Each host was read once: every copy with its snapshots in one pool-wide zfs get (pool-copies.ts),
    // not a listing and then the copies by name.
    const reads = r.audit.steps
      .filter((st) => st.name === 'scan-projects')
      .flatMap((st) => st.commands)
      .filter((c) => c.command.startsWith('zfs get'));
    expect(reads.map((c) => `${c.host}: ${c.command}`).sort()).toEqual(HOSTS.map((h) => `${h}: zfs get -Hp -d 2 <every copy in projects and its snapshots>`).sort());
    // The UI's current details show the counts.
    const meta = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(meta.currentDetails).toContain('| scheduled | replicated | unchanged | refused | failed | locked | bytesSent | roundTrips |');
    expect(meta.currentDetails).toContain(`| 0 | 0 | ${ALL} | 0 | 0 | 0 | 0 |`);
    expect(meta.currentDetails).not.toContain('Needs an operator');
    expect(r.value.needsOperator).toEqual([]);
  }, 600_000);

  test('changes of every kind made right before a sweep are replicated: the space accounting tells most, a probe snapshot only the ambiguous one, an unchanged project costs neither', async () => {
    if (first?.value.status !== 'complete') throw new Error('the first sweep did not complete (see its failure)');
    const inSync = big.projects.filter((p) => p.replicas.every((x) => x.state === 'in-sync'));
    const [overwritten, touched, removed, twin] = inSync.slice(0, 4);
    const sweep = async (what: string) => resultWithin<Result>(await lab.start('replicateProjects', { hosts: HOSTS, concurrency: 8, batchSize: 60 }), 180_000, what);
    const probesIn = (r: Result) =>
      r.audit.steps
        .filter((st) => st.name === 'scan-projects')
        .flatMap((st) => st.commands)
        .reduce((n, c) => n + Number(/^(\d+) change probes?\b/.exec(c.command)?.[1] ?? 0), 0);
    // `twin` gets a snapshot identical to the one before it (nothing written in between): the one
    // shape the accounting cannot judge, since the bytes a later change frees stay with both.
    await lab.sh(twin.source, `zfs snapshot ${twin.dataset}@twin-of-newest`);
    const replicated = await sweep('the sweep that replicates the twin snapshot');
    expect(replicated.value.totals).toMatchObject({ scheduled: 1, replicated: 1, unchanged: ALL - 1, failed: 0 });
    // Each change is made just before the sweep starts, well inside zfs-fuse's 30 s transaction
    // group: only the scan's own txg sync puts it in the accounting. The file is the project's
    // first regular file; the overwrite keeps its size, the touch changes metadata only.
    const file = (p: { dataset: string }) => `"$(zfs get -H -o value mountpoint ${p.dataset})/$(cd "$(zfs get -H -o value mountpoint ${p.dataset})" && find . -type f | sort | head -1)"`;
    await lab.sh(overwritten.source, `f=${file(overwritten)}; head -c "$(stat -c %s "$f")" /dev/urandom | dd of="$f" conv=notrunc status=none`);
    await lab.sh(touched.source, `touch -d 2001-01-01T00:00:00Z ${file(touched)}`);
    await lab.sh(removed.source, `rm ${file(removed)}`);
    await lab.sh(twin.source, `touch -d 2001-01-01T00:00:00Z ${file(twin)}`);
    const r = await sweep('the sweep after four changes');
    expect(r.value.totals).toMatchObject({ scheduled: 4, replicated: 4, unchanged: ALL - 4, failed: 0 });
    expect(probesIn(r)).toBe(1);
    const check = await lab.check([overwritten, touched, removed, twin].map((p) => ({ id: p.id, source: p.source, replicas: p.replicas.map((x) => x.host) })));
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
    // And with nothing changed, not one probe snapshot.
    const idle = await sweep('the no-change sweep after');
    expect(idle.value.totals).toMatchObject({ scheduled: 0, unchanged: ALL });
    expect(probesIn(idle)).toBe(0);
  }, 600_000);

  test('probes a scan cut short left behind are destroyed before judging: a change made before the leftover is still replicated, an unchanged project still skipped', async () => {
    if (first?.value.status !== 'complete') throw new Error('the first sweep did not complete (see its failure)');
    // A worker killed mid-probe leaves `<dataset>@sweep-probe-<time>` as a project's newest snapshot.
    // On one project a file was written before the leftover was taken: measured from the leftover, that
    // change would look like none.
    const [changed, quiet] = big.projects.filter((p) => p.replicas.every((x) => x.state === 'in-sync')).slice(-2);
    const leftover = 'sweep-probe-20200101T000000Z';
    await lab.sh(changed.source, `echo before-the-leftover > "$(zfs get -H -o value mountpoint ${changed.dataset})/late.txt" && zfs snapshot ${changed.dataset}@${leftover}`);
    await lab.sh(quiet.source, `zfs snapshot ${quiet.dataset}@${leftover}`);
    const handle = await lab.start('replicateProjects', { hosts: HOSTS, concurrency: 8, batchSize: 60 });
    const r = await resultWithin<Result>(handle, 120_000, 'the sweep after a scan cut short');
    expect(r.value.totals).toMatchObject({ scheduled: 1, replicated: 1, unchanged: ALL - 1, failed: 0 });
    for (const host of HOSTS) expect(await lab.sh(host, `zfs list -H -o name -t snapshot | grep -c '@sweep-probe-' || true`)).toBe('0\n');
    const check = await lab.check([changed, quiet].map((p) => ({ id: p.id, source: p.source, replicas: p.replicas.map((x) => x.host) })));
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
  }, 300_000);
});
