import { ApplicationFailure, isCancellation, sleep } from '@temporalio/workflow';
import type * as replication from '../activities/zfs-replication/activities';
import { demoteFencedSourceCommand, fenceSourceCommand, promoteCommand, unfenceSourceCommand } from '../activities/zfs-replication/commands';
import type { CopyState } from '../activities/zfs-replication/copy-state';
import type { ZfsFeatures } from '../activities/zfs/features';
import { LEDGER, receivedLedgerProperties, replicaHoldTag } from '../activities/zfs-replication/ledger';
import { rankCandidates, type MoveCandidate, type RankedCandidate } from '../activities/zfs-replication/move';
import { moveProjectDefinition } from '../runbooks/moveProject/definition';
import type { CommonInput } from '../common/input';
import { Runbook, type RunbookResult } from './engine/runbook';
import { replicateProjectBody, type ReplicateProjectResult } from './replicateProject';
import { durationMs } from './replication/duration';

// moveProject: the project's host is unreachable (or an operator asks): promote the reachable
// replica with the newest snapshot of the source's history (least loaded among equals), report what
// the move loses, bring the other replicas in line from the new source, and, when the old source
// answers again, make it a replica, which rolls back whatever it has that the new source does not,
// so only after approval of step `rollback-<old source>`. On request (the source answers) nothing is
// lost: fence the source, sync it to the chosen replica, promote, demote the old source; a failure
// before the demotion undoes all of it, after it the move stands (rb.commit). Its workflow id is
// the project's lock (projectLock in runbooks/replicateProject/definition.ts), the same as
// replicateProject's: no replication of the project runs while it moves.

export interface MoveProjectResult {
  project: string;
  dataset: string;
  from: string;
  to: string;
  reason: 'source-unreachable' | 'requested';
  candidates: Array<Omit<RankedCandidate, 'newest'> & { newest: { name: string; guid: string; createdAt: string | null } | null }>;
  /** The snapshot the new source serves from. */
  snapshot: { name: string; guid: string; createdAt: string | null };
  promotedAt: string;
  /** What the move loses, in words (null when a final sync lost nothing). */
  lost: string | null;
  /** On request: the last sync from the fenced old source to the new one, just before the promotion. */
  finalSync: ReplicateProjectResult | null;
  /** Bringing the other replicas in line from the new source. */
  replicas: ReplicateProjectResult | { error: string } | null;
  oldSource: { host: string; state: 'replica' | 'unreachable' | 'failed'; detail: string; replication: ReplicateProjectResult | null };
}

function iso(epochSeconds: number | null): string | null {
  return epochSeconds === null ? null : new Date(epochSeconds * 1000).toISOString();
}

export async function moveProject(input: unknown): Promise<RunbookResult<MoveProjectResult>> {
  return Runbook.run(moveProjectDefinition, input, async (rbTyped, i) => {
    const rb = rbTyped as unknown as Runbook<CommonInput>;
    const dataset = `${i.pool}/${i.project}`;
    const acts = (host: string) => rb.on<typeof replication>(host);
    const features: Record<string, ZfsFeatures> = {};
    const probe = async (host: string) => {
      features[host] = await rb.inspect({
        name: 'probe-zfs',
        host,
        retry: { maximumAttempts: 2 },
        run: () => acts(host).zfsProbeFeatures(host, i.pool),
        summarize: (f) => `${f.implementation}; written ${f.writtenProperty ? 'yes' : 'no'}`,
      });
    };

    const options = { features, pool: i.pool, keepSnapshots: i.keepSnapshots, bandwidthLimitBytesPerSecond: i.bandwidthLimitBytesPerSecond, streamTimeout: i.streamTimeout, project: i.project };
    const everyTag = [i.from, ...i.candidates].map(replicaHoldTag);

    // 1. The source: a dead host fails fast (two attempts), and that is the answer, not an error.
    let source: CopyState | null = null;
    try {
      source = await rb.inspect({
        name: 'inspect-source',
        host: i.from,
        description: `is ${i.from} reachable, and what does it hold of ${dataset}`,
        retry: { maximumAttempts: 2, initialIntervalMs: 1_000 },
        run: () => acts(i.from).zfsInspectCopy(i.from, dataset, false),
        summarize: (c) => (c.exists ? `reachable; ${c.snapshots.length} snapshots; ${c.mounted ? 'mounted' : 'unmounted'}` : `reachable, but has no ${dataset}`),
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      source = null;
    }
    if (source && !source.exists) source = null;
    if (source) await probe(i.from);

    // 2. Candidates: their ZFS (probed once for the whole move), what each holds, and how many
    // projects it serves (its load).
    const candidates: MoveCandidate[] = await Promise.all(
      i.candidates.map(async (host): Promise<MoveCandidate> => {
        try {
          await probe(host);
          const [copy, load] = await Promise.all([
            rb.inspect({
              name: 'inspect-copy',
              host,
              retry: { maximumAttempts: 2 },
              run: () => acts(host).zfsInspectCopy(host, dataset, false),
              summarize: (c) => `${c.snapshots.length} snapshots, newest @${c.snapshots.at(-1)?.shortName ?? '-'}`,
            }),
            rb.inspect({
              name: 'count-served',
              host,
              retry: { maximumAttempts: 2 },
              run: () => acts(host).zfsListCopies(host, i.pool),
              summarize: (l) => `serves ${l.serves} of ${l.copies} project copies`,
            }),
          ]);
          return { host, copy, serves: load.serves };
        } catch (err) {
          if (isCancellation(err)) throw err;
          return { host, copy: null, serves: null, error: (err as Error).message };
        }
      }),
    );
    const ranked = rankCandidates(source, candidates);
    const chosen = i.to ? ranked.find((c) => c.host === i.to) : ranked[0];
    if (!chosen || !chosen.eligible || !chosen.newest) {
      throw ApplicationFailure.nonRetryable(`no replica of ${dataset} can take over${i.to ? ` on ${i.to}` : ''}: ${ranked.map((c) => `${c.host}: ${c.note}`).join('; ')}`, 'NoCandidate');
    }
    const to = chosen.host;
    const others = ranked.filter((c) => c.host !== to && c.eligible).map((c) => c.host);
    const reason = source ? 'requested' : 'source-unreachable';
    let snapshot = chosen.newest;
    let lost: string | null = null;
    let replicas: MoveProjectResult['replicas'] = null;
    let finalSync: ReplicateProjectResult | null = null;
    const followNewSource = async (): Promise<MoveProjectResult['replicas']> => {
      if (!others.length) return null;
      try {
        return await replicateProjectBody(rb, { ...options, source: to, replicas: others, allowRollback: false });
      } catch (err) {
        if (isCancellation(err)) throw err;
        return { error: (err as Error).message };
      }
    };

    if (source) {
      // 3a. On request: fence the old source, then a final sync to the chosen replica, so the move
      // loses nothing. Until the old source is demoted every step here is undone on failure.
      await rb.mutate({
        name: 'fence-source',
        host: i.from,
        description: `stop ${i.from} serving ${dataset} (unmount) so nothing changes during the final sync`,
        plan: () => [fenceSourceCommand(dataset).display],
        run: () => acts(i.from).zfsFenceSource(i.from, dataset),
        compensate: () => ({ description: `mount ${dataset} on ${i.from} again`, run: () => acts(i.from).zfsUnfenceSource(i.from, dataset) }),
      });
      finalSync = await replicateProjectBody(rb, { ...options, source: i.from, replicas: [to], allowRollback: false });
      if (!rb.planning && finalSync.snapshot) snapshot = { ...snapshot, shortName: finalSync.snapshot.name, guid: finalSync.snapshot.guid, name: `${dataset}@${finalSync.snapshot.name}` };
    } else {
      const age = chosen.newest.creation !== null ? Math.max(0, Math.round(Date.now() / 1000 - chosen.newest.creation)) : null;
      lost = `${i.from} is unreachable: everything written to ${dataset} on ${i.from} after @${chosen.newest.shortName} (taken ${iso(chosen.newest.creation) ?? 'at an unknown time'}${age !== null ? `, ${age} s before this move` : ''}) is not on ${to}. When ${i.from} answers again, its extra snapshots and changes are listed in the approval of step rollback-${i.from}, before anything is rolled back.`;
    }

    // 4. Promote. On request it is undone if demoting the old source fails, so the project never
    // has two writable copies: the new source becomes a replica again with the ledger it had.
    const promotedAt = new Date(Date.now()).toISOString();
    const ledger = { [LEDGER.role]: 'source', [LEDGER.promotedAt]: promotedAt, [LEDGER.promotedFrom]: i.from, [LEDGER.promotedSnapshot]: snapshot.shortName };
    const received = finalSync?.replicas[0]?.ledger ?? receivedLedgerProperties(candidates.find((c) => c.host === to)?.copy?.ledger ?? {});
    await rb.mutate({
      name: 'promote',
      host: to,
      description: `make ${to} serve ${dataset} from @${snapshot.shortName} (writable, mounted, ledger role=source)`,
      plan: () => [promoteCommand(dataset, ledger).display],
      run: () => acts(to).zfsPromoteReplica(to, dataset, ledger),
      summarize: (r) => `${r.mounted ? 'mounted' : 'NOT mounted'} at ${r.mountpoint}`,
      compensate: () => (source ? { description: `make ${dataset} on ${to} an unmounted, read-only replica again`, run: () => acts(to).zfsUnpromote(to, dataset, received) } : undefined),
    });

    let oldSource: MoveProjectResult['oldSource'];
    if (source) {
      const releaseOn = [...source.snapshots.map((x) => x.shortName), ...(snapshot.shortName && !source.snapshots.some((x) => x.shortName === snapshot.shortName) ? [snapshot.shortName] : [])];
      await rb.mutate({
        name: 'demote-old-source',
        host: i.from,
        description: `${i.from} (fenced, at @${snapshot.shortName} like ${to}) becomes a read-only replica`,
        plan: () => [demoteFencedSourceCommand(dataset, releaseOn, everyTag).display],
        run: () => acts(i.from).zfsDemoteFencedSource(i.from, dataset, releaseOn, everyTag),
      });
      rb.commit(`${to} serves ${dataset} and ${i.from} is its replica`);
      oldSource = { host: i.from, state: 'replica', detail: `fenced, synced to @${snapshot.shortName}, now a replica`, replication: null };
      // 5. The other replicas follow the new source. A failure here does not undo the move.
      replicas = await followNewSource();
    } else {
      // 3b. The other replicas follow the new source. A failure here does not undo the promotion.
      replicas = await followNewSource();
      // 5. Wait for the old source; when it answers, it becomes a replica, after approval.
      const waitMs = durationMs(i.waitForOldSource);
      const pollMs = durationMs(i.pollInterval);
      const poll = rb.on<typeof replication>(i.from, { startToCloseTimeout: '2 minutes' });
      const back = rb.planning
        ? null
        : await rb.inspect({
            name: 'wait-for-old-source',
            host: i.from,
            description: `try ${i.from} every ${i.pollInterval} for up to ${i.waitForOldSource}`,
            retry: { maximumAttempts: 1 },
            run: async () => {
              const deadline = Date.now() + waitMs;
              for (;;) {
                try {
                  return await poll.zfsInspectCopy(i.from, dataset, false);
                } catch (err) {
                  if (isCancellation(err)) throw err;
                  if (Date.now() + pollMs > deadline) return { value: null, commands: [] };
                  await sleep(pollMs);
                }
              }
            },
            summarize: (c) => (c ? `${i.from} answers again (${c.snapshots.length} snapshots, ${c.mounted ? 'mounted' : 'unmounted'})` : `${i.from} did not answer within ${i.waitForOldSource}`),
          });
      if (!back) {
        oldSource = {
          host: i.from,
          state: 'unreachable',
          detail: `${i.from} did not answer within ${i.waitForOldSource}. When it does, it still serves its stale copy: run replicateProject {"project":"${i.project}","source":"${to}","replicas":["${i.from}"],"allowRollback":true} and approve rollback-${i.from}. Until then sweeps let the newer promotion win and refuse ${i.from}'s copy as a diverged replica.`,
          replication: null,
        };
      } else if (!back.exists) {
        oldSource = { host: i.from, state: 'failed', detail: `${i.from} answers but has no ${dataset}; it will get a full stream as a new replica`, replication: null };
      } else {
        try {
          const rejoin = await replicateProjectBody(rb, { ...options, source: to, replicas: [i.from], allowRollback: true, releaseTags: everyTag });
          oldSource = { host: i.from, state: 'replica', detail: `rolled back and brought in line with ${to}`, replication: rejoin };
        } catch (err) {
          if (isCancellation(err)) throw err;
          oldSource = { host: i.from, state: 'failed', detail: (err as Error).message, replication: null };
        }
      }
    }

    return {
      project: i.project,
      dataset,
      from: i.from,
      to,
      reason,
      candidates: ranked.map((c) => ({ ...c, newest: c.newest ? { name: c.newest.shortName, guid: c.newest.guid, createdAt: iso(c.newest.creation) } : null })),
      snapshot: { name: snapshot.shortName, guid: snapshot.guid, createdAt: iso(snapshot.creation) },
      promotedAt,
      lost,
      finalSync,
      replicas,
      oldSource,
    };
  });
}
