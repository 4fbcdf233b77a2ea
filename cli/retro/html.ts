import type { CommandRecord } from '../../common/step';
import { between, clock, decisionText, duration, stepLabel, timestamp } from './format';
import type { Retro, RetroStep } from './model';
import { esc, renderTimelineSvg } from './timeline-svg';

// The retrospective as one self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched),
// so it can be attached to an incident ticket and opened anywhere, years later.

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;margin:24px auto;max-width:1080px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e4e6ea;padding-bottom:4px} h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0} th,td{border:1px solid #e4e6ea;padding:4px 8px;text-align:left;vertical-align:top} th{background:#f6f7f9}
code,pre{font:12px/1.4 ui-monospace,"DejaVu Sans Mono",monospace} pre{background:#f6f7f9;border:1px solid #e4e6ea;padding:8px;overflow-x:auto;white-space:pre-wrap;margin:4px 0}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600}
.s-completed,.s-succeeded{background:#dff3e6;color:#1d6b3c} .s-failed{background:#fbe0e0;color:#9b1c1c} .s-cancelled,.s-terminated,.s-unknown{background:#e9eaed;color:#444}
.s-running,.s-waiting-approval{background:#dde8fb;color:#1e4fa8} .s-planned{background:#fff3d6;color:#7a5200}
.note{background:#fff8e6;border-left:4px solid #e0a100;padding:6px 10px;margin:8px 0} .outcome{font-size:15px;margin:10px 0}
.meta td:first-child{color:#555;white-space:nowrap} .err{color:#9b1c1c} .timeline{border:1px solid #e4e6ea;max-width:100%;height:auto}
.compensate td{background:#faf7ff}
`;

function statusBadge(status: string): string {
  // No emoji here: many machines (this one's Chromium too) have no emoji font; the colour says it.
  return `<span class="status s-${esc(status)}">${esc(status)}</span>`;
}

function commandHtml(c: CommandRecord): string {
  const end = c.exitCode === null ? (c.signal ? `killed by ${c.signal}` : c.timedOut ? 'timed out' : c.cancelled ? 'cancelled' : 'no exit code') : `exit ${c.exitCode}`;
  const parts = [
    `<div class="command"><code>${esc(c.command)}</code> on ${esc(c.host)} → <b class="${c.exitCode === 0 ? '' : 'err'}">${esc(end)}</b> (${duration(c.durationMs)}, at ${clock(c.startedAt)})`,
  ];
  if (c.stdoutTail.trim()) parts.push(`<div>stdout${c.truncated ? ' (last part)' : ''}:</div><pre>${esc(c.stdoutTail)}</pre>`);
  if (c.stderrTail.trim()) parts.push(`<div>stderr${c.truncated ? ' (last part)' : ''}:</div><pre>${esc(c.stderrTail)}</pre>`);
  parts.push('</div>');
  return parts.join('');
}

function stepSection(s: RetroStep): string {
  const out = [`<section class="step" id="step-${s.seq}"><h3>${s.seq}. ${esc(stepLabel(s))} ${statusBadge(s.status)}</h3>`];
  if (s.description) out.push(`<p>${esc(s.description)}</p>`);
  if (s.compensates) out.push(`<p>Undoes step <b>${esc(s.compensates)}</b>.</p>`);
  out.push(`<p>Started ${timestamp(s.startedAt)}${s.endedAt ? `, ended ${clock(s.endedAt)} (${duration(s.durationMs)})` : ', not ended'}.${s.summary ? ` Result: ${esc(s.summary)}` : ''}</p>`);
  if (s.approval) {
    const a = s.approval;
    out.push(
      `<p>Approval: <b>${esc(decisionText(a.decision))}</b>${a.approver ? ` by ${esc(a.approver)}` : ''}${a.decidedAt ? ` at ${clock(a.decidedAt)}` : ''}${a.waitedMs !== undefined ? ` after waiting ${duration(a.waitedMs)}` : ''}${a.comment ? `: “${esc(a.comment)}”` : ''}</p>`,
    );
  }
  if (s.attempts.length) {
    out.push('<table><tr><th>attempt</th><th>started</th><th>ended</th><th>took</th><th>result</th></tr>');
    for (const a of s.attempts) {
      out.push(
        `<tr><td>${a.attempt}</td><td>${clock(a.startedAt)}</td><td>${clock(a.endedAt)}</td><td>${duration(between(a.startedAt, a.endedAt))}</td><td class="${a.error ? 'err' : ''}">${a.error ? esc(`${a.error.type ? `${a.error.type}: ` : ''}${a.error.message}`) : a.endedAt ? 'ok' : 'running'}</td></tr>`,
      );
    }
    out.push('</table>');
  }
  for (const c of s.commands) out.push(commandHtml(c));
  out.push('</section>');
  return out.join('\n');
}

export function renderHtml(r: Retro): string {
  const compensations = r.steps.filter((s) => s.kind === 'compensate');
  const body: string[] = [];
  body.push(`<h1>Retrospective: ${esc(r.runbook)} <code>${esc(r.workflowId)}</code></h1>`);
  if (r.staticSummary) body.push(`<p><i>${esc(r.staticSummary)}</i></p>`);
  body.push(
    '<table class="meta">',
    `<tr><td>Runbook</td><td>${esc(r.runbook)}${r.mode === 'plan' ? ' (plan mode: nothing was changed)' : ''}</td></tr>`,
    `<tr><td>Workflow</td><td><code>${esc(r.workflowId)}</code>${r.runId ? ` run <code>${esc(r.runId)}</code>` : ''}</td></tr>`,
    `<tr><td>Status</td><td id="run-status">${statusBadge(r.status)}${r.outcome ? ` engine outcome: <b>${esc(r.outcome)}</b>` : ''}</td></tr>`,
    `<tr><td>Targets</td><td>${esc(r.targets.join(', ') || '—')}</td></tr>`,
    `<tr><td>Started</td><td>${timestamp(r.startedAt)}</td></tr>`,
    `<tr><td>Ended</td><td>${r.endedAt ? `${timestamp(r.endedAt)} (took ${duration(r.durationMs)})` : `still running (last event ${timestamp(r.history.lastEventAt)})`}</td></tr>`,
    `<tr><td>History</td><td>${r.history.events} events from ${esc(r.history.source)}; steps from the ${r.source === 'audit' ? "engine's audit log" : 'events'}</td></tr>`,
    '</table>',
  );
  body.push(
    `<p class="outcome"><b>Outcome:</b> <span class="${r.error ? 'err' : ''}">${esc(r.error ?? (r.status === 'running' ? 'still running' : r.outcome === 'planned' ? 'planned; nothing was changed' : 'succeeded'))}</span></p>`,
  );
  for (const n of r.notes) body.push(`<div class="note">${esc(n)}</div>`);

  body.push('<h2>Timeline</h2>', renderTimelineSvg(r));

  body.push('<h2>Steps</h2>');
  if (!r.steps.length) body.push('<p>No step ran.</p>');
  else {
    body.push('<table id="steps"><tr><th>#</th><th>step</th><th>kind</th><th>status</th><th>started</th><th>ended</th><th>took</th><th>attempts</th><th>approval</th></tr>');
    for (const s of r.steps) {
      body.push(
        `<tr class="${s.kind}" data-seq="${s.seq}"><td>${s.seq}</td><td><a href="#step-${s.seq}">${esc(stepLabel(s))}</a></td><td>${s.kind}</td><td>${statusBadge(s.status)}</td><td>${clock(s.startedAt)}</td><td>${clock(s.endedAt)}</td><td>${duration(s.durationMs)}</td><td class="attempts">${s.attempts.length || ''}</td><td>${s.approval ? esc(decisionText(s.approval.decision)) : ''}</td></tr>`,
      );
    }
    body.push('</table>');
  }

  body.push('<h2>Input</h2>', `<pre id="input">${esc(JSON.stringify(r.input, null, 2))}</pre>`);

  body.push('<h2>Approvals</h2>');
  if (!r.approvals.length && !r.refusedApprovals.length) body.push('<p>No step of this run asked for approval.</p>');
  if (r.approvals.length) {
    body.push('<table id="approvals"><tr><th>step</th><th>decision</th><th>by</th><th>requested</th><th>decided</th><th>waited</th><th>comment</th></tr>');
    for (const a of r.approvals) {
      body.push(
        `<tr><td>${esc(a.step)}</td><td>${esc(decisionText(a.decision))}</td><td>${esc(a.approver ?? '')}</td><td>${clock(a.requestedAt)}</td><td>${clock(a.decidedAt)}</td><td>${duration(a.waitedMs)}</td><td>${esc(a.comment ?? '')}</td></tr>`,
      );
    }
    body.push('</table>');
  }
  if (r.refusedApprovals.length) {
    body.push('<p>Refused approvals (the workflow turned these down; Temporal keeps no record of them, the audit log does):</p><ul>');
    for (const a of r.refusedApprovals) body.push(`<li>${clock(a.at)}: ${esc(a.approver ?? 'someone')} tried to ${esc(a.decision)} <b>${esc(a.step)}</b>: ${esc(a.reason)}</li>`);
    body.push('</ul>');
  }

  body.push('<h2>Compensations</h2>');
  if (!compensations.length) body.push(`<p>${r.status === 'completed' ? 'None were needed.' : r.status === 'terminated' ? 'None ran: a terminated run runs no code.' : 'None ran.'}</p>`);
  else body.push(`<ul>${compensations.map((c) => `<li>${esc(c.name)}${c.compensates ? ` (undoes ${esc(c.compensates)})` : ''}: ${statusBadge(c.status)}</li>`).join('')}</ul>`);

  if (r.cancellation || r.termination) {
    body.push('<h2>Cancellation</h2>');
    if (r.cancellation) body.push(`<p>Cancellation requested at ${timestamp(r.cancellation.requestedAt)}${r.cancellation.identity ? ` by ${esc(r.cancellation.identity)}` : ''}.</p>`);
    if (r.termination)
      body.push(
        `<p>Terminated at ${timestamp(r.termination.at)}${r.termination.identity ? ` by ${esc(r.termination.identity)}` : ''}${r.termination.reason ? `: ${esc(r.termination.reason)}` : ''}.</p>`,
      );
  }
  if (r.planned.length) {
    body.push('<h2>Planned mutations</h2><ul>');
    for (const p of r.planned) body.push(`<li><b>${esc(p.step)}</b>${p.host ? ` on ${esc(p.host)}` : ''}: ${esc(p.description)}${p.commands.map((c) => `<pre>${esc(c)}</pre>`).join('')}</li>`);
    body.push('</ul>');
  }
  if (r.children.length) body.push('<h2>Child workflows</h2><ul>', ...r.children.map((c) => `<li><code>${esc(c.workflowId)}</code> ${esc(c.type ?? '')}: ${esc(c.status)}</li>`), '</ul>');
  if (r.workflowTaskFailures.length) body.push('<h2>Workflow task failures</h2><ul>', ...r.workflowTaskFailures.map((f) => `<li>${timestamp(f.at)}: ${esc(f.message)}</li>`), '</ul>');

  body.push('<h2>Step details</h2>', ...r.steps.map(stepSection));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(`Retrospective: ${r.runbook} ${r.workflowId}`)}</title>
<meta name="generator" content="runbook retro"><style>${CSS}</style></head>
<body>
${body.join('\n')}
</body></html>
`;
}
