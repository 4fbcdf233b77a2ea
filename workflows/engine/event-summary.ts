// One-line summaries the engine puts on the activities and timers it schedules. The Web UI shows them
// on each event row and bar of its timeline, and the retrospective (cli/retro) parses them back to
// tell which step, attempt and phase an activity or timer belonged to, from the history alone: step
// names alone are ambiguous (parallel steps share a name, compensations do not set RunbookStep).
// Summaries are user metadata, not commands, so changing their wording never breaks a replay.

import type { StepKind } from '../../common/audit';

export interface ActivityTag {
  seq: number;
  step: string;
  host?: string;
  kind: StepKind;
  attempt: number;
  /** The read-only check after a mutating step's act. */
  verify?: boolean;
  /** A quick step's attempt: its activities run as local activities (routing.ts). Not in the summary. */
  quick?: boolean;
}

export interface TimerTag {
  seq: number;
  step: string;
  host?: string;
  purpose: 'backoff' | 'approval';
  /** backoff: the attempt that follows; approval: the timeout. */
  attempt?: number;
  timeout?: string;
}

export function activitySummary(t: ActivityTag): string {
  return `#${t.seq} ${t.step}${t.host ? ` @${t.host}` : ''} · ${t.kind} · attempt ${t.attempt}${t.verify ? ' · verify' : ''}`;
}

const ACTIVITY_RE = /^#(\d+) (\S+)(?: @(\S+))? · (inspect|mutate|compensate) · attempt (\d+)( · verify)?$/;

export function parseActivitySummary(text: string | undefined): ActivityTag | undefined {
  const m = text ? ACTIVITY_RE.exec(text) : null;
  if (!m) return undefined;
  return { seq: Number(m[1]), step: m[2], host: m[3], kind: m[4] as StepKind, attempt: Number(m[5]), ...(m[6] ? { verify: true } : {}) };
}

export function timerSummary(t: TimerTag): string {
  const step = `#${t.seq} ${t.step}${t.host ? ` @${t.host}` : ''}`;
  return t.purpose === 'backoff' ? `${step} · backoff before attempt ${t.attempt}` : `${step} · approval wait (times out after ${t.timeout})`;
}

const TIMER_RE = /^#(\d+) (\S+)(?: @(\S+))? · (?:backoff before attempt (\d+)|approval wait \(times out after ([^)]*)\))$/;

export function parseTimerSummary(text: string | undefined): TimerTag | undefined {
  const m = text ? TIMER_RE.exec(text) : null;
  if (!m) return undefined;
  const step = { seq: Number(m[1]), step: m[2], ...(m[3] ? { host: m[3] } : {}) };
  return m[4] !== undefined ? { ...step, purpose: 'backoff', attempt: Number(m[4]) } : { ...step, purpose: 'approval', timeout: m[5] };
}
