import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { catalog, findRunbook } from '../../runbooks/catalog';
import type { AuditLog } from '../../common/audit';
import { approvalRefusedSignal, approveUpdate, auditQuery, pendingApprovalQuery } from '../../workflows/engine/messages';
import type { RunbookResult } from '../../workflows/engine/runbook';
import { operatorReportOf, operatorReportText } from '../../workflows/engine/operator-report';
import { workerTaskQueue } from '../../workers/task-queues';
import { operatorName } from '../operator';
import { RunbookName, RunbookOutcome, RunbookStep, RunbookTargets } from '../../workflows/engine/search-attributes';
import { CliError, EXIT } from '../exit-codes';
import { readInputArgument, validateLocally } from '../input';
import { inputFromRun } from '../input-from';
import { preflights, PreflightUnavailable } from '../preflights';
import { followSteps } from '../progress';
import { client } from '../temporal';

export interface Output {
  json: boolean;
  out: (s: string) => void;
}

function defaultWorkflowId(runbook: string, targets: string[]): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${runbook}/${targets.slice(0, 3).join('+') || 'run'}/${stamp}`;
}

/** The failure message a person needs: the runbook's own, not the SDK's wrapper. */
export function failureMessage(err: unknown): string {
  if (err instanceof WorkflowFailedError) return err.cause?.message ?? err.message;
  return (err as Error).message;
}

async function waitForResult(handle: WorkflowHandle, o: Output, follow: boolean): Promise<number> {
  const result = handle.result() as Promise<RunbookResult<unknown>>;
  if (follow && !o.json) await followSteps(handle, result, (s) => o.out(s));
  try {
    const r = await result;
    // A run that succeeded as a whole can still leave targets it refused or failed (a sweep).
    const report = operatorReportOf(r.value);
    const needsOperator = !!report?.needsOperator.length;
    if (o.json) o.out(JSON.stringify({ workflowId: handle.workflowId, status: 'COMPLETED', outcome: r.outcome, value: r.value, planned: r.planned }, null, 2));
    else {
      if (r.outcome === 'planned') {
        o.out(`\nPlan (${r.planned.length} mutation${r.planned.length === 1 ? '' : 's'}):`);
        for (const p of r.planned) {
          o.out(`- ${p.step}${p.host ? ` on ${p.host}` : ''}: ${p.description}`);
          for (const c of p.commands) o.out(`    $ ${c}`);
        }
      }
      for (const l of operatorReportText(report ?? {})) o.out(l);
      o.out(
        `\n${handle.workflowId}: ${r.outcome}${needsOperator ? `, but ${report?.needsOperator.length} target${report?.needsOperator.length === 1 ? '' : 's'} NEED AN OPERATOR (exit ${EXIT.needsOperator})` : ''}`,
      );
    }
    return needsOperator ? EXIT.needsOperator : EXIT.ok;
  } catch (err) {
    const message = failureMessage(err);
    if (o.json) o.out(JSON.stringify({ workflowId: handle.workflowId, status: 'FAILED', error: message }, null, 2));
    else o.out(`\n${handle.workflowId}: FAILED: ${message}`);
    return EXIT.runFailed;
  }
}

export async function startCommand(
  runbook: string,
  opts: { input?: string; inputFrom?: string; plan?: boolean; wait?: boolean; id?: string; approve?: string[]; preflight?: boolean },
  o: Output,
): Promise<number> {
  const entry = findRunbook(runbook);
  if (!entry) throw new CliError(`unknown runbook ${runbook}; known: ${catalog.map((e) => e.name).join(', ')}`, EXIT.usage);
  // With --input-from, --input adds what the earlier run cannot know (and overrides what it mapped).
  const input = opts.inputFrom ? await inputFromRun(runbook, opts.inputFrom, opts.input === undefined ? {} : readInputArgument(opts.input)) : readInputArgument(opts.input);
  if (opts.plan) input.mode = 'plan';
  if (opts.approve?.length) input.approve = [...new Set([...((input.approve as string[]) ?? []), ...opts.approve])];
  if (opts.preflight !== false) await runPreflight(runbook, input);
  validateLocally(entry, input);
  const targets = entry.targets(input);
  const workflowId = opts.id ?? entry.workflowId?.(input) ?? defaultWorkflowId(runbook, targets);
  const c = await client();
  const handle = await c.workflow
    .start(runbook, {
      // The workers' queue: `runbooks`, or RUNBOOK_TASK_QUEUE's (a canary worker, a test's worker).
      taskQueue: workerTaskQueue(),
      workflowId,
      args: [input],
      staticSummary: `${runbook}${input.mode === 'plan' ? ' (plan)' : ''} on ${targets.join(', ') || '—'}`,
      staticDetails: `Started by \`runbook start\` with input:\n\n\`\`\`json\n${JSON.stringify(input, null, 2)}\n\`\`\``,
      typedSearchAttributes: [{ key: RunbookName, value: runbook }, ...(targets.length ? [{ key: RunbookTargets, value: targets }] : [])],
    })
    .catch((err: unknown) => {
      // One run per id at a time (a lock id: one guard per volume, one job per project; or the same
      // --id pasted twice): the one that runs is what the operator wants to see, not a stack trace.
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new CliError(`${workflowId} is already running; nothing was started. Follow it with: npm run runbook -- status ${workflowId}`, EXIT.usage);
      }
      throw err;
    });
  if (!opts.wait) {
    o.out(o.json ? JSON.stringify({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId }) : `started ${handle.workflowId}`);
    return EXIT.ok;
  }
  if (!o.json) o.out(`started ${handle.workflowId}; following its steps (Ctrl-C stops following, not the run)`);
  return waitForResult(handle, o, true);
}

/** The runbook's pre-flight (cli/preflights.ts), if it has one: every problem, and nothing started. */
async function runPreflight(runbook: string, input: Record<string, unknown>): Promise<void> {
  const preflight = preflights[runbook];
  if (!preflight) return;
  let problems: string[];
  try {
    problems = await preflight(input);
  } catch (err) {
    if (err instanceof PreflightUnavailable) throw new CliError(`${err.message}; nothing was started (--no-preflight starts the run, which asks MAAS itself)`, EXIT.unavailable);
    throw err;
  }
  if (problems.length) throw new CliError(`pre-flight of ${runbook} found ${problems.length} problem(s); nothing was started:\n- ${problems.join('\n- ')}`, EXIT.usage);
}

async function existingHandle(id: string): Promise<WorkflowHandle> {
  const c = await client();
  const handle = c.workflow.getHandle(id);
  try {
    await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no workflow with id ${id}`, EXIT.notFound);
    throw err;
  }
  return handle;
}

export async function statusCommand(id: string, o: Output): Promise<number> {
  const handle = await existingHandle(id);
  const d = await handle.describe();
  let audit: AuditLog | undefined;
  try {
    audit = await handle.query(auditQuery);
  } catch {
    audit = d.status.name === 'RUNNING' ? undefined : await auditFromOutcome(handle); // no worker: a closed run still has its record
  }
  const pending = d.status.name === 'RUNNING' ? await handle.query(pendingApprovalQuery).catch(() => null) : null;
  // A finished run's result may say what is left for an operator (a sweep's refusals): the same
  // report and exit code as at the end of `start --wait`, for whoever looks later.
  const report = d.status.name === 'COMPLETED' ? await completedReport(handle) : null;
  const needsOperator = !!report?.needsOperator.length;
  if (o.json) {
    o.out(
      JSON.stringify(
        { workflowId: id, runId: d.runId, type: d.type, status: d.status.name, startTime: d.startTime, closeTime: d.closeTime, pendingApproval: pending, ...(report ? { report } : {}), audit },
        null,
        2,
      ),
    );
  } else {
    o.out(`${id} (${d.type}): ${d.status.name}, started ${d.startTime.toISOString()}${d.closeTime ? `, closed ${d.closeTime.toISOString()}` : ''}`);
    if (pending) o.out(`waiting for approval of "${pending.step}" since ${pending.since}`);
    if (audit) {
      for (const s of audit.steps) {
        o.out(
          `  ${String(s.seq).padStart(2)} ${s.kind === 'compensate' ? `undo ${s.compensates}` : s.name} ${s.host ? `@${s.host} ` : ''}${s.status}${s.attempts.length > 1 ? ` (${s.attempts.length} attempts)` : ''}`,
        );
      }
      if (audit.error) o.out(`error: ${audit.error}`);
    } else o.out('(no worker answered the audit query)');
    for (const l of operatorReportText(report ?? {})) o.out(l);
    if (needsOperator) o.out(`${id}: completed, but ${report?.needsOperator.length} target${report?.needsOperator.length === 1 ? '' : 's'} NEED AN OPERATOR (exit ${EXIT.needsOperator})`);
  }
  if (d.status.name === 'FAILED' || d.status.name === 'TERMINATED' || d.status.name === 'TIMED_OUT' || d.status.name === 'CANCELLED') return EXIT.runFailed;
  return needsOperator ? EXIT.needsOperator : EXIT.ok;
}

/** The operator report (totals, needsOperator) of a completed run's result, if it carries one. */
async function completedReport(handle: WorkflowHandle): Promise<ReturnType<typeof operatorReportOf>> {
  try {
    return operatorReportOf(((await handle.result()) as RunbookResult<unknown>).value);
  } catch {
    return null;
  }
}

/** A closed run's audit log, from its result or its failure's details, without a worker. */
async function auditFromOutcome(handle: WorkflowHandle): Promise<AuditLog | undefined> {
  try {
    return ((await handle.result()) as RunbookResult<unknown>).audit;
  } catch (err) {
    const details = (err as { cause?: { details?: unknown[] } }).cause?.details;
    const first = details?.[0] as AuditLog | undefined;
    return first && typeof first === 'object' && 'steps' in first ? first : undefined;
  }
}

/** Who approves when --approver is not given: $RUNBOOK_APPROVER, else <OS user>@<host> (the user sudo ran as). */
export function defaultApprover(): string {
  if (process.env.RUNBOOK_APPROVER?.trim()) return process.env.RUNBOOK_APPROVER.trim();
  return `${operatorName()}@${os.hostname()}`;
}

export async function approveCommand(id: string, step: string, opts: { reject?: boolean; comment?: string; approver?: string }, o: Output): Promise<number> {
  const handle = await existingHandle(id);
  const approver = opts.approver ?? defaultApprover();
  try {
    const r = await handle.executeUpdate(approveUpdate, { args: [{ step, decision: opts.reject ? 'reject' : 'approve', approver, ...(opts.comment ? { comment: opts.comment } : {}) }] });
    o.out(o.json ? JSON.stringify(r) : `${r.step}: ${r.decision} by ${r.approver}`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const reason = err.cause?.message ?? err.message;
      // Temporal keeps no record of a refused update; report it back so the run's audit keeps it.
      if ((err.cause as { type?: string } | undefined)?.type === 'ApprovalRefused') {
        await handle.signal(approvalRefusedSignal, { step, decision: opts.reject ? 'reject' : 'approve', approver, reason }).catch(() => undefined);
      }
      o.out(o.json ? JSON.stringify({ error: reason }) : `refused: ${reason}`);
      return EXIT.runFailed;
    }
    throw err;
  }
}

export async function cancelCommand(id: string, opts: { wait?: boolean }, o: Output): Promise<number> {
  const handle = await existingHandle(id);
  await handle.cancel();
  if (!opts.wait) {
    o.out(o.json ? JSON.stringify({ workflowId: id, cancelRequested: true }) : `cancellation requested for ${id}; its compensations run before it ends`);
    return EXIT.ok;
  }
  try {
    await handle.result();
    o.out(`${id} completed before the cancellation took effect`);
  } catch (err) {
    o.out(o.json ? JSON.stringify({ workflowId: id, status: 'CANCELLED', error: failureMessage(err) }) : `${id}: ${failureMessage(err)}`);
  }
  return EXIT.ok;
}

export async function historyCommand(id: string, opts: { out?: string }, o: Output): Promise<number> {
  const handle = await existingHandle(id);
  const history = await handle.fetchHistory();
  const json = historyToJSON(history);
  const file = opts.out ?? `${id.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`;
  writeFileSync(file, json);
  o.out(o.json ? JSON.stringify({ workflowId: id, file, events: history.events?.length ?? 0 }) : `wrote ${history.events?.length ?? 0} events to ${file}`);
  return EXIT.ok;
}

export async function listCommand(opts: { runbook?: string; target?: string; outcome?: string; limit?: string }, o: Output): Promise<number> {
  const c = await client();
  const clauses = ['RunbookName IS NOT NULL'];
  const safe = (v: string) => {
    if (!/^[A-Za-z0-9._/-]+$/.test(v)) throw new CliError(`invalid filter value ${JSON.stringify(v)}`, EXIT.usage);
    return v;
  };
  if (opts.runbook) clauses.push(`RunbookName = '${safe(opts.runbook)}'`);
  if (opts.target) clauses.push(`RunbookTargets = '${safe(opts.target)}'`);
  if (opts.outcome) clauses.push(`RunbookOutcome = '${safe(opts.outcome)}'`);
  const limit = Number(opts.limit ?? 20);
  const rows: Array<Record<string, unknown>> = [];
  for await (const w of c.workflow.list({ query: clauses.join(' AND ') })) {
    const sa = w.typedSearchAttributes;
    rows.push({
      workflowId: w.workflowId,
      type: w.type,
      status: w.status.name,
      startTime: w.startTime.toISOString(),
      step: sa.get(RunbookStep) ?? '',
      outcome: sa.get(RunbookOutcome) ?? '',
      targets: sa.get(RunbookTargets) ?? [],
    });
    if (rows.length >= limit) break;
  }
  if (o.json) o.out(JSON.stringify(rows, null, 2));
  else if (!rows.length) o.out('no runbook runs');
  else
    for (const r of rows)
      o.out(`${String(r.startTime)}  ${String(r.status).padEnd(10)} ${String(r.outcome).padEnd(10)} ${String(r.type).padEnd(18)} ${r.workflowId}  ${(r.targets as string[]).join(',')}`);
  return EXIT.ok;
}
