import { StringDecoder } from 'node:string_decoder';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { StepOutput } from '../../common/step';
import { hostAnswered } from '../ssh/errors';
import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { ZfsFeatures } from '../zfs/features';
import { parseZfsGet } from '../zfs/get';
import { copiesFromObjects, inspectCopiesCommand, isMissingDataset, missingCopy, newestSnapshot, type CopyState } from './copy-state';
import { inspectPoolCommand, PoolCopiesReader } from './pool-copies';
import { listCopiesCommand, parseCopies, placeProjects, type CopySummary, type Placement, type PlacementProblem } from './placement';
import {
  changeFromAccounting,
  destroyStaleProbesCommand,
  EMPTY_INCREMENT_BYTES,
  MAX_PROBES_PER_SCRIPT,
  parseStaleProbesGone,
  parseSweepProbe,
  parseSweepProbeLeft,
  staleProbes,
  sweepProbeCleanupCommand,
  sweepProbeCommand,
  txgSyncCommand,
  whyNotInSync,
} from './sweep-check';

// The sweep's whole look at the hosts, in ONE activity per run: each host's open transaction group
// synced, every copy read and placed, then the projects after the cursor judged in chunks (the space
// accounting tells whether a source changed, see changeFromAccounting) and the few it cannot tell
// probed (one change-probe script per source host per chunk) until `maxWork` projects that need a
// child are found or every project was looked at. A sweep's first run reads every copy with one
// pool-wide `zfs get` per host (pool-copies.ts); a later run, which exists only because the one
// before filled its batch, lists each pool (one `zfs get -d 1` per host) and reads the copies chunk
// by chunk (one `zfs get` per host per chunk), so it reads no more than its batch needs. The
// workflow gets back only those projects and counts: an unchanged project costs it nothing, so a
// no-change sweep of 18,000 projects is one run with one activity and a history of a few KB.

/**
 * Change probes run at once per host (see sweepProbeCommand). RUNBOOK_SWEEP_PROBE_LANES overrides it
 * on a worker whose hosts want fewer (or more) concurrent snapshots.
 */
export const DEFAULT_SWEEP_PROBE_LANES = 6;
export function sweepProbeLanes(): number {
  const n = Number(process.env.RUNBOOK_SWEEP_PROBE_LANES ?? DEFAULT_SWEEP_PROBE_LANES);
  return Number.isInteger(n) && n >= 1 && n <= 64 ? n : DEFAULT_SWEEP_PROBE_LANES;
}

/**
 * Projects read and probed per round. Bounded by the command line: `zfs get` takes every copy of a
 * chunk a host holds as arguments (~50 bytes each, well under the 128 KiB one argument may hold).
 */
export const DEFAULT_SWEEP_CHUNK = 1000;

/** How the change probes are destroyed (see sweepProbeCommand); RUNBOOK_SWEEP_PROBE_DESTROY overrides it. */
export const DEFAULT_SWEEP_PROBE_DESTROY: 'each' | 'after' = 'each';
export function sweepProbeDestroy(): 'each' | 'after' {
  const v = process.env.RUNBOOK_SWEEP_PROBE_DESTROY;
  return v === 'each' || v === 'after' ? v : DEFAULT_SWEEP_PROBE_DESTROY;
}
/**
 * How a sweep's first run reads the copies: 'pool', one pool-wide read per host (pool-copies.ts); or
 * 'chunks', as its later runs do. RUNBOOK_SWEEP_READ=chunks sets the latter, for comparison
 * (bench/zfs-sweep.ts BENCH_COMPARE_READ=1).
 */
export function sweepRead(): 'pool' | 'chunks' {
  return process.env.RUNBOOK_SWEEP_READ === 'chunks' ? 'chunks' : 'pool';
}

export function sweepChunk(): number {
  const n = Number(process.env.RUNBOOK_SWEEP_CHUNK ?? DEFAULT_SWEEP_CHUNK);
  return Number.isInteger(n) && n >= 1 && n <= 2000 ? n : DEFAULT_SWEEP_CHUNK;
}

/**
 * A host whose copies a run could not read. `answered`: it ran the command and its answer was an
 * error (no such pool, zfs failing, output this runbook cannot parse), so it is up and moving its
 * projects would not help; otherwise it could not be reached (or did not answer in time).
 */
export interface UnsweptHost {
  host: string;
  error: string;
  answered: boolean;
}

/** Why a host's read failed, from what the SSH layer threw (its ApplicationFailure type) or a parse error. */
function unswept(host: string, err: unknown): { host: string; unreachable: string; answered: boolean } {
  const type = err instanceof ApplicationFailure ? err.type : 'unparseable output';
  return { host, unreachable: (err as Error).message, answered: hostAnswered(type) };
}

export interface SweepScanArgs {
  hosts: string[];
  pool: string;
  replicationFactor: number;
  only?: string;
  /** Projects up to this id were handled by earlier runs (projects go in id order). */
  after?: string;
  /** Stop once this many projects need a child (the run's batch). */
  maxWork: number;
  features: Record<string, ZfsFeatures>;
  /** Name of the transient probe snapshot (never a runbook snapshot name); null: no probe (plan mode), candidates count as work. */
  probe: string | null;
}

export interface SweepScan {
  /** Projects a child must handle, in id order, at most maxWork. */
  work: Array<Placement & { why: string }>;
  /** Projects looked at and found unchanged with every replica in sync (no child). */
  unchanged: number;
  /** Unplaceable projects in the range this run covered. */
  problems: PlacementProblem[];
  /** The last project this run covered: the next run starts after it (absent: nothing was covered). */
  coveredUpTo?: string;
  /** Placed projects after coveredUpTo. */
  remaining: number;
  unreachable: UnsweptHost[];
  /** Projects on the hosts (placed) and how many chunks were read: the operator's sense of scale. */
  projects: number;
  chunks: number;
}

const datasetOf = (pool: string, project: string) => `${pool}/${project}`;

/** What a chunk of projects needs: read every copy, probe the candidates, classify. */
async function checkChunk(
  a: SweepScanArgs,
  chunk: Placement[],
  sessions: Map<string, HostSession>,
  synced: ReadonlySet<string>,
  preRead: ReadonlyMap<string, ReadonlyMap<string, CopyState>> | null,
): Promise<Map<string, string | null>> {
  const byHost = new Map<string, string[]>();
  for (const p of chunk) for (const h of [p.source, ...p.replicas]) byHost.set(h, [...(byHost.get(h) ?? []), datasetOf(a.pool, p.project)]);
  const copies = new Map<string, Map<string, CopyState>>();
  await Promise.all(
    [...byHost].map(async ([host, datasets]) => {
      const read = preRead?.get(host);
      if (read) {
        copies.set(host, new Map(datasets.map((d) => [d, read.get(d) ?? missingCopy(host, d)])));
        return;
      }
      const s = sessions.get(host) as HostSession;
      const command = inspectCopiesCommand(datasets, a.features[host]?.writtenProperty ?? false);
      // The audit shows what was read, not 1,000 dataset names.
      const r = await s.run({ text: command.text, display: `zfs get -Hp -d 1 <${datasets.length} copies: ${datasets[0]} ... ${datasets.at(-1)}>` }, { tailChars: 300 });
      // A missing dataset makes zfs get exit 1 after printing the others; any other failure leaves
      // those projects to their children, which report it properly.
      if (r.record.exitCode === 0 || isMissingDataset(r.stderr)) copies.set(host, copiesFromObjects(host, parseZfsGet(r.stdout), datasets));
    }),
  );
  // Probes a scan cut short left behind go first (not in plan mode, which changes nothing): judged
  // with them, a project would look behind on every replica, and its next probe would measure from
  // the leftover.
  if (a.probe !== null) await destroyStaleProbes(copies, sessions, a.probe);
  // null: nothing to do; a string: why a child must run.
  const verdict = new Map<string, string | null>();
  const probes = new Map<string, Array<{ project: string; dataset: string; from: string }>>();
  for (const p of chunk) {
    const ds = datasetOf(a.pool, p.project);
    const src = copies.get(p.source)?.get(ds);
    const reps = p.replicas.map((h) => copies.get(h)?.get(ds));
    if (!src || reps.some((r) => !r)) {
      verdict.set(p.project, 'could not read every copy');
      continue;
    }
    const features = a.features[p.source];
    const why = whyNotInSync(src, reps as CopyState[], { writtenProperty: features?.writtenProperty ?? false });
    if (why) {
      verdict.set(p.project, why);
      continue;
    }
    if (features?.writtenProperty) {
      verdict.set(p.project, null);
      continue;
    }
    // Without `written`, ZFS's space accounting tells most projects apart; a probe snapshot the rest.
    // In plan mode (no sync, so as of the last synced txg) it still spares the operator the guesswork.
    const accounted = synced.has(p.source) || a.probe === null ? changeFromAccounting(src) : ({ kind: 'probe', why: 'the host did not sync' } as const);
    if (accounted.kind === 'unchanged') verdict.set(p.project, null);
    else if (accounted.kind === 'changed') verdict.set(p.project, accounted.why);
    else probes.set(p.source, [...(probes.get(p.source) ?? []), { project: p.project, dataset: ds, from: (newestSnapshot(src) as { shortName: string }).shortName }]);
  }
  const probe = a.probe;
  if (probe === null) {
    for (const items of probes.values()) for (const it of items) verdict.set(it.project, `may have changed since @${it.from} (only a probe snapshot would tell; a plan takes none)`);
    return verdict;
  }
  await Promise.all(
    [...probes].map(async ([host, items]) => {
      const s = sessions.get(host) as HostSession;
      const destroy = sweepProbeDestroy();
      // Datasets that may still hold a probe afterwards: all of them unless each lane destroyed its own.
      let left = items.map((i) => i.dataset);
      try {
        // One script per MAX_PROBES_PER_SCRIPT probes (the script is one command-line argument).
        const done = new Set<string>();
        for (let k = 0; k < items.length; k += MAX_PROBES_PER_SCRIPT) {
          const part = items.slice(k, k + MAX_PROBES_PER_SCRIPT);
          const r = await s.run(sweepProbeCommand(part, probe, sweepProbeLanes(), destroy), { tailChars: 300, timeoutMs: 30 * 60_000 });
          const bytes = parseSweepProbe(r.stdout);
          for (const it of part) {
            const n = bytes.get(it.dataset);
            verdict.set(it.project, n === EMPTY_INCREMENT_BYTES ? null : n === undefined || n < 0 ? 'the change probe failed' : `changed since @${it.from} (increment of ${n} bytes)`);
          }
          if (destroy === 'each' && r.record.exitCode === 0) {
            const notDestroyed = new Set(parseSweepProbeLeft(r.stdout));
            for (const it of part) if (!notDestroyed.has(it.dataset)) done.add(it.dataset);
          }
        }
        if (destroy === 'each') left = left.filter((d) => !done.has(d));
      } finally {
        // Also after a failed or timed-out probe script: no probe may stay a project's newest snapshot.
        if (left.length) await s.run(sweepProbeCleanupCommand(a.pool, probe), { tailChars: 300, timeoutMs: 10 * 60_000 });
      }
    }),
  );
  return verdict;
}

/** Destroy the leftover probes on every copy read, and forget the ones destroyed (one script per host that has any). */
async function destroyStaleProbes(copies: Map<string, Map<string, CopyState>>, sessions: Map<string, HostSession>, probe: string): Promise<void> {
  const now = new Date();
  await Promise.all(
    [...copies].map(async ([host, byDataset]) => {
      const stale = [...byDataset.values()].flatMap((c) => staleProbes(c, probe, now));
      if (!stale.length) return;
      const r = await (sessions.get(host) as HostSession).run(destroyStaleProbesCommand(stale), { tailChars: 300, timeoutMs: 10 * 60_000 });
      const gone = parseStaleProbesGone(r.stdout);
      for (const c of byDataset.values()) {
        const kept = c.snapshots.filter((snap) => !gone.has(`${c.dataset}@${snap.shortName}`));
        // The space accounting was read with those probes in place: a copy that lost one is probed.
        if (kept.length !== c.snapshots.length) c.usedBySnapshots = null;
        c.snapshots = kept;
      }
    }),
  );
}

/** One host's every copy (inspectPoolCommand), parsed as it streams in; unreachable when the read fails. */
async function readPool(
  s: HostSession,
  pool: string,
  withWritten: boolean,
): Promise<{ host: string; summaries: CopySummary[]; copies: Map<string, CopyState> } | { host: string; unreachable: string; answered: boolean }> {
  const reader = new PoolCopiesReader(s.host, pool);
  const utf8 = new StringDecoder('utf8');
  // A line zfs should not print stops the parsing; thrown from the stream's callback it would escape the activity.
  const parse: { error?: Error } = {};
  const feed = (text: string) => {
    if (parse.error) return;
    try {
      reader.push(text);
    } catch (err) {
      parse.error = err as Error;
    }
  };
  try {
    const command = inspectPoolCommand(pool, withWritten);
    // The audit shows what was read, not two dozen property names.
    const r = await s.run(
      { text: command.text, display: `zfs get -Hp -d 2 <every copy in ${pool} and its snapshots>` },
      { tailChars: 200, discardStdout: true, timeoutMs: 30 * 60_000, onStdout: (chunk) => feed(utf8.write(chunk)) },
    );
    if (r.record.exitCode !== 0) return { host: s.host, unreachable: `zfs get over ${pool} exited ${r.record.exitCode}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`, answered: true };
    feed(utf8.end());
    if (parse.error) throw parse.error;
    reader.end();
    return { host: s.host, summaries: reader.summaries, copies: reader.copies };
  } catch (err) {
    return unswept(s.host, err);
  }
}

export async function zfsSweepScan(a: SweepScanArgs): Promise<StepOutput<SweepScan>> {
  const pool = sharedPool();
  const sessions = new Map(a.hosts.map((h) => [h, new HostSession(pool, h)]));
  // Every change made before the scan must count: sync each host's open transaction group once, so
  // the space accounting read after it includes it (a plan writes nothing, so it reads as it is).
  const synced = new Set<string>();
  const sync = async (host: string) => {
    try {
      const r = await (sessions.get(host) as HostSession).run(txgSyncCommand(a.pool), { tailChars: 200 });
      if (r.record.exitCode === 0) synced.add(host);
    } catch {
      // Not synced: its projects fall back to probe snapshots, which report what is wrong.
    }
  };
  // A first run reads whole pools, a later one chunks from its cursor (see the top of this file).
  const whole = a.after === undefined && sweepRead() === 'pool';
  let listed: Array<{ host: string; copies: CopySummary[] } | { host: string; unreachable: string; answered: boolean }>;
  let preRead: Map<string, Map<string, CopyState>> | null = null;
  if (whole) {
    if (a.probe !== null) await Promise.all(a.hosts.map(sync));
    const read = await Promise.all([...sessions.values()].map((s) => readPool(s, a.pool, a.features[s.host]?.writtenProperty ?? false)));
    listed = read.map((r) => ('unreachable' in r ? r : { host: r.host, copies: r.summaries }));
    preRead = new Map(read.flatMap((r) => ('copies' in r ? [[r.host, r.copies] as const] : [])));
  } else {
    listed = await Promise.all(
      [...sessions.values()].map(async (s) => {
        try {
          const r = await s.check(listCopiesCommand(a.pool), { tailChars: 200 });
          return { host: s.host, copies: parseCopies(a.pool, r.stdout) };
        } catch (err) {
          return unswept(s.host, err);
        }
      }),
    );
    if (a.probe !== null) await Promise.all(listed.flatMap((l) => ('unreachable' in l ? [] : [sync(l.host)])));
  }
  const { placements, problems } = placeProjects({ hosts: listed, replicationFactor: a.replicationFactor, only: a.only });
  const after = (p: { project: string }) => a.after === undefined || p.project > a.after;
  const pending = placements.filter(after);
  const chunkSize = sweepChunk();
  const work: SweepScan['work'] = [];
  let unchanged = 0;
  let covered = 0;
  let chunks = 0;
  while (covered < pending.length && work.length < a.maxWork) {
    const chunk = pending.slice(covered, covered + chunkSize);
    chunks++;
    const verdict = await checkChunk(a, chunk, sessions, synced, preRead);
    for (const p of chunk) {
      const why = verdict.get(p.project);
      covered++;
      if (why === null) unchanged++;
      else work.push({ ...p, why: why ?? 'not checked' });
      // The run's batch is full: the next run starts right after this project.
      if (work.length >= a.maxWork) break;
    }
    Context.current().heartbeat({ covered, of: pending.length, work: work.length });
  }
  const coveredUpTo = covered > 0 ? pending[covered - 1].project : a.after;
  const more = covered < pending.length;
  // Problems (projects no child can run for) are reported by the run whose id range holds them.
  const inRange = (p: { project: string }) => after(p) && (!more || coveredUpTo === undefined || p.project <= coveredUpTo);
  const sorted = [...sessions.values()];
  return {
    value: {
      work,
      unchanged,
      problems: problems.filter(inRange),
      ...(coveredUpTo !== undefined ? { coveredUpTo } : {}),
      remaining: pending.length - covered,
      unreachable: listed.flatMap((l) => ('unreachable' in l ? [{ host: l.host, error: l.unreachable, answered: l.answered }] : [])),
      projects: placements.length,
      chunks,
    },
    commands: sorted.flatMap((s) => s.commands),
  };
}
