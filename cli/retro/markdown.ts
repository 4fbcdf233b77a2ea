import type { CommandRecord } from '../../common/step';
import { between, clock, decisionText, duration, STATUS_ICON, stepLabel, timestamp } from './format';
import type { Retro, RetroStep } from './model';

function cell(text: string | undefined): string {
  return (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A fenced block that its content cannot close. */
function fence(text: string, lang = ''): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const f = '`'.repeat(longest + 1);
  return `${f}${lang}\n${text.replace(/\n$/, '')}\n${f}`;
}

function code(text: string): string {
  const ticks = text.includes('`') ? '``' : '`';
  return `${ticks}${ticks === '``' ? ' ' : ''}${text}${ticks === '``' ? ' ' : ''}${ticks}`;
}

function commandLines(c: CommandRecord): string[] {
  const end = c.exitCode === null ? (c.signal ? `killed by ${c.signal}` : c.timedOut ? 'timed out' : c.cancelled ? 'cancelled' : 'no exit code') : `exit ${c.exitCode}`;
  const lines = [`- ${code(c.command)} on ${c.host} → **${end}** (${duration(c.durationMs)}, at ${clock(c.startedAt)})`];
  if (c.stdoutTail.trim()) lines.push('', `  stdout${c.truncated ? ' (last part)' : ''}:`, '', indent(fence(c.stdoutTail), '  '));
  if (c.stderrTail.trim()) lines.push('', `  stderr${c.truncated ? ' (last part)' : ''}:`, '', indent(fence(c.stderrTail), '  '));
  return lines;
}

function indent(text: string, pad: string): string {
  return text
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

function stepDetails(s: RetroStep): string[] {
  const out = [`### ${s.seq}. ${stepLabel(s)}: ${STATUS_ICON[s.status] ?? ''} ${s.status}`, ''];
  if (s.description) out.push(`${s.description}`, '');
  if (s.compensates) out.push(`Undoes step **${s.compensates}**.`, '');
  out.push(`Started ${timestamp(s.startedAt)}${s.endedAt ? `, ended ${clock(s.endedAt)} (${duration(s.durationMs)})` : ', not ended'}.`, '');
  if (s.summary) out.push(`Result: ${s.summary}`, '');
  if (s.approval) {
    const a = s.approval;
    out.push(
      `Approval: **${decisionText(a.decision)}**${a.approver ? ` by ${a.approver}` : ''}${a.decidedAt ? ` at ${clock(a.decidedAt)}` : ''}` +
        `${a.waitedMs !== undefined ? ` after waiting ${duration(a.waitedMs)}` : a.requestedAt ? ` (waiting since ${clock(a.requestedAt)})` : ''}${a.comment ? `: “${a.comment}”` : ''}`,
      '',
    );
  }
  if (s.attempts.length) {
    out.push('Attempts:', '');
    for (const a of s.attempts) {
      const took = a.endedAt ? `${clock(a.startedAt)} → ${clock(a.endedAt)} (${duration(between(a.startedAt, a.endedAt))})` : `${clock(a.startedAt)} →, still running`;
      out.push(`${a.attempt}. ${took}: ${a.error ? `❌ ${a.error.type ? `${a.error.type}: ` : ''}${a.error.message}` : a.endedAt ? '✅ ok' : '…'}`);
    }
    out.push('');
  }
  if (s.commands.length) {
    out.push('Commands:', '');
    for (const c of s.commands) out.push(...commandLines(c));
    out.push('');
  }
  return out;
}

/** The retrospective as markdown: for a ticket, a wiki page or a chat. */
export function renderMarkdown(r: Retro): string {
  const lines: string[] = [];
  lines.push(`# Retrospective: ${r.runbook} ${code(r.workflowId)}`, '');
  if (r.staticSummary) lines.push(`> ${r.staticSummary}`, '');
  lines.push(
    '| | |',
    '|---|---|',
    `| Runbook | ${r.runbook}${r.mode === 'plan' ? ' (plan mode: nothing was changed)' : ''} |`,
    `| Workflow | ${code(r.workflowId)}${r.runId ? ` run ${code(r.runId)}` : ''} |`,
    `| Status | ${STATUS_ICON[r.status] ?? ''} **${r.status}**${r.outcome ? ` (engine outcome: ${r.outcome})` : ''} |`,
    `| Targets | ${cell(r.targets.join(', ')) || '—'} |`,
    `| Started | ${timestamp(r.startedAt)} |`,
    `| Ended | ${r.endedAt ? `${timestamp(r.endedAt)} (took ${duration(r.durationMs)})` : `still running (last event ${timestamp(r.history.lastEventAt)})`} |`,
    `| Steps | ${r.steps.filter((s) => s.kind !== 'compensate').length} run, ${r.steps.filter((s) => s.kind === 'compensate').length} compensations |`,
    `| History | ${r.history.events} events from ${cell(r.history.source)}; steps from the ${r.source === 'audit' ? "engine's audit log" : 'events'} |`,
    '',
  );
  lines.push(`**Outcome:** ${r.error ? cell(r.error) : r.status === 'running' ? 'still running' : r.outcome === 'planned' ? 'planned; nothing was changed' : 'succeeded'}`, '');
  for (const n of r.notes) lines.push(`> **Note:** ${n}`, '');

  lines.push('## Input', '', fence(JSON.stringify(r.input, null, 2), 'json'), '');

  lines.push('## Steps', '');
  if (!r.steps.length) lines.push('No step ran.', '');
  else {
    lines.push('| # | step | kind | status | started | ended | took | attempts | approval |', '|---|---|---|---|---|---|---|---|---|');
    for (const s of r.steps) {
      lines.push(
        `| ${s.seq} | ${cell(stepLabel(s))} | ${s.kind} | ${STATUS_ICON[s.status] ?? ''} ${s.status} | ${clock(s.startedAt)} | ${clock(s.endedAt)} | ${duration(s.durationMs)} | ${s.attempts.length || ''}${s.attempts.some((a) => a.error) ? ` (${s.attempts.filter((a) => a.error).length} failed)` : ''} | ${s.approval ? decisionText(s.approval.decision) : ''} |`,
      );
    }
    lines.push('');
  }

  lines.push('## Approvals', '');
  if (!r.approvals.length && !r.refusedApprovals.length) lines.push('No step of this run asked for approval.', '');
  if (r.approvals.length) {
    lines.push('| step | decision | by | requested | decided | waited | comment |', '|---|---|---|---|---|---|---|');
    for (const a of r.approvals)
      lines.push(`| ${cell(a.step)} | ${decisionText(a.decision)} | ${cell(a.approver)} | ${clock(a.requestedAt)} | ${clock(a.decidedAt)} | ${duration(a.waitedMs)} | ${cell(a.comment)} |`);
    lines.push('');
  }
  if (r.refusedApprovals.length) {
    lines.push('Refused approvals (the workflow turned these down; Temporal keeps no record of them, the audit log does):', '');
    for (const a of r.refusedApprovals) lines.push(`- ${clock(a.at)}: ${cell(a.approver ?? 'someone')} tried to ${cell(a.decision)} **${cell(a.step)}**: ${cell(a.reason)}`);
    lines.push('');
  }

  const compensations = r.steps.filter((s) => s.kind === 'compensate');
  lines.push('## Compensations', '');
  if (!compensations.length)
    lines.push(
      r.status === 'completed' ? 'None were needed.' : r.status === 'terminated' ? 'None ran: a terminated run runs no code.' : 'None ran (nothing that succeeded before the end had an undo).',
      '',
    );
  for (const c of compensations)
    lines.push(
      `- ${cell(c.name)}${c.compensates ? ` (undoes ${cell(c.compensates)})` : ''}: ${STATUS_ICON[c.status] ?? ''} ${c.status}${c.attempts.length > 1 ? ` after ${c.attempts.length} attempts` : ''}`,
    );
  if (compensations.length) lines.push('');

  if (r.cancellation || r.termination) {
    lines.push('## Cancellation', '');
    if (r.cancellation)
      lines.push(
        `Cancellation requested at ${timestamp(r.cancellation.requestedAt)}${r.cancellation.identity ? ` by ${cell(r.cancellation.identity)}` : ''}${r.cancellation.reason ? `: ${cell(r.cancellation.reason)}` : ''}.`,
        '',
      );
    if (r.termination)
      lines.push(
        `Terminated at ${timestamp(r.termination.at)}${r.termination.identity ? ` by ${cell(r.termination.identity)}` : ''}${r.termination.reason ? `: ${cell(r.termination.reason)}` : ''}.`,
        '',
      );
  }

  if (r.planned.length) {
    lines.push('## Planned mutations', '');
    for (const p of r.planned) {
      lines.push(`- **${cell(p.step)}**${p.host ? ` on ${p.host}` : ''}: ${cell(p.description)}`);
      for (const c of p.commands) lines.push(`  - ${code(c)}`);
    }
    lines.push('');
  }

  if (r.children.length) {
    lines.push('## Child workflows', '', '| workflow | type | status |', '|---|---|---|');
    for (const c of r.children) lines.push(`| ${code(c.workflowId)} | ${cell(c.type)} | ${c.status} |`);
    lines.push('');
  }
  if (r.workflowTaskFailures.length) {
    lines.push('## Workflow task failures', '');
    for (const f of r.workflowTaskFailures) lines.push(`- ${timestamp(f.at)}: ${cell(f.message)}`);
    lines.push('');
  }

  lines.push('## Step details', '');
  for (const s of r.steps) lines.push(...stepDetails(s));
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}
