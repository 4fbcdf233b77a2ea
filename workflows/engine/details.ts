import type { AuditLog, StepRecord } from '../../common/audit';

const STATUS_LABEL: Record<StepRecord['status'], string> = {
  running: '▶ running',
  'waiting-approval': '⏸ waiting for approval',
  completed: '✅ completed',
  failed: '❌ failed',
  planned: '📝 planned',
  cancelled: '⛔ cancelled',
};

function seconds(ms?: number): string {
  return ms === undefined ? '' : `${(ms / 1000).toFixed(1)}s`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The live step table shown in the UI's "Current Details". */
export function renderDetails(audit: AuditLog, waitingFor?: { step: string; since: string; timeout: string }): string {
  const lines = [`**${audit.runbook}** ${audit.mode === 'plan' ? '(plan) ' : ''}on ${audit.targets.join(', ') || '—'}: **${audit.outcome}**`, ''];
  if (waitingFor) {
    lines.push(
      `> ⏸ Step **${waitingFor.step}** is waiting for approval since ${waitingFor.since} (times out after ${waitingFor.timeout}). ` +
        `Approve with the \`approve\` update: \`{"step":"${waitingFor.step}","decision":"approve","approver":"you"}\``,
      '',
    );
  }
  lines.push('| # | step | host | status | attempts | time | result |', '|---|---|---|---|---|---|---|');
  for (const s of audit.steps) {
    const name = s.kind === 'compensate' ? `↩ ${s.name}` : s.name;
    const lastError = s.attempts.at(-1)?.error?.message;
    const result = s.summary ?? (s.status === 'failed' && lastError ? lastError : '');
    lines.push(`| ${s.seq} | ${cell(name)} | ${s.host ?? ''} | ${STATUS_LABEL[s.status]} | ${s.attempts.length || ''} | ${seconds(s.durationMs)} | ${cell(result.slice(0, 160))} |`);
  }
  if (audit.planned.length) {
    lines.push('', `**Planned mutations (${audit.planned.length})**`, '');
    for (const p of audit.planned) lines.push(`- **${p.step}**${p.host ? ` on ${p.host}` : ''}: ${cell(p.description)}`);
  }
  if (audit.error) lines.push('', `**Error:** ${cell(audit.error)}`);
  return lines.join('\n');
}
