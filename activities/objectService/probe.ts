import { Context } from '@temporalio/activity';
import { answers, serviceLabel, serviceUrl } from './http';

// The downtime probe: while an apply run works on the host, a client asks the object service for a
// page every 50 ms, as its users would. It runs until the workflow cancels it, heartbeating its
// totals, so a worker that dies mid-run loses no count: the workflow starts it again with the totals
// of its last heartbeat (`resume`), and the time nobody was watching is reported as unobserved, not
// as up or down.

export interface Outage {
  /** ISO time of the first failed request and of the first success after it. */
  from: string;
  to: string | null;
  ms: number;
  failed: number;
  /** The first failure's reason (ECONNREFUSED, ECONNRESET, HTTP 503...). */
  reason: string;
}

export interface ProbeTotals {
  /** The service by host name (the worker resolves it). */
  service: string;
  intervalMs: number;
  requests: number;
  ok: number;
  failed: number;
  /** Time from each first failed request to the next success, summed. */
  downtimeMs: number;
  longestOutageMs: number;
  /** The first outages (at most 20) with their times. */
  outages: Outage[];
  startedAt: string;
  lastAt: string;
  /** Time the probe was not running (its worker died) before it was resumed. */
  unobservedMs: number;
  attempts: number;
}

const MAX_OUTAGES = 20;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function probeObjectService(host: string, port: number, path: string, intervalMs: number, resume?: ProbeTotals | null): Promise<ProbeTotals> {
  const ctx = Context.current();
  const url = serviceUrl(host, port, path);
  const now = () => new Date().toISOString();
  const resumed = resume ?? (ctx.info.heartbeatDetails as ProbeTotals | undefined);
  const totals: ProbeTotals = resumed
    ? { ...resumed, unobservedMs: resumed.unobservedMs + Math.max(0, Date.now() - Date.parse(resumed.lastAt)), attempts: resumed.attempts + 1 }
    : {
        service: serviceLabel(host, port, path),
        intervalMs,
        requests: 0,
        ok: 0,
        failed: 0,
        downtimeMs: 0,
        longestOutageMs: 0,
        outages: [],
        startedAt: now(),
        lastAt: now(),
        unobservedMs: 0,
        attempts: 1,
      };
  // An outage still open in the last heartbeat is closed where observation stopped: we do not know how it went on.
  const open = totals.outages.at(-1);
  if (open && open.to === null) {
    open.to = totals.lastAt;
    open.ms = Math.max(0, Date.parse(open.to) - Date.parse(open.from));
    totals.downtimeMs += open.ms;
    totals.longestOutageMs = Math.max(totals.longestOutageMs, open.ms);
  }
  let outageStart: number | null = null;
  let current: Outage | null = null;
  let lastBeat = 0;
  const signal = ctx.cancellationSignal;
  while (!signal.aborted) {
    const t0 = Date.now();
    // A request still in flight when the run ends is not counted either way.
    const r = await answers(url, Math.max(250, intervalMs * 10));
    if (signal.aborted) break;
    totals.requests++;
    totals.lastAt = new Date(t0).toISOString();
    if (r.ok) {
      totals.ok++;
      if (outageStart !== null && current) {
        current.to = new Date(t0).toISOString();
        current.ms = t0 - outageStart;
        totals.downtimeMs += current.ms;
        totals.longestOutageMs = Math.max(totals.longestOutageMs, current.ms);
        outageStart = null;
        current = null;
      }
    } else {
      totals.failed++;
      if (outageStart === null) {
        outageStart = t0;
        current = { from: new Date(t0).toISOString(), to: null, ms: 0, failed: 0, reason: r.error ?? `HTTP ${r.status}` };
        if (totals.outages.length < MAX_OUTAGES) totals.outages.push(current);
      }
      if (current) current.failed++;
    }
    if (Date.now() - lastBeat >= 1000) {
      ctx.heartbeat(totals);
      lastBeat = Date.now();
    }
    await sleep(intervalMs - (Date.now() - t0), signal);
  }
  // Still down when the run ended: that time counts too.
  if (outageStart !== null && current) {
    current.ms = Date.now() - outageStart;
    totals.downtimeMs += current.ms;
    totals.longestOutageMs = Math.max(totals.longestOutageMs, current.ms);
  }
  // Returning (not throwing) on cancellation hands the totals to the workflow, which waits for them.
  return totals;
}
