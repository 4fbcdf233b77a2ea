import type { WorkflowHandle } from '@temporalio/client';

/** How a recorded run must end; the recorder refuses to save a history that ended otherwise. */
export type RecordedEnd = 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'RUNNING';

/**
 * One history to record: a runbook started with `input`, optionally driven while it runs (approve,
 * reject, cancel), saved as test/histories/<runbook>/<name>.json once it ends as `end`.
 * `RUNNING` saves the history as it is when `drive` returns, then cancels the run: a snapshot of a
 * run in flight, which a retrospective must handle too.
 */
export interface RecordingCase {
  runbook: string;
  name: string;
  /** Lab scenarios whose hosts the run needs (base is always up). */
  scenarios?: string[];
  /** `uniq` is different on every recording, for paths that must not collide with an earlier run. */
  input: (uniq: string) => Record<string, unknown>;
  drive?: (handle: WorkflowHandle) => Promise<void>;
  /** Runs before the run starts (e.g. seed regions the runbook needs, set a fault). */
  prepare?: () => Promise<void>;
  end: RecordedEnd;
  /**
   * Hosts added to the recorder's private copy of the lab inventory (e.g. one nobody answers on, for
   * a history with retries). Each entry borrows the address-independent fields of a lab host.
   */
  extraHosts?: Record<string, { address: string; port?: number }>;
}
