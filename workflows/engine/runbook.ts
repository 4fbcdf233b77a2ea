import {
  ActivityOptions,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { z } from 'zod';
import { withoutCommands, type ApprovalRecord, type AuditLog, type StepRecord } from './audit';
import { renderDetails } from './details';
import { parseRunbookInput } from './input';
import type { CommonInput } from '../../common/input';
import { approvalRefusedSignal, approvalRequestSchema, approveUpdate, auditQuery, pendingApprovalQuery, refusedApprovalReportSchema, type ApprovalRequest, type ApprovalResponse } from './messages';
import { activitySummary, timerSummary, type ActivityTag } from './event-summary';
import { backoffMs, commandRecordsOf, DEFAULT_STEP_RETRY, describeError, isRetryable, type StepRetry } from './retry';
import { RunbookName, RunbookOutcome, RunbookStep, RunbookTargets } from './search-attributes';
import type { PlannedMutation, StepOutput, VerifyOutcome } from '../../common/step';
import type * as engineActivities from '../../activities/engine';
import type { RunbookDefinition } from '../../runbooks/define';

export const APPROVAL_REJECTED = 'ApprovalRejected';
export const APPROVAL_TIMED_OUT = 'ApprovalTimedOut';
export const RUNBOOK_FAILED = 'RunbookFailed';
export const VERIFY_FAILED = 'VerifyFailed';

interface StepBase<T> {
  name: string;
  host?: string;
  description?: string;
  retry?: StepRetry;
  /** A one-line result for the step table. */
  summarize?: (value: T) => string;
}

export interface InspectStep<T> extends StepBase<T> {
  run: () => Promise<StepOutput<T>>;
}

export interface Compensation {
  description: string;
  run: () => Promise<StepOutput<unknown>>;
  retry?: StepRetry;
}

export interface MutateStep<T> extends StepBase<T> {
  description: string;
  /** The exact commands the act would run, for plan mode (computed without side effects). */
  plan: () => string[];
  /** Idempotent: it checks before it acts, and it gets absolute targets, so a retry is harmless. */
  run: (attempt: number) => Promise<StepOutput<T>>;
  /** Read-only check after the act; a failed verify fails the attempt (and is retried). */
  verify?: (value: T) => Promise<StepOutput<VerifyOutcome>>;
  /** Registered once the step succeeds; run in reverse order if a later step fails or the run is cancelled. */
  compensate?: (value: T) => Compensation | undefined;
  /** Wait for the `approve` update before acting. */
  approval?: boolean | { timeout?: string; reason?: string };
  /**
   * For an act that leaves a half-done state when it is cut short (it failed after its retries, or
   * the run was cancelled while it ran), which the compensation cannot cover because it is registered
   * only on success: a pvmove half done, a disk half added. Runs as its own step, which a cancellation
   * cannot stop, only if the act had started; then the act's error goes on, and the earlier steps are
   * compensated as usual.
   */
  settle?: SettleStep;
}

export type SettleStep = Omit<MutateStep<unknown>, 'approval' | 'compensate' | 'settle' | 'verify'>;

export interface RunbookResult<T> {
  runbook: string;
  outcome: 'succeeded' | 'planned';
  value: T;
  planned: PlannedMutation[];
  audit: AuditLog;
}

const DEFAULT_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  // SSH activities heartbeat every second while a command runs; a worker that dies is noticed this fast.
  heartbeatTimeout: '10 seconds',
  retry: { maximumAttempts: 1 },
};

const engine = proxyActivities<typeof engineActivities>({ ...DEFAULT_ACTIVITY_OPTIONS, startToCloseTimeout: '30 seconds' });

function nowIso(): string {
  return new Date(Date.now()).toISOString();
}

interface PendingCompensation {
  step: string;
  host?: string;
  compensation: Compensation;
}

/** One run of a runbook: its steps, audit log, approvals, compensations and plan. */
export class Runbook<I extends CommonInput = CommonInput> {
  readonly audit: AuditLog;
  input!: I;
  private readonly compensations: PendingCompensation[] = [];
  private waiting?: { step: string; since: string; timeout: string; description?: string };
  private decision?: { request: ApprovalRequest; at: string };
  private readonly sites = new Map<string, string | undefined>();
  private readonly proxies = new Map<string, unknown>();
  private seq = 0;
  /** The step attempt whose author code is running synchronously right now: its activities get its summary. */
  private current?: ActivityTag;
  /** Attempts in progress. With only one, an activity called after an await inside it is still its own. */
  private readonly active = new Set<ActivityTag>();

  constructor(readonly name: string) {
    const info = workflowInfo();
    this.audit = {
      runbook: name,
      workflowId: info.workflowId,
      runId: info.runId,
      mode: 'apply',
      targets: [],
      outcome: 'running',
      startedAt: nowIso(),
      steps: [],
      refusedApprovals: [],
      planned: [],
    };
  }

  get planning(): boolean {
    return this.audit.mode === 'plan';
  }

  /** Activities for work on `host`, on its site's task queue when it has one. */
  on<A>(host: string | undefined, options: ActivityOptions = {}): A {
    const site = host ? this.sites.get(host) : undefined;
    const taskQueue = site ? `site-${site}` : undefined;
    const key = `${taskQueue ?? ''}|${JSON.stringify(options)}`;
    let proxy = this.proxies.get(key);
    if (!proxy) {
      proxy = this.tagged(proxyActivities({ ...DEFAULT_ACTIVITY_OPTIONS, ...options, ...(taskQueue ? { taskQueue } : {}), retry: { maximumAttempts: 1 } }));
      this.proxies.set(key, proxy);
    }
    return proxy as A;
  }

  /**
   * Activities called through this proxy carry a one-line summary naming their step and attempt
   * (see event-summary.ts), so the UI's timeline and a retrospective built from the history alone can
   * tell parallel steps, retries, verifies and compensations apart.
   */
  private tagged<A extends object>(raw: A): A {
    return new Proxy(raw, {
      get: (target, name) => {
        const fn = Reflect.get(target, name) as { executeWithOptions(o: ActivityOptions, args: unknown[]): Promise<unknown> };
        if (typeof name !== 'string') return fn;
        return (...args: unknown[]) => {
          // Parallel steps (Promise.all) make "the" active attempt ambiguous after an await: no tag then.
          const tag = this.current ?? (this.active.size === 1 ? [...this.active][0] : undefined);
          return tag ? fn.executeWithOptions({ summary: activitySummary(tag) }, args) : (fn as unknown as (...a: unknown[]) => Promise<unknown>)(...args);
        };
      },
    });
  }

  /** Run author code that schedules a step's activity; the tag is only valid while it runs synchronously. */
  private withTag<T>(tag: ActivityTag, call: () => T): T {
    this.current = tag;
    try {
      return call();
    } finally {
      this.current = undefined;
    }
  }

  private tagOf(record: StepRecord, attempt: number, verify = false): ActivityTag {
    return { seq: record.seq, step: record.name, host: record.host, kind: record.kind, attempt, ...(verify ? { verify } : {}) };
  }

  installHandlers(): void {
    setHandler(auditQuery, () => this.audit, { description: 'The audit log: every step, attempt, command (exit code, output tail), approval and compensation so far.' });
    setHandler(pendingApprovalQuery, () => this.waiting ?? null, { description: 'The step waiting for approval, or null.' });
    setHandler(
      approvalRefusedSignal,
      (report) => {
        const parsed = refusedApprovalReportSchema.safeParse(report);
        if (!parsed.success || this.audit.refusedApprovals.length >= 200) return; // a flood or junk: not worth a record
        const r = parsed.data;
        // The validator may already hold this refusal in memory (same run, no replay since): mark it durable.
        const inMemory = this.audit.refusedApprovals.find((e) => !e.durable && e.step === r.step && e.decision === r.decision && e.approver === r.approver && e.reason === r.reason);
        if (inMemory) inMemory.durable = true;
        else this.audit.refusedApprovals.push({ at: nowIso(), ...r, durable: true });
        this.render();
      },
      { description: 'Record an approval that the `approve` update refused (sent by the approver\'s client, so the record survives replay).' },
    );
    setHandler(
      approveUpdate,
      (request): ApprovalResponse => {
        this.decision = { request, at: nowIso() };
        return { step: request.step, decision: request.decision === 'approve' ? 'approved' : 'rejected', approver: request.approver };
      },
      {
        description: 'Approve or reject the step that is waiting: {"step": "<name>", "decision": "approve" | "reject", "approver": "<who>", "comment": "<why>"}',
        validator: (request: unknown) => {
          const parsed = approvalRequestSchema.safeParse(request);
          const step = typeof (request as { step?: unknown })?.step === 'string' ? (request as { step: string }).step : '?';
          const refuse = (reason: string): never => {
            // Temporal records nothing of a rejected update; keep our own record of the attempt.
            this.audit.refusedApprovals.push({
              at: nowIso(),
              step,
              decision: String((request as { decision?: unknown })?.decision ?? '?'),
              approver: typeof (request as { approver?: unknown })?.approver === 'string' ? (request as { approver: string }).approver : undefined,
              reason,
            });
            this.render();
            throw ApplicationFailure.nonRetryable(reason, 'ApprovalRefused');
          };
          if (!parsed.success) refuse(`malformed approval: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`);
          if (!this.waiting) refuse(`no step of this run is waiting for approval; "${step}" cannot be approved now`);
          else if (this.waiting.step !== step) refuse(`step "${step}" is not waiting for approval; "${this.waiting.step}" is`);
          else if (this.decision) refuse(`step "${step}" already has a decision`);
        },
      },
    );
  }

  private render(): void {
    setCurrentDetails(renderDetails(this.audit, this.waiting));
  }

  private beginStep(kind: StepRecord['kind'], name: string, host?: string, description?: string): StepRecord {
    const record: StepRecord = { seq: ++this.seq, name, kind, host, description, status: 'running', startedAt: nowIso(), attempts: [], commands: [] };
    this.audit.steps.push(record);
    if (kind !== 'compensate') upsertSearchAttributes([{ key: RunbookStep, value: name }]);
    this.render();
    return record;
  }

  private endStep(record: StepRecord, status: StepRecord['status']): void {
    record.status = status;
    record.endedAt = nowIso();
    record.durationMs = Date.parse(record.endedAt) - Date.parse(record.startedAt);
    this.render();
  }

  /** Run `fn` with the engine's retries, recording each attempt, its error and its commands. */
  private async withAttempts<T>(record: StepRecord, retryOptions: StepRetry | undefined, fn: (attempt: number) => Promise<T>): Promise<T> {
    const retry = { ...DEFAULT_STEP_RETRY, ...retryOptions };
    for (let attempt = 1; ; attempt++) {
      const entry: StepRecord['attempts'][number] = { attempt, startedAt: nowIso() };
      record.attempts.push(entry);
      this.render();
      try {
        const tag = this.tagOf(record, attempt);
        this.active.add(tag);
        let value: T;
        try {
          value = await this.withTag(tag, () => fn(attempt));
        } finally {
          this.active.delete(tag);
        }
        entry.endedAt = nowIso();
        return value;
      } catch (err) {
        entry.endedAt = nowIso();
        entry.error = describeError(err);
        record.commands.push(...commandRecordsOf(err));
        this.render();
        if (!isRetryable(err, retry) || attempt >= retry.maximumAttempts) throw err;
        await sleep(backoffMs(retry, attempt), { summary: timerSummary({ seq: record.seq, step: record.name, host: record.host, purpose: 'backoff', attempt: attempt + 1 }) });
      }
    }
  }

  private absorb<T>(record: StepRecord, output: StepOutput<T>): T {
    record.commands.push(...output.commands);
    return output.value;
  }

  /** A read-only step. It runs in plan mode too. */
  async inspect<T>(step: InspectStep<T>): Promise<T> {
    const record = this.beginStep('inspect', step.name, step.host, step.description);
    try {
      const value = await this.withAttempts(record, step.retry, async () => this.absorb(record, await step.run()));
      if (step.summarize) record.summary = step.summarize(value);
      this.endStep(record, 'completed');
      return value;
    } catch (err) {
      this.endStep(record, isCancellation(err) ? 'cancelled' : 'failed');
      throw err;
    }
  }

  /**
   * A mutating step: approval gate (unless pre-approved), act, verify, then register its compensation.
   * In plan mode nothing is scheduled: the step's exact commands are recorded and `undefined` returned.
   */
  async mutate<T>(step: MutateStep<T>): Promise<T | undefined> {
    if (this.planning) {
      const commands = step.plan();
      const gated = step.approval && !this.input.approve.includes(step.name);
      const planned: PlannedMutation = { step: step.name, host: step.host, description: step.description + (gated ? ' (needs approval)' : ''), commands };
      this.audit.planned.push(planned);
      const record = this.beginStep('mutate', step.name, step.host, step.description);
      record.summary = `${commands.length} command${commands.length === 1 ? '' : 's'} planned${gated ? ', needs approval' : ''}`;
      this.endStep(record, 'planned');
      return undefined;
    }
    const record = this.beginStep('mutate', step.name, step.host, step.description);
    let started = false;
    try {
      if (step.approval) record.approval = await this.awaitApproval(record, step);
      const value = await this.withAttempts(record, step.retry, async (attempt) => {
        started = true;
        const v = this.absorb(record, await step.run(attempt));
        if (step.verify) {
          const verify = step.verify;
          const verdict = this.absorb(record, await this.withTag(this.tagOf(record, attempt, true), () => verify(v)));
          if (!verdict.ok) throw ApplicationFailure.retryable(`verify of ${step.name} failed: ${verdict.detail}`, VERIFY_FAILED);
        }
        return v;
      });
      if (step.summarize) record.summary = step.summarize(value);
      const compensation = step.compensate?.(value);
      if (compensation) this.compensations.push({ step: step.name, host: step.host, compensation });
      this.endStep(record, 'completed');
      return value;
    } catch (err) {
      this.endStep(record, isCancellation(err) ? 'cancelled' : 'failed');
      if (started && step.settle) await this.settle(step.name, step.settle, err);
      throw err;
    }
  }

  /** Settle an act that was cut short (see MutateStep.settle); a failed settle needs a human. */
  private async settle(name: string, settle: SettleStep, cause: unknown): Promise<void> {
    try {
      await CancellationScope.nonCancellable(() => this.mutate(settle));
    } catch (settleErr) {
      if (isCancellation(cause)) return; // the run stays cancelled; the audit shows the failed settle
      throw ApplicationFailure.nonRetryable(
        `${name} failed (${describeError(cause).message}) and settling it (${settle.name}) failed too (${describeError(settleErr).message}): MANUAL ACTION NEEDED`,
        'SettleFailed',
      );
    }
  }

  private async awaitApproval<T>(record: StepRecord, step: MutateStep<T>): Promise<ApprovalRecord> {
    const requestedAt = nowIso();
    if (this.input.approve.includes(step.name)) {
      return { step: step.name, decision: 'pre-approved', approver: 'input.approve', requestedAt, decidedAt: requestedAt, waitedMs: 0 };
    }
    const timeout = (typeof step.approval === 'object' && step.approval.timeout) || this.input.approvalTimeout;
    this.waiting = { step: step.name, since: requestedAt, timeout, description: step.description };
    this.decision = undefined;
    record.status = 'waiting-approval';
    this.render();
    try {
      const decided = await condition(() => this.decision !== undefined, timeout as Duration, {
        summary: timerSummary({ seq: record.seq, step: record.name, host: record.host, purpose: 'approval', timeout }),
      });
      const decidedAt = nowIso();
      const waitedMs = Date.parse(decidedAt) - Date.parse(requestedAt);
      if (!decided) {
        record.approval = { step: step.name, decision: 'timed-out', requestedAt, decidedAt, waitedMs };
        throw ApplicationFailure.nonRetryable(`no decision on step "${step.name}" within ${timeout}; nothing was done for it`, APPROVAL_TIMED_OUT);
      }
      const { request } = this.decision!;
      const approval: ApprovalRecord = {
        step: step.name,
        decision: request.decision === 'approve' ? 'approved' : 'rejected',
        approver: request.approver,
        comment: request.comment,
        requestedAt,
        decidedAt,
        waitedMs,
      };
      if (approval.decision === 'rejected') {
        record.approval = approval;
        throw ApplicationFailure.nonRetryable(`step "${step.name}" was rejected by ${request.approver}${request.comment ? `: ${request.comment}` : ''}`, APPROVAL_REJECTED);
      }
      return approval;
    } finally {
      this.waiting = undefined;
      record.status = 'running';
      this.render();
    }
  }

  /**
   * The point of no return (a saga's pivot): what is done from here on is kept even if a later step
   * fails or the run is cancelled, because undoing it would do more harm than finishing by hand.
   * Drops the compensations registered so far and says so in the audit.
   */
  commit(reason: string): void {
    const dropped = this.compensations.splice(0).map((c) => `undo-${c.step}`);
    const record = this.beginStep('inspect', 'commit', undefined, `point of no return: ${reason}`);
    record.summary = dropped.length ? `${reason}; no longer undone on failure: ${dropped.join(', ')}` : reason;
    this.endStep(record, this.planning ? 'planned' : 'completed');
  }

  /** The audit log as the run's result or failure carries it (see the resultAudit input). */
  resultAudit(): AuditLog {
    return this.input?.resultAudit === 'steps' ? withoutCommands(this.audit) : this.audit;
  }

  /** Undo, newest first, what succeeded. Runs even when the run was cancelled. */
  async compensate(): Promise<string[]> {
    const failures: string[] = [];
    await CancellationScope.nonCancellable(async () => {
      while (this.compensations.length) {
        const { step, host, compensation } = this.compensations.pop()!;
        const record = this.beginStep('compensate', `undo-${step}`, host, compensation.description);
        record.compensates = step;
        try {
          await this.withAttempts(record, compensation.retry ?? { maximumAttempts: 10, maximumIntervalMs: 10_000 }, async () => this.absorb(record, await compensation.run()));
          this.endStep(record, 'completed');
        } catch (err) {
          this.endStep(record, 'failed');
          failures.push(`undo of ${step} failed: ${describeError(err).message}`);
        }
      }
    });
    return failures;
  }

  private setOutcome(outcome: AuditLog['outcome'], error?: string): void {
    this.audit.outcome = outcome;
    this.audit.endedAt = nowIso();
    if (error) this.audit.error = error;
    upsertSearchAttributes([{ key: RunbookOutcome, value: outcome }]);
    this.render();
  }

  /** Resolve inventory hosts to their sites (and fail early on unknown ones). */
  async resolveHosts(hosts: string[]): Promise<void> {
    const unresolved = [...new Set(hosts)].filter((h) => !this.sites.has(h));
    if (!unresolved.length) return;
    const described = await this.inspect({
      name: 'resolve-hosts',
      description: 'look the hosts up in the inventory',
      retry: { maximumAttempts: 3 },
      run: () => this.tagged(engine).describeHosts(unresolved),
      summarize: (hs) => hs.map((h) => `${h.name}${h.site ? `@${h.site}` : ''}`).join(', '),
    });
    for (const h of described) this.sites.set(h.name, h.site);
  }

  /**
   * Run a runbook body: validate input, then run; on failure or cancellation compensate, and always
   * leave the audit log, the step table and the outcome search attribute right.
   */
  static async run<S extends z.ZodType<CommonInput>, R>(
    definition: RunbookDefinition<S>,
    rawInput: unknown,
    body: (rb: Runbook<z.infer<S>>, input: z.infer<S>) => Promise<R>,
  ): Promise<RunbookResult<R>> {
    const rb = new Runbook<z.infer<S>>(definition.name);
    rb.installHandlers();
    upsertSearchAttributes([{ key: RunbookName, value: definition.name }, { key: RunbookOutcome, value: 'running' }]);
    let input: z.infer<S>;
    try {
      input = parseRunbookInput(definition.name, definition.schema, rawInput);
    } catch (err) {
      rb.setOutcome('failed', (err as Error).message);
      throw err;
    }
    rb.input = input;
    rb.audit.mode = input.mode;
    rb.audit.targets = [...new Set(definition.targets(input))];
    if (rb.audit.targets.length) upsertSearchAttributes([{ key: RunbookTargets, value: rb.audit.targets }]);
    rb.render();
    try {
      await rb.resolveHosts(definition.hosts ? definition.hosts(input) : rb.audit.targets);
      const value = await body(rb, input);
      rb.setOutcome(rb.planning ? 'planned' : 'succeeded');
      await condition(allHandlersFinished);
      return { runbook: definition.name, outcome: rb.planning ? 'planned' : 'succeeded', value, planned: rb.audit.planned, audit: rb.resultAudit() };
    } catch (err) {
      const cancelled = isCancellation(err);
      const compensationFailures = await rb.compensate();
      const reason = describeError(err).message;
      const failedStep = [...rb.audit.steps].reverse().find((s) => s.kind !== 'compensate' && (s.status === 'failed' || s.status === 'cancelled'));
      const message =
        `${definition.name} ${cancelled ? 'was cancelled' : 'failed'}${failedStep ? ` at step ${failedStep.name}` : ''}: ${reason}` +
        (compensationFailures.length ? `; MANUAL ACTION NEEDED: ${compensationFailures.join('; ')}` : '');
      rb.setOutcome(cancelled ? 'cancelled' : 'failed', message);
      if (cancelled) throw err;
      throw ApplicationFailure.create({ message, type: RUNBOOK_FAILED, nonRetryable: true, details: [rb.resultAudit()] });
    }
  }
}
