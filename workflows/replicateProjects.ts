import { condition, continueAsNew, defineQuery, ParentClosePolicy, setHandler, startChild } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type * as replication from '../activities/zfs-replication/activities';
import type { Placement } from '../activities/zfs-replication/placement';
import type { SweepScan, UnsweptHost } from '../activities/zfs-replication/sweep-scan';
import { hostAnswered } from '../activities/ssh/errors';
import type { ZfsFeatures } from '../activities/zfs/features';
import { replicationSnapshotShortName } from '../activities/zfs/names';
import { projectLock } from '../runbooks/replicateProject/definition';
import { replicateProjectsDefinition } from '../runbooks/replicateProjects/definition';
import type { ReplicateProjectsInput, SweepState } from '../runbooks/replicateProjects/schema';
import type { ReplicateProjectChildInput } from '../runbooks/replicateProject/schema';
import { operatorReportMarkdown, type NeedsOperator } from './engine/operator-report';
import { childNeedsOperator, onlyRefused } from './replication/child-failure';
import { describeError } from './engine/retry';
import { Runbook, type RunbookResult } from './engine/runbook';
import { replicateProject, type ReplicateProjectResult } from './replicateProject';

// replicateProjects: a sweep. Each run looks at the hosts with ONE activity (scan-projects: every
// copy listed, placed, read and, on zfs-fuse, probed for changes, in chunks) that returns only the
// projects needing work, at most batchSize, and a count of the unchanged ones. It runs one
// replicateProject child per such project, with the child's workflow id `replicate/<project>` as the
// project's lock, under a limit overall and per host, and stops scheduling once `maxFailures`
// projects failed. When the scan stopped at batchSize it continues as new, carrying only a cursor and
// counters, so 18,000 projects never sit in one history; a no-change sweep is one run. The UI's
// current details show live counts; the result lists every failure with its reason.

export interface SweepResult {
  /** complete: every project was scheduled; stopped: the failure threshold was reached. */
  status: 'complete' | 'stopped' | 'planned';
  runs: number;
  startedAt: string;
  endedAt: string;
  totals: SweepState['totals'];
  failures: SweepState['failures'];
  /** Hosts whose projects were not swept: unreachable, or `answered` with an error (see UnsweptHost). */
  unreachableHosts: UnsweptHost[];
  /**
   * Every refused or failed project (one entry per replica), and every unswept host, each with its
   * remedy: the convention the CLI (`runbook start --wait` exits 5) and the UI read.
   */
  needsOperator: NeedsOperator[];
  /** Plan mode: the first batch's placements. */
  planned?: Placement[];
}

export const sweepProgressQuery = defineQuery<SweepProgress>('sweepProgress');

export interface SweepProgress {
  run: number;
  totals: SweepState['totals'];
  running: string[];
  /** Children running per host (a child counts on its source and each replica). */
  busy: Record<string, number>;
  queued: number;
  remainingAfterBatch: number;
  stopped: boolean;
  failures: SweepState['failures'];
}

function freshState(): SweepState {
  return { run: 1, startedAt: new Date(Date.now()).toISOString(), totals: { scheduled: 0, replicated: 0, unchanged: 0, refused: 0, failed: 0, locked: 0, bytesSent: 0, roundTrips: 0 }, failures: [] };
}

/** Features without their evidence: the child only needs the answers (keeps every child's input small). */
function answersOnly(f: ZfsFeatures): ZfsFeatures {
  return { ...f, evidence: {} };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** What the operator must act on: refused and failed projects, then hosts the sweep could not read. */
function needsOperatorOf(failures: SweepState['failures'], unswept: UnsweptHost[]): NeedsOperator[] {
  return [
    ...failures.flatMap((f) => (f.needsOperator.length ? f.needsOperator : [{ target: f.project, kind: 'failed' as const, problem: f.reason, remedy: 'see the reason', workflowId: f.workflowId }])),
    ...unswept.map((u): NeedsOperator =>
      // A host that answered with an error is up: moving its projects away would not help, and
      // "unreachable" would send the operator after sshd and the network instead of the pool.
      u.answered
        ? {
            target: u.host,
            kind: 'blocked',
            problem: `its projects were not swept: the host answered, with an error: ${u.error}`,
            remedy: `fix what the error says on ${u.host} (is its pool imported? does the command in the step's audit work there by hand?) and run the sweep again; the host is up, so this is no reason to move its projects`,
          }
        : {
            target: u.host,
            kind: 'blocked',
            problem: `unreachable, its projects were not swept: ${u.error}`,
            remedy: `check ${u.host} (sshd, the network) and run the sweep again; if a project's source was there, move it with moveProject`,
          },
    ),
  ];
}

/** The counts in the order an operator reads them (the CLI prints the same from the result). */
export function sweepTotals(t: SweepState['totals']): Record<string, number> {
  return { scheduled: t.scheduled, replicated: t.replicated, unchanged: t.unchanged, refused: t.refused, failed: t.failed, locked: t.locked, bytesSent: t.bytesSent, roundTrips: t.roundTrips };
}

function progressMarkdown(i: ReplicateProjectsInput, p: SweepProgress, unreachable: UnsweptHost[]): string {
  const t = p.totals;
  const lines = [
    `**replicateProjects** on ${i.only ? `projects served by ${i.only}` : i.hosts.join(', ')}: run ${p.run}${p.stopped ? ' — **stopped: failure threshold reached**' : ''}`,
    '',
    `${p.running.length} running, ${p.queued} queued in this batch, ${p.remainingAfterBatch} after it; refused + failed ${t.refused + t.failed} of at most ${i.maxFailures}; sent ${mib(t.bytesSent)}`,
    '',
    operatorReportMarkdown({ totals: sweepTotals(t), needsOperator: needsOperatorOf(p.failures, unreachable) }),
  ];
  return lines.join('\n');
}

/** The child's input, typed by its own schema (zod is the one source of what a child accepts). */
function childInput(i: ReplicateProjectChildInput): ReplicateProjectChildInput {
  return i;
}

function failureReason(err: unknown): string {
  let e = err as { message?: string; cause?: unknown };
  // ChildWorkflowFailure → ApplicationFailure (RunbookFailed: "<runbook> failed at step <s>: <reason>").
  while (e?.cause && typeof e.cause === 'object') e = e.cause as { message?: string; cause?: unknown };
  return e?.message ?? String(err);
}

export async function replicateProjects(input: unknown): Promise<RunbookResult<SweepResult>> {
  let next: ReplicateProjectsInput | undefined;
  const result = await Runbook.run(replicateProjectsDefinition, input, async (rb, i): Promise<SweepResult> => {
    const state: SweepState = i.resume ?? freshState();
    // The scan reads and probes every project on the hosts: minutes at 18,000 projects on zfs-fuse. It
    // heartbeats after every chunk (and its commands every second), so a dead worker is still noticed fast.
    const scanActs = rb.on<typeof replication>(undefined, { startToCloseTimeout: '2 hours' });
    const progress: SweepProgress = { run: state.run, totals: state.totals, running: [], busy: {}, queued: 0, remainingAfterBatch: 0, stopped: false, failures: state.failures };
    let unreachableSoFar: UnsweptHost[] = [];
    rb.detailsHeader(() => progressMarkdown(i, progress, unreachableSoFar));
    const render = () => rb.refreshDetails();
    setHandler(sweepProgressQuery, () => progress, { description: 'Live counts: scheduled, replicated, unchanged, failed, locked, bytes sent; running children; failures with reasons.' });

    // Each host's ZFS features, once per sweep (carried to the next run; a run that starts without
    // a host's answer probes it), handed to every child so no child probes again.
    const features: Record<string, ZfsFeatures> = { ...(state.features ?? {}) };
    const toProbe = i.hosts.filter((h) => !features[h]);
    const probed = await Promise.allSettled(
      toProbe.map(async (host) => {
        features[host] = answersOnly(
          await rb.inspect({
            name: 'probe-zfs',
            host,
            retry: { maximumAttempts: 2 },
            run: () => rb.on<typeof replication>(host).zfsProbeFeatures(host, i.pool),
            summarize: (f) => `${f.implementation}; written ${f.writtenProperty ? 'yes' : 'no'}`,
          }),
        );
      }),
    );
    // Why each probe failed, as the host's own error when it answered: a host without the pool is up.
    const down = toProbe.flatMap((host, k): UnsweptHost[] => {
      const p = probed[k];
      if (p.status !== 'rejected') return [];
      const { message, type } = describeError(p.reason);
      return [{ host, error: `the feature probe failed: ${message}`, answered: hostAnswered(type) }];
    });
    const reachable = i.hosts.filter((h) => !down.some((d) => d.host === h));
    // ONE look at the hosts per run: listed, placed, every copy read and each source's change told
    // (OpenZFS: `written`; zfs-fuse: the space accounting, a probe snapshot where that cannot tell),
    // in chunks, until a batch of projects that need a child is found. Unchanged
    // projects are only counted: no child, no per-project event in this history.
    const empty: SweepScan = { work: [], unchanged: 0, problems: [], remaining: 0, unreachable: [], projects: 0, chunks: 0 };
    const scanArgs = (probe: string | null) => ({ hosts: reachable, pool: i.pool, replicationFactor: i.replicationFactor, only: i.only, after: state.after, maxWork: i.batchSize, features, probe });
    const description = `every project copy on ${reachable.length} hosts (one zfs get -d 1 each), placed; then, after ${state.after ?? 'the start'}, every copy read and every source checked for changes in chunks, until ${i.batchSize} projects need a child`;
    const summarize = (b: SweepScan) => `${b.projects} projects: ${b.unchanged} unchanged and in sync, ${b.work.length} to replicate, ${b.problems.length} unplaceable, ${b.remaining} after this run`;
    const scan =
      reachable.length === 0
        ? empty
        : rb.planning
          ? // A plan syncs nothing and takes no probe snapshot: it reads the accounting as of the last
            // synced txg, and the projects only a probe could clear are listed as work.
            await rb.inspect({ name: 'scan-projects', description, run: () => scanActs.zfsSweepScan(scanArgs(null)), summarize })
          : ((await rb.mutate({
              name: 'scan-projects',
              description: `${description} (zfs-fuse: a probe snapshot only where the space accounting cannot tell, destroyed again)`,
              plan: () => [
                'zfs get -H -d 1 ... <pool> (one per host)',
                'zfs inherit durable-runbooks:sweep-sync <pool> (one per host: its open txg synced, nothing changed)',
                'zfs get -Hp -d 1 ... <every copy of a chunk> (one per host per chunk)',
                'zfs snapshot <source>@sweep-probe-<time>; zfs send -i | wc -c; zfs destroy <source>@sweep-probe-<time> (per project the space accounting cannot clear, in lanes, one script per source host per chunk)',
                'zfs destroy <copy>@sweep-probe-<over an hour old> (probes a scan cut short left behind, if any; per host per chunk)',
              ],
              run: () => scanActs.zfsSweepScan(scanArgs(`sweep-probe-${replicationSnapshotShortName(new Date(Date.now())).slice(3)}`)),
              summarize,
            })) ?? empty);
    const unreachableHosts = [...down, ...scan.unreachable];
    unreachableSoFar = unreachableHosts;
    progress.remainingAfterBatch = scan.remaining;
    render();

    if (rb.planning) {
      const failures = scan.problems.map((p) => ({
        project: p.project,
        source: null,
        reason: p.reason,
        workflowId: null,
        needsOperator: [{ target: p.project, kind: 'blocked' as const, problem: p.reason, remedy: p.remedy ?? 'see the reason', workflowId: null }],
      }));
      return {
        status: 'planned',
        runs: state.run,
        startedAt: state.startedAt,
        endedAt: new Date(Date.now()).toISOString(),
        totals: state.totals,
        failures,
        unreachableHosts,
        needsOperator: needsOperatorOf(failures, unreachableHosts),
        planned: scan.work.map(({ why: _why, ...p }) => p),
      };
    }
    state.totals.unchanged += scan.unchanged;

    const fail = (project: string, source: string | null, reason: string, workflowId: string | null, needsOperator: NeedsOperator[], refused = false) => {
      if (refused) state.totals.refused++;
      else state.totals.failed++;
      state.failures.push({ project, source, reason, workflowId, needsOperator: needsOperator.map((n) => ({ ...n, workflowId: n.workflowId ?? null })) });
    };
    // Older activity results (recorded histories) carry no remedy.
    for (const p of scan.problems) fail(p.project, null, p.reason, null, [{ target: p.project, kind: 'blocked', problem: p.reason, remedy: p.remedy ?? 'see the reason', workflowId: null }]);

    // Schedule children under the overall and per-host limits, until the failure threshold.
    const queue: Placement[] = scan.work.map(({ why: _why, ...p }) => p);
    const busy = new Map<string, number>();
    const running = new Set<string>();
    const hostsOf = (p: Placement) => [p.source, ...p.replicas];
    const fits = (p: Placement) => hostsOf(p).every((h) => (busy.get(h) ?? 0) < i.perHostConcurrency);
    const stopped = () => state.totals.failed + state.totals.refused >= i.maxFailures;
    const update = () => {
      progress.running = [...running];
      progress.busy = Object.fromEntries([...busy].filter(([, n]) => n > 0));
      progress.queued = queue.length;
      progress.stopped = stopped();
      render();
    };
    while (queue.length > 0 && !stopped()) {
      await condition(() => stopped() || (running.size < i.concurrency && queue.some(fits)));
      if (stopped()) break;
      const p = queue.splice(queue.findIndex(fits), 1)[0];
      const workflowId = projectLock(p.project);
      let handle;
      try {
        handle = await startChild(replicateProject, {
          workflowId,
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          args: [
            childInput({
              project: p.project,
              source: p.source,
              replicas: p.replicas,
              pool: i.pool,
              keepSnapshots: i.keepSnapshots,
              allowRollback: i.allowRollback,
              ...(i.bandwidthLimitBytesPerSecond ? { bandwidthLimitBytesPerSecond: i.bandwidthLimitBytesPerSecond } : {}),
              streamTimeout: i.streamTimeout,
              features: Object.fromEntries(
                hostsOf(p)
                  .filter((h) => features[h])
                  .map((h) => [h, features[h]]),
              ),
              approve: i.childApprove,
              approvalTimeout: i.approvalTimeout,
              // Each child's result lands in this history: its steps, not their commands (those stay
              // in the child's own history, where `runbook retro replicate/<project>` finds them).
              resultAudit: 'steps',
            }),
          ],
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          // The lock is held: another run of this project (an operator's, a moveProject) is open.
          state.totals.locked++;
          update();
          continue;
        }
        throw err;
      }
      state.totals.scheduled++;
      running.add(p.project);
      for (const h of hostsOf(p)) busy.set(h, (busy.get(h) ?? 0) + 1);
      update();
      void handle
        .result()
        .then(
          (r) => {
            const v = (r as RunbookResult<ReplicateProjectResult>).value;
            if (v.outcome === 'unchanged') state.totals.unchanged++;
            else state.totals.replicated++;
            state.totals.bytesSent += v.bytesSent;
            state.totals.roundTrips += Object.values(v.roundTrips).reduce((a, b) => a + b, 0);
          },
          (err) => {
            const reason = failureReason(err);
            fail(p.project, p.source, reason, workflowId, childNeedsOperator({ project: p.project, source: p.source, replicas: p.replicas, workflowId }, reason), onlyRefused(reason));
          },
        )
        .finally(() => {
          running.delete(p.project);
          for (const h of hostsOf(p)) busy.set(h, (busy.get(h) ?? 1) - 1);
          update();
        });
    }
    await condition(() => running.size === 0);
    update();

    for (const step of rb.audit.steps) state.totals.roundTrips += step.commands.length;
    const more = scan.remaining > 0 || queue.length > 0;
    // Every project the scan covered was counted or scheduled (children were picked out of order to
    // respect the per-host limits), so the next run starts after the last project it covered.
    state.after = [scan.coveredUpTo, scan.problems.at(-1)?.project, state.after]
      .filter((x): x is string => !!x)
      .sort()
      .at(-1);
    if (more && !stopped()) next = { ...i, resume: { ...state, run: state.run + 1, features } };
    const status: SweepResult['status'] = stopped() && more ? 'stopped' : 'complete';
    return {
      status,
      runs: state.run,
      startedAt: state.startedAt,
      endedAt: new Date(Date.now()).toISOString(),
      totals: state.totals,
      failures: state.failures,
      unreachableHosts,
      needsOperator: needsOperatorOf(state.failures, unreachableHosts),
    };
  });
  if (next) {
    // Outside Runbook.run: continue-as-new is how this run ends, not a failure to compensate.
    await continueAsNew<typeof replicateProjects>(next);
  }
  return result;
}
