import { ApplicationFailure, isCancellation, proxyActivities, setHandler, type ActivityOptions } from '@temporalio/workflow';
import type { z } from 'zod';
import type { CommonInput } from '../../common/input';
import type { PlannedMutation } from '../../common/step';
import type { RunbookDefinition } from '../../runbooks/define';
import type * as engineActivities from '../../activities/engine';
import { Approvals } from './approvals';
import { attemptTag, withAttempts } from './attempts';
import { inAttempt } from './attempt-context';
import { COMMIT_STEP, withoutCommands, type AuditLog } from '../../common/audit';
import { Compensations, settle } from './compensation';
import { auditQuery } from './messages';
import { AuditRecorder } from './recorder';
import { ActivityRouter, DEFAULT_ACTIVITY_OPTIONS, tagged } from './routing';
import { runLifecycle, type RunOptions } from './run';
import { VERIFY_FAILED, type InspectStep, type MutateStep, type RunbookResult } from './steps';

// The step API a runbook is written in (rb.inspect, rb.mutate, rb.on, rb.commit, rb.planning,
// rb.input) and Runbook.run, which a workflow calls with its definition. Each concern lives in its own
// file: the audit log and step table (recorder.ts), a step's attempts and retries (attempts.ts,
// retry.ts), which attempt an activity belongs to (attempt-context.ts), activity routing and tagging
// (routing.ts), approval gates (approvals.ts), compensation and settle (compensation.ts), and the run
// from input to outcome (run.ts).

export type { Compensation, InspectStep, MutateStep, RunbookResult, SettleStep } from './steps';
export type { CarriedAudit } from './recorder';
export type { RunOptions } from './run';
export { APPROVAL_REJECTED, APPROVAL_TIMED_OUT, RUNBOOK_FAILED, VERIFY_FAILED } from './steps';

const engine = proxyActivities<typeof engineActivities>({ ...DEFAULT_ACTIVITY_OPTIONS, startToCloseTimeout: '30 seconds' });

/** One run of a runbook: its steps, audit log, approvals, compensations and plan. */
export class Runbook<I extends CommonInput = CommonInput> {
  input!: I;
  private readonly recorder: AuditRecorder;
  private readonly approvals: Approvals;
  private readonly compensations: Compensations;
  private readonly router = new ActivityRouter();

  constructor(readonly name: string) {
    this.recorder = new AuditRecorder(name);
    this.approvals = new Approvals(this.recorder);
    this.compensations = new Compensations(this.recorder);
  }

  /** The audit log so far (read-only use: a runbook may count its own steps' commands). */
  get audit(): AuditLog {
    return this.recorder.audit;
  }

  get planning(): boolean {
    return this.audit.mode === 'plan';
  }

  /** Activities for work on `host`, on its site's task queue when it has one, tagged with the step attempt that calls them. */
  on<A>(host: string | undefined, options: ActivityOptions = {}): A {
    return this.router.on<A>(host, options);
  }

  /** A read-only step. It runs in plan mode too. */
  async inspect<T>(step: InspectStep<T>): Promise<T> {
    const record = this.recorder.beginStep('inspect', step.name, step.host, step.description);
    try {
      const value = await withAttempts(this.recorder, record, step.retry, async () => this.recorder.absorb(record, await step.run()), step.quick);
      if (step.summarize) record.summary = step.summarize(value);
      this.recorder.endStep(record, 'completed');
      return value;
    } catch (err) {
      this.recorder.endStep(record, isCancellation(err) ? 'cancelled' : 'failed');
      throw err;
    }
  }

  /**
   * A mutating step: approval gate (unless pre-approved), act, verify, then register its compensation.
   * In plan mode nothing is scheduled: the step's exact commands are recorded and `undefined` returned.
   */
  async mutate<T>(step: MutateStep<T>): Promise<T | undefined> {
    if (this.planning) {
      this.plan(step);
      return undefined;
    }
    const record = this.recorder.beginStep('mutate', step.name, step.host, step.description);
    let started = false;
    try {
      if (step.approval) record.approval = await this.approvals.await(record, step, this.input);
      const value = await withAttempts(this.recorder, record, step.retry, async (attempt) => {
        started = true;
        const v = this.recorder.absorb(record, await step.run(attempt));
        if (step.verify) {
          const verify = step.verify;
          const verdict = this.recorder.absorb(record, await inAttempt(attemptTag(record, attempt, true), () => verify(v)));
          if (!verdict.ok) throw ApplicationFailure.retryable(`verify of ${step.name} failed: ${verdict.detail}`, VERIFY_FAILED);
        }
        return v;
      });
      if (step.summarize) record.summary = step.summarize(value);
      const compensation = step.compensate?.(value);
      if (compensation) this.compensations.register(step.name, step.host, compensation);
      this.recorder.endStep(record, 'completed');
      return value;
    } catch (err) {
      this.recorder.endStep(record, isCancellation(err) ? 'cancelled' : 'failed');
      if (started && step.settle) await settle((s) => this.mutate(s), step.name, step.settle, err);
      throw err;
    }
  }

  /** Plan mode: record the step's exact commands (and whether it would wait for approval). */
  private plan<T>(step: MutateStep<T>): void {
    const commands = step.plan();
    const gated = step.approval && !this.input.approve.includes(step.name);
    const planned: PlannedMutation = { step: step.name, host: step.host, description: step.description + (gated ? ' (needs approval)' : ''), commands };
    this.audit.planned.push(planned);
    const record = this.recorder.beginStep('mutate', step.name, step.host, step.description);
    record.summary = `${commands.length} command${commands.length === 1 ? '' : 's'} planned${gated ? ', needs approval' : ''}`;
    this.recorder.endStep(record, 'planned');
  }

  /**
   * The point of no return (a saga's pivot): what is done from here on is kept even if a later step
   * fails or the run is cancelled, because undoing it would do more harm than finishing by hand.
   * Drops the compensations registered so far and says so in the audit.
   */
  commit(reason: string): void {
    const dropped = this.compensations.dropAll();
    const record = this.recorder.beginStep('inspect', COMMIT_STEP, undefined, `point of no return: ${reason}`);
    record.summary = dropped.length ? `${reason}; no longer undone on failure: ${dropped.join(', ')}` : reason;
    this.recorder.endStep(record, this.planning ? 'planned' : 'completed');
  }

  /**
   * Show `header()` above the step table in the UI's Current Details (a sweep's progress). Call
   * refreshDetails() when what it says changes; the table is rendered once per workflow task.
   */
  detailsHeader(header: () => string): void {
    this.recorder.header = header;
    this.recorder.render();
  }

  /** The header's facts changed: render the Current Details again (once, as the workflow task ends). */
  refreshDetails(): void {
    this.recorder.render();
  }

  /** The audit log as the run's result or failure carries it (see the resultAudit input). */
  resultAudit(): AuditLog {
    return this.input?.resultAudit === 'steps' ? withoutCommands(this.audit) : this.audit;
  }

  /** The queries, update and signal every run answers (run.ts installs them first thing). */
  installHandlers(): void {
    setHandler(auditQuery, () => this.audit, { description: 'The audit log: every step, attempt, command (exit code, output tail), approval and compensation so far.' });
    this.approvals.install();
  }

  /** Undo, newest first, what succeeded (run.ts calls it on failure or cancellation). */
  compensate(): Promise<string[]> {
    return this.compensations.undoAll();
  }

  /** The engine's side of the audit for run.ts: the step table, outcome and search attributes. */
  get recording(): AuditRecorder {
    return this.recorder;
  }

  /** Resolve inventory hosts to their sites (and fail early on unknown ones). */
  async resolveHosts(hosts: string[]): Promise<void> {
    const unresolved = [...new Set(hosts)].filter((h) => !this.router.knows(h));
    if (!unresolved.length) return;
    const described = await this.inspect({
      name: 'resolve-hosts',
      description: 'look the hosts up in the inventory',
      retry: { maximumAttempts: 3 },
      run: () => tagged(engine).describeHosts(unresolved),
      summarize: (hs) => hs.map((h) => `${h.name}${h.site ? `@${h.site}` : ''}`).join(', '),
    });
    for (const h of described) this.router.learn(h.name, h.site);
  }

  /**
   * Run a runbook body: validate input, then run; on failure or cancellation compensate, and always
   * leave the audit log, the step table and the outcome search attribute right (see run.ts). A body
   * may end its run with `continueAsNew` (a runbook that runs until cancelled, like the auto-grow
   * guard); `options.carried` then gives each next run the audit the previous one carried over.
   */
  static run<S extends z.ZodType<CommonInput>, R>(
    definition: RunbookDefinition<S>,
    rawInput: unknown,
    body: (rb: Runbook<z.infer<S>>, input: z.infer<S>) => Promise<R>,
    options: RunOptions = {},
  ): Promise<RunbookResult<R>> {
    return runLifecycle(new Runbook<z.infer<S>>(definition.name), definition, rawInput, body, options);
  }
}
