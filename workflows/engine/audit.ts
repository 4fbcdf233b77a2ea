import type { CommandRecord, PlannedMutation } from '../../common/step';

export type StepKind = 'inspect' | 'mutate' | 'compensate';
export type StepStatus = 'running' | 'waiting-approval' | 'completed' | 'failed' | 'planned' | 'cancelled';
export type Outcome = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'planned';

export interface AttemptRecord {
  attempt: number;
  startedAt: string;
  endedAt?: string;
  error?: { message: string; type?: string };
}

export type ApprovalDecision = 'approved' | 'rejected' | 'timed-out' | 'pre-approved';

export interface ApprovalRecord {
  step: string;
  decision: ApprovalDecision;
  approver?: string;
  comment?: string;
  requestedAt: string;
  decidedAt: string;
  waitedMs: number;
}

/** An approval the validator refused (wrong step, nothing waiting). Temporal keeps no record of these. */
export interface RefusedApproval {
  at: string;
  step: string;
  decision: string;
  approver?: string;
  reason: string;
  /**
   * True once the approver's client reported the refusal back as the `approvalRefused` signal, which
   * puts it in the history. Without it the entry lives only in the running workflow's memory (a
   * validator cannot issue a durable command) and a replay would lose it.
   */
  durable?: boolean;
}

export interface StepRecord {
  seq: number;
  name: string;
  kind: StepKind;
  host?: string;
  description?: string;
  status: StepStatus;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  attempts: AttemptRecord[];
  commands: CommandRecord[];
  approval?: ApprovalRecord;
  /** For a compensation: the step it undoes. */
  compensates?: string;
  /** A one-line result for the step table. */
  summary?: string;
  /** Set when the commands were left out of a result (resultAudit: steps): how many there were. */
  commandsOmitted?: number;
}

export interface AuditLog {
  runbook: string;
  workflowId: string;
  runId: string;
  mode: 'apply' | 'plan';
  targets: string[];
  outcome: Outcome;
  startedAt: string;
  endedAt?: string;
  error?: string;
  steps: StepRecord[];
  refusedApprovals: RefusedApproval[];
  planned: PlannedMutation[];
}

/** The audit log a result carries when its run was asked for steps only (see resultAudit). */
export function withoutCommands(audit: AuditLog): AuditLog {
  return {
    ...audit,
    steps: audit.steps.map((s) => ({ ...s, commands: [], commandsOmitted: s.commands.length })),
  };
}
