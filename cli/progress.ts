import type { WorkflowHandle } from '@temporalio/client';
import type { AuditLog, StepRecord } from '../common/audit';
import { auditQuery, pendingApprovalQuery } from '../workflows/engine/messages';

const ICON: Record<StepRecord['status'], string> = {
  running: '…',
  'waiting-approval': '⏸',
  completed: '✔',
  failed: '✘',
  planned: '≡',
  cancelled: '⛔',
};

function line(s: StepRecord): string {
  const name = s.kind === 'compensate' ? `undo ${s.compensates}` : s.name;
  const time = s.durationMs !== undefined ? ` (${(s.durationMs / 1000).toFixed(1)}s)` : '';
  const attempts = s.attempts.length > 1 ? ` [${s.attempts.length} attempts]` : '';
  const error = s.status === 'failed' ? `: ${s.attempts.at(-1)?.error?.message ?? ''}` : s.summary ? `: ${s.summary}` : '';
  return `  ${ICON[s.status]} ${name}${s.host ? ` @${s.host}` : ''}${time}${attempts}${error}`;
}

/**
 * Print each step as it changes, by polling the `audit` query, until `done` settles. Approval waits
 * print the command that answers them.
 */
export async function followSteps(handle: WorkflowHandle, done: Promise<unknown>, write: (s: string) => void): Promise<void> {
  const shown = new Map<number, string>();
  let settled = false;
  done.then(
    () => (settled = true),
    () => (settled = true),
  );
  let announcedWait: string | undefined;
  const poll = async () => {
    let audit: AuditLog;
    try {
      audit = await handle.query(auditQuery);
    } catch {
      return; // no worker yet, or the run just closed
    }
    for (const s of audit.steps) {
      const text = line(s);
      if (shown.get(s.seq) !== text && s.status !== 'running') {
        shown.set(s.seq, text);
        write(text);
      }
    }
    const pending = await handle.query(pendingApprovalQuery).catch(() => null);
    if (pending && announcedWait !== pending.step) {
      announcedWait = pending.step;
      write(`  ⏸ waiting for approval of "${pending.step}": runbook approve ${handle.workflowId} ${pending.step} [--reject] [--comment "..."]`);
    }
  };
  while (!settled) {
    await poll();
    await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 700))]);
  }
  await poll();
}
