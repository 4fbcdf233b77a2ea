import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { StepOutput } from '../../common/step';
import type { AuditLog, StepRecord } from '../../common/audit';
import { nowIso } from './clock';
import { renderDetails } from './details';
import { RunbookOutcome, RunbookStep } from './search-attributes';
import { scheduleRender } from './step-table-render';

/** The audit a runbook that continues as new carries into its next run (see Runbook.run's options). */
export interface CarriedAudit {
  /** When the first run of the chain started. */
  startedAt: string;
  steps: StepRecord[];
}

/** What the UI's step table says about a gate that waits. */
export interface WaitingApproval {
  step: string;
  since: string;
  timeout: string;
  description?: string;
}

/**
 * The run's audit log and everything that mirrors it: the step table in the UI's Current Details and
 * the RunbookStep / RunbookOutcome search attributes. Every change to a step goes through here, so
 * the three never disagree.
 */
export class AuditRecorder {
  readonly audit: AuditLog;
  private seq = 0;
  /** The gate the step table shows as waiting (set by the approvals). */
  waiting?: WaitingApproval;
  /** What a runbook shows above the step table (a sweep's progress); see Runbook.detailsHeader. */
  header?: () => string;

  constructor(name: string) {
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

  /** Earlier runs' steps first, keeping their numbers; this run's steps are numbered after them. */
  carryOver(carried: CarriedAudit): void {
    this.audit.startedAt = carried.startedAt;
    this.audit.steps.push(...carried.steps);
    this.seq = carried.steps.reduce((n, s) => Math.max(n, s.seq), this.seq);
  }

  /** The step table changed: it is rendered once, as the workflow task ends (step-table-render.ts). */
  render(): void {
    scheduleRender(() => {
      const table = renderDetails(this.audit, this.waiting);
      setCurrentDetails(this.header ? `${this.header()}\n\n${table}` : table);
    });
  }

  beginStep(kind: StepRecord['kind'], name: string, host?: string, description?: string): StepRecord {
    const record: StepRecord = { seq: ++this.seq, name, kind, host, description, status: 'running', startedAt: nowIso(), attempts: [], commands: [] };
    this.audit.steps.push(record);
    if (kind !== 'compensate') upsertSearchAttributes([{ key: RunbookStep, value: name }]);
    this.render();
    return record;
  }

  endStep(record: StepRecord, status: StepRecord['status']): void {
    record.status = status;
    record.endedAt = nowIso();
    record.durationMs = Date.parse(record.endedAt) - Date.parse(record.startedAt);
    this.render();
  }

  /** Keep a step activity's commands in its record; hand back its value. */
  absorb<T>(record: StepRecord, output: StepOutput<T>): T {
    record.commands.push(...output.commands);
    return output.value;
  }

  setOutcome(outcome: AuditLog['outcome'], error?: string): void {
    this.audit.outcome = outcome;
    this.audit.endedAt = nowIso();
    if (error) this.audit.error = error;
    upsertSearchAttributes([{ key: RunbookOutcome, value: outcome }]);
    this.render();
  }
}
