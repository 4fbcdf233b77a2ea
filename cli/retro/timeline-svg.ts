import { clock, decisionText, duration, stepLabel } from './format';
import type { Retro, RetroStep } from './model';

// The run as a picture: one row per step, one bar per attempt (green ok, red failed, grey cancelled,
// blue still running), the wait for approval as an amber hatched bar, backoff waits as a dotted line,
// compensations in purple, and the cancellation request as a red dashed line. Inline SVG, no scripts,
// so the HTML file works offline and in a mail client.

const LABEL_W = 270;
const CHART_W = 760;
const ROW_H = 26;
const TOP = 34;
const PAD = 10;

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function attemptColor(s: RetroStep, a: RetroStep['attempts'][number]): string {
  if (!a.endedAt) return '#2f6fde';
  if (a.error) return /cancel/i.test(a.error.type ?? a.error.message) ? '#8a8f98' : '#d33c3c';
  return s.kind === 'compensate' ? '#7b4fd1' : '#2e9e5b';
}

export function renderTimelineSvg(r: Retro): string {
  const t0 = Date.parse(r.startedAt);
  const t1 = Math.max(Date.parse(r.asOf), t0 + 1);
  // Whatever has not ended (a running attempt, a wait for approval) runs to the retro's moment.
  const x = (iso: string | undefined) => LABEL_W + ((Math.min(Math.max(Date.parse(iso ?? r.asOf), t0), t1) - t0) / (t1 - t0)) * CHART_W;
  const rows = r.steps.length || 1;
  const height = TOP + rows * ROW_H + 56;
  const width = LABEL_W + CHART_W + PAD * 2;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="timeline of ${esc(r.workflowId)}">`,
    '<defs><pattern id="wait" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffe3a3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#e0a100" stroke-width="3"/></pattern></defs>',
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  );
  // time axis: five ticks
  for (let i = 0; i <= 4; i++) {
    const tx = LABEL_W + (CHART_W * i) / 4;
    const at = new Date(t0 + ((t1 - t0) * i) / 4).toISOString();
    parts.push(`<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${TOP + rows * ROW_H}" stroke="#e4e6ea"/>`);
    parts.push(
      `<text x="${tx}" y="${TOP - 12}" font-size="11" text-anchor="${i === 0 ? 'start' : i === 4 ? 'end' : 'middle'}" fill="#555">${i === 0 ? clock(at) : `+${duration(t1 - t0 === 0 ? 0 : ((t1 - t0) * i) / 4)}`}</text>`,
    );
  }
  r.steps.forEach((s, i) => {
    const y = TOP + i * ROW_H;
    const mid = y + ROW_H / 2;
    if (i % 2 === 1) parts.push(`<rect x="0" y="${y}" width="${width}" height="${ROW_H}" fill="#f6f7f9"/>`);
    const label = `${s.seq}. ${stepLabel(s)}`;
    parts.push(
      `<text x="${PAD}" y="${mid + 4}" font-size="12" fill="${s.kind === 'compensate' ? '#5b2fb0' : '#1d2330'}" class="step-label">${esc(label.length > 38 ? `${label.slice(0, 37)}…` : label)}</text>`,
    );
    // the step's whole span, behind its attempts
    const sx = x(s.startedAt);
    const ex = s.endedAt ? x(s.endedAt) : x(undefined);
    parts.push(
      `<rect x="${sx}" y="${mid - 9}" width="${Math.max(ex - sx, 1)}" height="18" rx="3" fill="${s.kind === 'compensate' ? '#efe8fb' : '#eef1f5'}" stroke="#c9ced6" stroke-width="0.5"><title>${esc(`${label}: ${s.status}, ${duration(s.durationMs)}`)}</title></rect>`,
    );
    if (s.approvalWait) {
      const wx = x(s.approvalWait.from);
      const wex = x(s.approvalWait.to);
      parts.push(
        `<rect class="approval-wait" x="${wx}" y="${mid - 7}" width="${Math.max(wex - wx, 2)}" height="14" fill="url(#wait)" stroke="#e0a100"><title>${esc(`waiting for approval of ${s.name}: ${s.approval ? decisionText(s.approval.decision) : 'pending'}${s.approval?.approver ? ` by ${s.approval.approver}` : ''}`)}</title></rect>`,
      );
      if (s.approval && s.approval.decision !== 'pending') {
        const mark = {
          approved: `approved${s.approval.approver ? ` by ${s.approval.approver}` : ''}`,
          rejected: `rejected${s.approval.approver ? ` by ${s.approval.approver}` : ''}`,
          'timed-out': 'timed out',
          abandoned: 'abandoned',
          'pre-approved': 'pre-approved',
        }[s.approval.decision];
        parts.push(`<text class="approval-decision" x="${Math.max(wex - wx, 2) + wx + 3}" y="${mid - 8}" font-size="10" fill="#9a6a00">${esc(mark)}</text>`);
      }
    }
    for (const b of s.backoffs)
      parts.push(
        `<line class="backoff" x1="${x(b.from)}" y1="${mid}" x2="${x(b.to)}" y2="${mid}" stroke="#8a8f98" stroke-width="2" stroke-dasharray="2 3"><title>backoff before the next attempt</title></line>`,
      );
    for (const a of s.attempts) {
      const ax = x(a.startedAt);
      const aw = Math.max(x(a.endedAt) - ax, 3);
      parts.push(
        `<rect class="attempt" data-step="${s.seq}" data-attempt="${a.attempt}" x="${ax}" y="${mid - 6}" width="${aw}" height="12" rx="2" fill="${attemptColor(s, a)}"><title>${esc(`${s.name} attempt ${a.attempt}: ${a.error ? a.error.message : a.endedAt ? 'ok' : 'running'} (${duration(a.endedAt ? Date.parse(a.endedAt) - Date.parse(a.startedAt) : undefined)})`)}</title></rect>`,
      );
    }
    if (!s.attempts.length && !s.approvalWait) parts.push(`<circle cx="${sx + 4}" cy="${mid}" r="4" fill="none" stroke="#8a8f98"><title>${esc(`${s.name}: ${s.status}`)}</title></circle>`);
  });
  if (r.cancellation) {
    const cx = x(r.cancellation.requestedAt);
    parts.push(`<line class="cancel-line" x1="${cx}" y1="${TOP - 6}" x2="${cx}" y2="${TOP + rows * ROW_H}" stroke="#d33c3c" stroke-width="1.5" stroke-dasharray="5 3"/>`);
    parts.push(`<text x="${cx + 3}" y="${TOP + rows * ROW_H + 12}" font-size="11" fill="#d33c3c">cancel requested</text>`);
  }
  // legend
  const ly = TOP + rows * ROW_H + 34;
  const legend: Array<[string, string]> = [
    ['#2e9e5b', 'attempt ok'],
    ['#d33c3c', 'attempt failed'],
    ['#8a8f98', 'cancelled'],
    ['#2f6fde', 'running'],
    ['#7b4fd1', 'compensation'],
    ['url(#wait)', 'waiting for approval'],
  ];
  legend.forEach(([fill, text], i) => {
    const lx = PAD + i * 150;
    parts.push(
      `<rect x="${lx}" y="${ly - 9}" width="14" height="10" fill="${fill}" stroke="${fill.startsWith('url') ? '#e0a100' : 'none'}"/><text x="${lx + 19}" y="${ly}" font-size="11" fill="#333">${text}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
