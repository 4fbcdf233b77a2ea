import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleDescription, type ScheduleHandle } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { findRunbook, catalog } from '../../runbooks/catalog';
import { workerTaskQueue } from '../../workers/task-queues';
import { RunbookName, RunbookOutcome, RunbookTargets } from '../../workflows/engine/search-attributes';
import { CliError, EXIT } from '../exit-codes';
import { readInputArgument, validateLocally } from '../input';
import { operatorName } from '../operator';
import { client } from '../temporal';
import type { Output } from './runs';

// `runbook schedule ...`: runbooks on Temporal Schedules. The server fires them (no cron of ours), so
// a schedule survives the CLI, the worker and a server restart, shows in the Web UI's Schedules page,
// and every run it starts is an ordinary runbook run (search attributes, audit, retro). The input is
// validated here exactly as `runbook start` does, so a schedule never fires a run that fails on input.

const OVERLAP = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
} as const;
// Not offered: terminate-other. A terminated runbook runs no more code, so nothing it did is undone.

/** "10m", "30s", "1h", "2d", "500ms": what the SDK takes as a duration; at least a second. */
function duration(flag: string, value: string): Duration {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (!m) throw new CliError(`${flag} ${JSON.stringify(value)}: a duration like 30s, 10m, 1h or 1d`, EXIT.usage);
  const ms = Number(m[1]) * { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  if (ms < 1000) throw new CliError(`${flag} ${value}: at least 1s`, EXIT.usage);
  return value as Duration;
}

function scheduleIdOf(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$/.test(id)) throw new CliError(`schedule id ${JSON.stringify(id)}: letters, digits and . _ / - only`, EXIT.usage);
  return id;
}

async function existing(id: string): Promise<{ handle: ScheduleHandle; description: ScheduleDescription }> {
  const handle = (await client()).schedule.getHandle(scheduleIdOf(id));
  try {
    return { handle, description: await handle.describe() };
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new CliError(`no schedule with id ${id}`, EXIT.notFound);
    throw err;
  }
}

export interface ScheduleCreateOptions {
  input?: string;
  every?: string;
  offset?: string;
  overlap?: string;
  catchupWindow?: string;
  plan?: boolean;
  paused?: boolean;
  note?: string;
  approve?: string[];
}

export async function scheduleCreateCommand(id: string, runbook: string, opts: ScheduleCreateOptions, o: Output): Promise<number> {
  const scheduleId = scheduleIdOf(id);
  const entry = findRunbook(runbook);
  if (!entry) throw new CliError(`unknown runbook ${runbook}; known: ${catalog.map((e) => e.name).join(', ')}`, EXIT.usage);
  if (entry.workflowId) {
    // A schedule appends the fire time to the workflow id, so an id that is a lock would lock nothing.
    throw new CliError(
      `${runbook}'s workflow id is its lock (one run at a time per target); a schedule appends the time to the id, so scheduled runs would not be locked. Schedule a sweep instead (replicateProjects takes each project's lock itself).`,
      EXIT.usage,
    );
  }
  if (!opts.every) throw new CliError('--every is required, e.g. --every 10m', EXIT.usage);
  const every = duration('--every', opts.every);
  const offset = opts.offset ? duration('--offset', opts.offset) : undefined;
  const catchupWindow = duration('--catchup-window', opts.catchupWindow ?? '1m');
  const overlapName = (opts.overlap ?? 'skip') as keyof typeof OVERLAP;
  if (!(overlapName in OVERLAP))
    throw new CliError(`--overlap ${opts.overlap}: one of ${Object.keys(OVERLAP).join(', ')} (terminate-other is not offered: a terminated runbook undoes nothing)`, EXIT.usage);
  const input = readInputArgument(opts.input);
  if (opts.plan) input.mode = 'plan';
  if (opts.approve?.length) input.approve = [...new Set([...((input.approve as string[]) ?? []), ...opts.approve])];
  validateLocally(entry, input);
  const targets = entry.targets(input);
  const c = await client();
  try {
    await c.schedule.create({
      scheduleId,
      spec: { intervals: [{ every, ...(offset ? { offset } : {}) }] },
      action: {
        type: 'startWorkflow',
        workflowType: runbook,
        taskQueue: workerTaskQueue(),
        // The server appends the fire time: `<runbook>/scheduled/<schedule>-<RFC 3339 time>`.
        workflowId: `${runbook}/scheduled/${scheduleId}`,
        args: [input],
        staticSummary: `${runbook}${input.mode === 'plan' ? ' (plan)' : ''} on ${targets.join(', ') || '—'}, scheduled by ${scheduleId}`,
        staticDetails: `Started by schedule \`${scheduleId}\` (every ${every}) with input:\n\n\`\`\`json\n${JSON.stringify(input, null, 2)}\n\`\`\``,
        typedSearchAttributes: [{ key: RunbookName, value: runbook }, ...(targets.length ? [{ key: RunbookTargets, value: targets }] : [])],
      },
      policies: { overlap: OVERLAP[overlapName], catchupWindow },
      state: { paused: !!opts.paused, note: opts.note ?? `created by runbook schedule create (${operatorName()})` },
      memo: { runbook },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning)
      throw new CliError(`a schedule with id ${scheduleId} already exists (runbook schedule describe ${scheduleId}; delete it first to replace it)`, EXIT.usage);
    throw err;
  }
  o.out(
    o.json
      ? JSON.stringify({ scheduleId, runbook, every, overlap: overlapName, catchupWindow, paused: !!opts.paused })
      : `created schedule ${scheduleId}: ${runbook} every ${every}, overlap ${overlapName}, catch-up window ${catchupWindow}${opts.paused ? ' (paused)' : ''}`,
  );
  return EXIT.ok;
}

export async function scheduleListCommand(o: Output): Promise<number> {
  const c = await client();
  const rows: Array<Record<string, unknown>> = [];
  for await (const s of c.schedule.list()) {
    rows.push({
      scheduleId: s.scheduleId,
      runbook: s.action?.workflowType ?? '',
      paused: s.state.paused,
      note: s.state.note ?? '',
      every: (s.spec?.intervals ?? []).map((i) => formatMs(Number(i.every))).join(', '),
      recent: s.info.recentActions.length,
      next: s.info.nextActionTimes[0]?.toISOString() ?? '',
    });
  }
  if (o.json) o.out(JSON.stringify(rows, null, 2));
  else if (!rows.length) o.out('no schedules');
  else for (const r of rows) o.out(`${String(r.scheduleId).padEnd(32)} ${String(r.runbook).padEnd(18)} every ${String(r.every).padEnd(6)} ${r.paused ? 'PAUSED' : 'active'}  next ${String(r.next)}`);
  return EXIT.ok;
}

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  for (const [unit, n] of [
    ['d', 86400e3],
    ['h', 3600e3],
    ['m', 60e3],
    ['s', 1e3],
  ] as const)
    if (ms >= n && ms % n === 0) return `${ms / n}${unit}`;
  return `${ms}ms`;
}

const OVERLAP_NAME = Object.fromEntries(Object.entries(OVERLAP).map(([k, v]) => [v, k]));

export async function scheduleDescribeCommand(id: string, opts: { limit?: string }, o: Output): Promise<number> {
  const { description: d } = await existing(id);
  const c = await client();
  // Every run the schedule started, finished ones too (the server tags them with TemporalScheduledById).
  const runs: Array<{ workflowId: string; status: string; startTime: string; closeTime: string | null; outcome: string }> = [];
  const limit = Number(opts.limit ?? 50);
  for await (const w of c.workflow.list({ query: `TemporalScheduledById = '${d.scheduleId}'` })) {
    runs.push({
      workflowId: w.workflowId,
      status: w.status.name,
      startTime: w.startTime.toISOString(),
      closeTime: w.closeTime?.toISOString() ?? null,
      outcome: w.typedSearchAttributes.get(RunbookOutcome) ?? '',
    });
    if (runs.length >= limit) break;
  }
  runs.sort((a, b) => a.startTime.localeCompare(b.startTime));
  const info = d.info;
  const summary = {
    scheduleId: d.scheduleId,
    runbook: d.action.workflowType,
    every: (d.spec.intervals ?? []).map((i) => formatMs(Number(i.every))),
    overlap: (d.policies.overlap && OVERLAP_NAME[d.policies.overlap]) ?? String(d.policies.overlap),
    catchupWindowMs: d.policies.catchupWindow,
    paused: d.state.paused,
    note: d.state.note ?? null,
    actionsTaken: info.numActionsTaken,
    skippedOverlap: info.numActionsSkippedOverlap,
    missedCatchupWindow: info.numActionsMissedCatchupWindow,
    running: info.runningActions.map((r) => r.workflow.workflowId),
    recentActions: info.recentActions.map((r) => ({ scheduledAt: r.scheduledAt.toISOString(), takenAt: r.takenAt.toISOString(), workflowId: r.action.workflow.workflowId })),
    nextActionTimes: info.nextActionTimes.map((t) => t.toISOString()),
    runs,
  };
  if (o.json) {
    o.out(JSON.stringify(summary, null, 2));
    return EXIT.ok;
  }
  o.out(
    `${summary.scheduleId}: ${summary.runbook} every ${summary.every.join(', ')}, overlap ${summary.overlap}, catch-up window ${formatMs(summary.catchupWindowMs)}; ${summary.paused ? 'PAUSED' : 'active'}${summary.note ? ` (${summary.note})` : ''}`,
  );
  o.out(
    `actions taken ${summary.actionsTaken}, skipped (overlap) ${summary.skippedOverlap}, missed (catch-up window) ${summary.missedCatchupWindow}; running: ${summary.running.join(', ') || 'none'}`,
  );
  if (!summary.paused) o.out(`next: ${summary.nextActionTimes.slice(0, 3).join(', ')}`);
  o.out(`runs (${runs.length}${runs.length >= limit ? `, the first ${limit}` : ''}):`);
  for (const r of runs) o.out(`  ${r.startTime}  ${r.status.padEnd(10)} ${r.outcome.padEnd(10)} ${r.workflowId}`);
  return EXIT.ok;
}

export async function schedulePauseCommand(id: string, opts: { note?: string }, pause: boolean, o: Output): Promise<number> {
  const { handle } = await existing(id);
  const note = opts.note ?? `${pause ? 'paused' : 'unpaused'} by ${operatorName()} with runbook schedule ${pause ? 'pause' : 'unpause'}`;
  if (pause) await handle.pause(note);
  else await handle.unpause(note);
  o.out(o.json ? JSON.stringify({ scheduleId: id, paused: pause, note }) : `${id}: ${pause ? 'paused' : 'unpaused'} (${note})`);
  return EXIT.ok;
}

export async function scheduleTriggerCommand(id: string, o: Output): Promise<number> {
  const { handle } = await existing(id);
  // Under the schedule's own overlap policy: a trigger while a run is open is skipped like a fire.
  await handle.trigger();
  o.out(o.json ? JSON.stringify({ scheduleId: id, triggered: true }) : `${id}: triggered (under its overlap policy)`);
  return EXIT.ok;
}

export async function scheduleDeleteCommand(id: string, o: Output): Promise<number> {
  const { handle } = await existing(id);
  // Runs it started stay as they are: running ones keep running, finished ones keep their history.
  await handle.delete();
  o.out(o.json ? JSON.stringify({ scheduleId: id, deleted: true }) : `${id}: deleted; the runs it started are left as they are (runbook list --runbook ...)`);
  return EXIT.ok;
}
