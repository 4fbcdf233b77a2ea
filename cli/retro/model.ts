import type { PlannedMutation } from '../../common/step';
import type { ApprovalRecord, AttemptRecord, RefusedApproval, StepRecord, StepStatus } from '../../common/audit';

// The retrospective of one run, built from its history alone (cli/retro/build.ts) and rendered to
// markdown or HTML. Times are ISO strings; durations milliseconds. Its steps, attempts and approvals
// are the audit log's (common/audit.ts, one zod schema) plus what only the events know: a step rebuilt
// from the events may have an unknown status, an approval may still be pending or abandoned.

export type RunStatus = 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed-out' | 'continued-as-new' | 'running';
export type RetroStepStatus = StepStatus | 'unknown';

export type RetroAttempt = AttemptRecord;

export type RetroApproval = Omit<ApprovalRecord, 'decision' | 'requestedAt' | 'decidedAt' | 'waitedMs'> &
  Partial<Pick<ApprovalRecord, 'requestedAt' | 'decidedAt' | 'waitedMs'>> & {
    decision: ApprovalRecord['decision'] | 'pending' | 'abandoned';
  };

/** The engine's own record of a refused approval (one definition, so the retro cannot drift from it). */
export type { RefusedApproval } from '../../common/audit';

export interface RetroStep extends Omit<StepRecord, 'status' | 'approval' | 'commandsOmitted'> {
  status: RetroStepStatus;
  approval?: RetroApproval;
  /** The wait for approval, as the timeline draws it. */
  approvalWait?: { from: string; to?: string };
  /** Waits between attempts (the engine's backoff timers). */
  backoffs: Array<{ from: string; to?: string }>;
  /** First and last history event of this step (for mapping a replay divergence to it). */
  events: { first: number; last: number };
}

export interface Retro {
  workflowId: string;
  runId?: string;
  runbook: string;
  taskQueue?: string;
  status: RunStatus;
  /** The engine's own outcome (RunbookOutcome): running, succeeded, failed, cancelled, planned. */
  outcome?: string;
  mode?: string;
  targets: string[];
  staticSummary?: string;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  /** The input, with anything that looks like a secret replaced by ***. */
  input: unknown;
  steps: RetroStep[];
  approvals: RetroApproval[];
  refusedApprovals: RefusedApproval[];
  planned: PlannedMutation[];
  cancellation?: { requestedAt: string; identity?: string; reason?: string };
  termination?: { at: string; identity?: string; reason?: string };
  /** The run's final error message (failed, cancelled, timed out, terminated). */
  error?: string;
  /** Workflow task failures: a nondeterminism error on a live worker shows up here. */
  workflowTaskFailures: Array<{ at: string; message: string }>;
  children: Array<{ workflowId: string; type?: string; status: string }>;
  signals: Array<{ at: string; name: string }>;
  /** audit: the engine's audit log, carried by the result or failure; events: rebuilt from the events. */
  source: 'audit' | 'events';
  /** What the history cannot tell, said plainly. */
  notes: string[];
  history: { events: number; lastEventAt: string; source: string };
  /** The moment this retro describes: the run's end, or for an open run when it was fetched (or its last event). */
  asOf: string;
}
