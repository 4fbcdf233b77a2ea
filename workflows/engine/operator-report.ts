// The convention by which a runbook's result says "an operator has to act", read by the CLI at the
// end of `runbook start --wait` (and `runbook status`) and by the UI's current details. A run can
// succeed as a whole (a sweep did everything it could) and still leave targets it refused or failed:
// those go in `needsOperator`, each with what is wrong and what to do. `totals` are the run's counts.
// Pure and deterministic: workflows render it, the CLI prints it.

export interface NeedsOperator {
  /** What needs attention: a project, a host, a volume. */
  target: string;
  /** refused: left alone on purpose (it would destroy data); failed: an error; blocked: could not be tried. */
  kind: 'refused' | 'failed' | 'blocked';
  problem: string;
  /** What the operator does about it, as a command or a decision. */
  remedy: string;
  /** The run that holds the details (its status, retro and history), when there is one. */
  workflowId?: string | null;
}

export interface OperatorReport {
  totals?: Record<string, number>;
  needsOperator?: NeedsOperator[];
}

/** The report in a result value, if the value follows the convention. */
export function operatorReportOf(value: unknown): Required<OperatorReport> | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as OperatorReport;
  const totals = v.totals && typeof v.totals === 'object' ? Object.fromEntries(Object.entries(v.totals).filter(([, n]) => typeof n === 'number')) : null;
  const needs = Array.isArray(v.needsOperator) ? v.needsOperator.filter((n) => n && typeof n.target === 'string' && typeof n.problem === 'string') : null;
  if (!totals && !needs) return null;
  return { totals: totals ?? {}, needsOperator: needs ?? [] };
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Markdown for the UI's current details: the totals in one row and every target that needs an operator. */
export function operatorReportMarkdown(report: OperatorReport, limit = 100): string {
  const lines: string[] = [];
  const totals = Object.entries(report.totals ?? {});
  if (totals.length) lines.push(`| ${totals.map(([k]) => k).join(' | ')} |`, `|${totals.map(() => '---').join('|')}|`, `| ${totals.map(([, n]) => String(n)).join(' | ')} |`);
  const needs = report.needsOperator ?? [];
  if (needs.length) {
    lines.push('', `**Needs an operator (${needs.length})**`, '');
    for (const n of needs.slice(0, limit)) lines.push(`- **${n.kind}** \`${cell(n.target)}\`: ${cell(n.problem)}<br>→ ${cell(n.remedy)}${n.workflowId ? ` (run \`${n.workflowId}\`)` : ''}`);
    if (needs.length > limit) lines.push(`- … and ${needs.length - limit} more (the result lists them all)`);
  }
  return lines.join('\n');
}

/** Plain text for the CLI. */
export function operatorReportText(report: OperatorReport): string[] {
  const lines: string[] = [];
  const totals = Object.entries(report.totals ?? {});
  if (totals.length) lines.push(`totals: ${totals.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const needs = report.needsOperator ?? [];
  if (needs.length) {
    lines.push(`NEEDS AN OPERATOR (${needs.length}):`);
    for (const n of needs) {
      lines.push(`  ${n.kind.toUpperCase()} ${n.target}${n.workflowId ? ` (${n.workflowId})` : ''}: ${n.problem}`);
      lines.push(`    remedy: ${n.remedy}`);
    }
  }
  return lines;
}
