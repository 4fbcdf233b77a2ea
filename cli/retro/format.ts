// Small formatting helpers shared by the markdown and HTML renderers.

export function duration(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** 2026-11-21 09:42:35.484 UTC */
export function timestamp(iso: string | undefined): string {
  if (!iso) return '';
  return `${iso.replace('T', ' ').replace(/Z$/, '')} UTC`;
}

/** 09:42:35.484: the time of day, when the date is in the header already. */
export function clock(iso: string | undefined): string {
  return iso ? iso.slice(11, 23) : '';
}

export function between(a: string | undefined, b: string | undefined): number | undefined {
  return a && b ? Date.parse(b) - Date.parse(a) : undefined;
}

export const STATUS_ICON: Record<string, string> = {
  completed: '✅',
  succeeded: '✅',
  planned: '📝',
  failed: '❌',
  cancelled: '⛔',
  terminated: '☠️',
  'timed-out': '⌛',
  running: '▶️',
  'waiting-approval': '⏸️',
  'continued-as-new': '↪️',
  unknown: '❔',
};

export function stepLabel(s: { seq: number; name: string; host?: string; kind: string }): string {
  return `${s.kind === 'compensate' ? '↩ ' : ''}${s.name}${s.host ? ` @${s.host}` : ''}`;
}

export function decisionText(d: string): string {
  return (
    {
      approved: 'approved',
      rejected: 'rejected',
      'timed-out': 'timed out (nobody decided)',
      'pre-approved': 'pre-approved in the input',
      pending: 'waiting for a decision',
      abandoned: 'abandoned (the run was cancelled while waiting)',
    }[d] ?? d
  );
}
