import { ApplicationFailure, isCancellation, sleep } from '@temporalio/workflow';
import type * as replication from '../activities/zfs-replication/activities';
import { afterReceiveCommand, moveHoldCommand, pruneSnapshotsCommand, replaceReplicaCommand, rollbackReplicaCommand, snapshotCommand, streamCommands } from '../activities/zfs-replication/commands';
import type { CopySnapshot, CopyState } from '../activities/zfs-replication/copy-state';
import {
  ledgerCurrent,
  newestSnapshot,
  replicaAction,
  replicaPropertyFixes,
  replicaSnapshotsAfter,
  rollbackAfterRefusal,
  snapshotsToPrune,
  type ReplicaAction,
} from '../activities/zfs-replication/decide';
import { receivedLedger, replicaHoldTag } from '../activities/zfs-replication/ledger';
import { LOWEST_COMMON_ZFS_FEATURES, type ZfsFeatures } from '../activities/zfs/features';
import { relateReplica } from '../activities/zfs/common-snapshot';
import { replicationSnapshotShortName } from '../activities/zfs/names';
import { replicateProjectDefinition } from '../runbooks/replicateProject/definition';
import type { CommonInput } from '../common/input';
import { Runbook, type RunbookResult } from './engine/runbook';
import { LEFT_UNCHANGED } from './replication/child-failure';
import { durationMs } from './replication/duration';

// replicateProject: bring every replica of one project up to date with its source, by guid, through
// this worker, without ever destroying anything on a replica unless a rollback was allowed AND
// approved. Its workflow id `replicate/<project>` (projectLock, runbooks/replicateProject/definition.ts) is the lock: two runs of one project never overlap.
// The steps: probe each host's ZFS (once), inspect every copy (one `zfs get` each), snapshot if the
// source changed since its newest snapshot (OpenZFS: `written`; zfs-fuse: a probe snapshot whose
// increment is checked by zstreamdump), stream to each replica that needs it, record the ledger,
// apply retention. A project where nothing changed costs three round trips on the source's host and
// one on each replica's (with the features a sweep passes in: two and one).

export const REPLICA_REFUSED = 'ReplicaRefused';
export const SOURCE_INVALID = 'SourceInvalid';

import type { ReplicateArgs } from '../runbooks/replicateProject/schema';
export type { ReplicateArgs };

export interface ReplicaOutcome {
  host: string;
  /** in-sync: nothing to send; sent: a stream arrived; refused: diverged and not rolled back; failed: an error (see reason). */
  result: 'in-sync' | 'sent' | 'refused' | 'failed' | 'planned';
  /** full or incremental, with its base. */
  stream: { kind: 'full' | 'incremental'; from: string | null; bytes: number; alreadyReceived: boolean } | null;
  rolledBack: { to: string; destroyed: string[] } | null;
  replaced: boolean;
  /** The ledger written on the replica (null when it was already current). */
  ledger: Record<string, string> | null;
  reason?: string;
}

export interface ReplicateProjectResult {
  project: string;
  dataset: string;
  source: string;
  /** unchanged: nothing changed and every replica already held the newest snapshot; nothing was snapshotted or sent. */
  outcome: 'replicated' | 'unchanged' | 'planned';
  /** Whether the source changed since its newest snapshot (null: could not tell, e.g. plan mode on zfs-fuse). */
  changed: boolean | null;
  snapshot: { name: string; guid: string; created: boolean } | null;
  replicas: ReplicaOutcome[];
  bytesSent: number;
  retention: Array<{ host: string; destroyed: string[]; kept: Array<{ snapshot: string; reason: string }> }>;
  /** SSH commands (each one round trip) per host, from the audit. */
  roundTrips: Record<string, number>;
}

function describeCopy(c: CopyState): string {
  if (!c.exists) return 'no dataset';
  const newest = newestSnapshot(c);
  return `${c.snapshots.length} snapshots, newest ${newest ? `@${newest.shortName}` : 'none'}; ${c.mounted ? 'mounted' : 'unmounted'}; quota ${c.quota ?? 0}${c.ledger.lastSnapshot ? `; ledger @${c.ledger.lastSnapshot} from ${c.ledger.receivedFrom}` : ''}`;
}

/** The body, shared with moveProject (which brings the remaining replicas in line after a promotion). */
export async function replicateProjectBody(rb: Runbook<CommonInput>, a: ReplicateArgs): Promise<ReplicateProjectResult> {
  const dataset = `${a.pool}/${a.project}`;
  const hosts = [a.source, ...a.replicas];
  const firstStep = rb.audit.steps.length;
  const acts = (host: string) => rb.on<typeof replication>(host);

  // 1. What each host's ZFS can do: once per host per run (a sweep passes what it probed).
  const features = new Map<string, ZfsFeatures>();
  await Promise.all(
    hosts.map(async (host) => {
      const known = a.features?.[host];
      features.set(
        host,
        known ??
          (await rb.inspect({
            name: 'probe-zfs',
            host,
            description: 'what this ZFS can do (written, recv -o/-x, send -c, holds, zstreamdump)',
            run: () => acts(host).zfsProbeFeatures(host, a.pool),
            summarize: (f) => `${f.implementation} ${f.version ?? `pool v${f.poolVersion ?? '?'}`}; written ${f.writtenProperty ? 'yes' : 'no'}, recv -o ${f.recvPropertyOverride ? 'yes' : 'no'}`,
          })),
      );
    }),
  );
  const feat = (host: string) => features.get(host) ?? LOWEST_COMMON_ZFS_FEATURES;

  // 2. Every copy, one `zfs get -d 1` each.
  const copies = await Promise.all(
    hosts.map((host) =>
      rb.inspect({
        name: 'inspect-copy',
        host,
        description: `snapshots (guid, createtxg), mount state, quota and ledger of ${dataset}`,
        run: () => acts(host).zfsInspectCopy(host, dataset, feat(host).writtenProperty),
        summarize: describeCopy,
      }),
    ),
  );
  const source = copies[0];
  const replicaCopies = new Map(a.replicas.map((h, i) => [h, copies[i + 1]]));
  if (!source.exists) throw ApplicationFailure.nonRetryable(`${a.source} has no ${dataset}: it cannot be the project's source`, SOURCE_INVALID);
  if (source.ledger.role === 'replica') {
    throw ApplicationFailure.nonRetryable(
      `${dataset} on ${a.source} is marked as a replica (received @${source.ledger.lastSnapshot ?? '?'} from ${source.ledger.receivedFrom ?? '?'}); refusing to replicate from it. Name the host that serves the project as the source.`,
      SOURCE_INVALID,
    );
  }

  // 3. Snapshot if the source changed since its newest snapshot.
  const sourceNewest = newestSnapshot(source);
  const srcFeat = feat(a.source);
  let snapshotName = replicationSnapshotShortName(new Date(Date.now()));
  // Names have one-second resolution: a run right after another may find its name taken by the
  // previous run's snapshot. Wait for the next second (a durable timer) rather than skip the probe.
  while (source.snapshots.some((s) => s.shortName === snapshotName)) {
    await sleep(1_000 - (Date.now() % 1_000) + 5);
    snapshotName = replicationSnapshotShortName(new Date(Date.now()));
  }
  const probe = sourceNewest && !srcFeat.writtenProperty && srcFeat.zstreamdump ? { from: sourceNewest.shortName, zstreamdump: srcFeat.zstreamdump } : null;
  // Without `written` and without zstreamdump nothing can tell: snapshot (errs toward "changed").
  const mustSnapshot = !sourceNewest || (srcFeat.writtenProperty ? (source.written ?? 1) > 0 : probe === null);
  let changed: boolean | null = srcFeat.writtenProperty && sourceNewest ? (source.written ?? 1) > 0 : sourceNewest ? null : true;
  let target: CopySnapshot | null = sourceNewest;
  let created = false;
  if (mustSnapshot || probe) {
    const planned: CopySnapshot = { name: `${dataset}@${snapshotName}`, shortName: snapshotName, guid: 'planned', createtxg: Number.MAX_SAFE_INTEGER, creation: null, userrefs: 0 };
    const taken = await rb.mutate({
      name: probe ? 'snapshot-if-changed' : 'snapshot',
      host: a.source,
      description: probe
        ? `take @${snapshotName}; keep it only if the increment from @${probe.from} carries a change (zfs-fuse has no \`written\`)`
        : `take @${snapshotName} (${sourceNewest ? `written since @${sourceNewest.shortName}: ${source.written}` : 'the source has no snapshot yet'})`,
      plan: () => [snapshotCommand(dataset, snapshotName, probe).display],
      run: () => acts(a.source).zfsTakeSnapshot(a.source, dataset, snapshotName, probe),
      summarize: (r) =>
        r.kept
          ? `@${snapshotName} taken${r.probe ? ` (${r.probe.totalRecords} records, ${r.probe.streamBytes} bytes since @${probe?.from})` : ''}`
          : `unchanged since @${probe?.from}: probe snapshot removed`,
    });
    if (rb.planning) {
      target = planned;
      created = true;
    } else if (taken?.kept && taken.snapshot) {
      target = taken.snapshot;
      created = true;
      changed = probe ? true : changed;
    } else {
      changed = false;
    }
  }
  if (!target) throw ApplicationFailure.nonRetryable(`${dataset} on ${a.source} has no snapshot to replicate`, SOURCE_INVALID);
  const tgt = target;
  const sourceAfter: CopyState = created && !rb.planning ? { ...source, snapshots: [...source.snapshots, tgt] } : source;

  // 4. Each replica: in sync, send, or refuse (a rollback only when allowed and approved).
  const outcomes = new Map<string, ReplicaOutcome>();
  const finalActions = new Map<string, ReplicaAction>();
  const refusals: string[] = [];
  const failures: string[] = [];
  const streamTimeoutMs = durationMs(a.streamTimeout);
  // Heartbeats every second carry the byte count; a worker that dies mid-stream is noticed in 5 s.
  const sendActs = rb.on<typeof replication>(a.source, { startToCloseTimeout: streamTimeoutMs + 30 * 60_000, heartbeatTimeout: '5 seconds' });

  const send = async (host: string, action: Extract<ReplicaAction, { kind: 'send' }>, replicaCopy: CopyState, outcome: ReplicaOutcome) => {
    const replicaFeat = feat(host);
    const props = replicaPropertyFixes(source, action.firstReceive ? null : replicaCopy);
    const tag = replicaHoldTag(host);
    const previousBase = action.from;
    const cmds = streamCommands(dataset, tgt.shortName, action.from, srcFeat, replicaFeat, action.firstReceive);
    const r = await rb.mutate({
      name: 'send',
      host,
      description: `${action.from ? `incremental from @${action.from}` : 'full stream'} to @${tgt.shortName}, ${a.source} → ${host} through the worker`,
      plan: () => [
        `${cmds.send.display}   # on ${a.source}, stdout piped through the worker into:`,
        `${cmds.receive.display}   # on ${host}`,
        `${afterReceiveCommand(dataset, { ...props, ...receivedLedger(tgt.shortName, tgt.guid, '<receive time>', a.source) }).display}   # on ${host}`,
        `${moveHoldCommand(tag, dataset, tgt.shortName, previousBase).display}   # on ${a.source}`,
      ],
      run: () =>
        sendActs.zfsSendSnapshot({
          source: a.source,
          replica: host,
          dataset,
          snapshot: tgt.shortName,
          snapshotGuid: tgt.guid,
          from: action.from,
          previousBase,
          holdTag: tag,
          sourceFeatures: srcFeat,
          replicaFeatures: replicaFeat,
          firstReceive: action.firstReceive,
          replicaProperties: props,
          bytesPerSecond: a.bandwidthLimitBytesPerSecond,
          timeoutMs: streamTimeoutMs,
        }),
      summarize: (s) =>
        s.refused ? `refused by zfs recv: ${s.refused.message}` : s.alreadyReceived ? `already had @${tgt.shortName}: nothing sent` : `${s.bytes} bytes in ${(s.durationMs / 1000).toFixed(1)}s`,
    });
    if (!r) {
      outcome.result = 'planned';
      outcome.stream = { kind: action.from ? 'incremental' : 'full', from: action.from, bytes: 0, alreadyReceived: false };
      return null;
    }
    outcome.stream = { kind: action.from ? 'incremental' : 'full', from: action.from, bytes: r.bytes, alreadyReceived: r.alreadyReceived };
    if (r.refused) return r.refused.message;
    outcome.result = 'sent';
    outcome.ledger = r.ledger;
    return null;
  };

  // In sync: fix what differs (quota, canmount, readonly) and record the ledger if it is not current.
  const fixInSync = async (host: string, replicaCopy: CopyState, outcome: ReplicaOutcome) => {
    const fixes = replicaPropertyFixes(source, replicaCopy);
    const ledgerFix = ledgerCurrent(replicaCopy, tgt, a.source) ? {} : receivedLedger(tgt.shortName, tgt.guid, new Date(Date.now()).toISOString(), a.source);
    if (Object.keys(fixes).length === 0 && Object.keys(ledgerFix).length === 0) return;
    const props = { ...fixes, ...ledgerFix };
    // The replica's base on the source gets its hold the first time the runbook records the replica.
    const hold = Object.keys(ledgerFix).length ? { source: a.source, tag: replicaHoldTag(host), snapshot: tgt.shortName } : null;
    await rb.mutate({
      name: 'fix-replica',
      host,
      description: `already holds @${tgt.shortName}: set ${Object.keys(props).join(', ')}${hold ? `; hold @${tgt.shortName} on ${a.source} for it` : ''}`,
      plan: () => [afterReceiveCommand(dataset, props).display, ...(hold ? [`${moveHoldCommand(hold.tag, dataset, tgt.shortName, null).display}   # on ${a.source}`] : [])],
      run: () => acts(host).zfsFixReplica(host, dataset, props, hold),
      summarize: () =>
        Object.entries(props)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
    });
    if (Object.keys(ledgerFix).length) outcome.ledger = ledgerFix;
  };

  const gatedFix = async (host: string, action: Extract<ReplicaAction, { kind: 'rollback' | 'replace' }>, replicaCopy: CopyState, outcome: ReplicaOutcome) => {
    if (!a.allowRollback) {
      outcome.result = 'refused';
      outcome.reason = `${action.reason}. ${LEFT_UNCHANGED} To bring it back in line (${action.kind === 'rollback' ? `a rollback to @${action.to} that destroys ${action.later.length ? action.later.map((s) => `@${s}`).join(', ') + ' and ' : ''}every change since` : 'destroying it and sending a full stream'}), run again with allowRollback: true and approve step ${action.kind}-${host}.`;
      refusals.push(outcome.reason);
      return;
    }
    if (action.kind === 'rollback') {
      // Hold tags belong on sources; on a copy that becomes a replica they would only pin snapshots.
      const releaseOn = a.releaseTags?.length ? replicaCopy.snapshots.map((s) => s.shortName) : [];
      const command = rollbackReplicaCommand(dataset, action.to, releaseOn, a.releaseTags ?? []);
      await rb.mutate({
        name: `rollback-${host}`,
        host,
        description: `ROLL BACK ${dataset} on ${host} to @${action.to}: ${action.reason}; this destroys ${action.later.length ? action.later.map((s) => `@${s}`).join(', ') + ' and ' : ''}every change made on it since @${action.to}`,
        approval: { reason: action.reason },
        plan: () => [command.display],
        run: () => acts(host).zfsRollbackReplica(host, dataset, action.to, releaseOn, a.releaseTags ?? []),
        summarize: () => `rolled back to @${action.to}${action.later.length ? `, destroyed ${action.later.map((s) => `@${s}`).join(', ')}` : ''}`,
      });
      outcome.rolledBack = { to: action.to, destroyed: action.later };
      const rolledBack: CopyState = { ...replicaCopy, mounted: false, written: 0, snapshots: replicaCopy.snapshots.slice(0, replicaCopy.snapshots.findIndex((s) => s.shortName === action.to) + 1) };
      const next = replicaAction(sourceAfter, rolledBack, tgt);
      finalActions.set(host, next.kind === 'send' ? next : action);
      if (next.kind === 'send') {
        const refused = await send(host, next, rolledBack, outcome);
        if (refused) throw ApplicationFailure.nonRetryable(`${host} still refuses the stream after the rollback to @${action.to}: ${refused}`, REPLICA_REFUSED);
      } else if (next.kind === 'in-sync') {
        outcome.result = 'in-sync';
        await fixInSync(host, { ...rolledBack, readonly: true, canmount: 'noauto' }, outcome);
      }
      return;
    }
    await rb.mutate({
      name: `replace-${host}`,
      host,
      description: `DESTROY ${dataset} on ${host} and seed it again with a full stream: ${action.reason}`,
      approval: { reason: action.reason },
      plan: () => [replaceReplicaCommand(dataset).display],
      run: () => acts(host).zfsReplaceReplica(host, dataset),
      summarize: () => `destroyed ${dataset}${action.snapshots.length ? ` (with ${action.snapshots.map((s) => `@${s}`).join(', ')})` : ''}`,
    });
    outcome.replaced = true;
    const fresh = { kind: 'send', from: null, firstReceive: true } as const;
    finalActions.set(host, fresh);
    await send(host, fresh, { ...replicaCopy, exists: false, snapshots: [] }, outcome);
  };

  // Sends run in parallel; gates (rollback/replace) wait for their approvals one at a time.
  const gated: Array<{ host: string; action: Extract<ReplicaAction, { kind: 'rollback' | 'replace' }>; copy: CopyState; outcome: ReplicaOutcome }> = [];
  const settled = await Promise.allSettled(
    a.replicas.map(async (host) => {
      const replicaCopy = replicaCopies.get(host) as CopyState;
      const outcome: ReplicaOutcome = { host, result: 'in-sync', stream: null, rolledBack: null, replaced: false, ledger: null };
      outcomes.set(host, outcome);
      const action = replicaAction(sourceAfter, replicaCopy, tgt);
      finalActions.set(host, action);
      if (action.kind === 'rollback' || action.kind === 'replace') {
        gated.push({ host, action, copy: replicaCopy, outcome });
        return;
      }
      if (action.kind === 'send') {
        const refused = await send(host, action, replicaCopy, outcome);
        if (refused) {
          const fix = rollbackAfterRefusal(sourceAfter, replicaCopy, tgt, refused);
          finalActions.set(host, fix);
          if (fix.kind === 'rollback' || fix.kind === 'replace') gated.push({ host, action: fix, copy: replicaCopy, outcome });
        }
        return;
      }
      await fixInSync(host, replicaCopy, outcome);
    }),
  );
  // A cancelled run stops here: its cancellation is not a replica's failure.
  for (const s of settled) if (s.status === 'rejected' && isCancellation(s.reason)) throw s.reason;
  settled.forEach((s, i) => {
    if (s.status === 'rejected') {
      const host = a.replicas[i];
      const outcome = outcomes.get(host) as ReplicaOutcome;
      outcome.result = 'failed';
      outcome.reason = (s.reason as Error).message;
      failures.push(`${host}: ${outcome.reason}`);
    }
  });
  for (const g of gated) {
    try {
      await gatedFix(g.host, g.action, g.copy, g.outcome);
    } catch (err) {
      if (isCancellation(err)) throw err;
      g.outcome.result = 'failed';
      g.outcome.reason = (err as Error).message;
      failures.push(`${g.host}: ${g.outcome.reason}`);
    }
  }

  // 5. Retention, on every copy that took part, in parallel. The newest common snapshot with each
  // replica stays (held on the source), and so does every replica's base that this run did not move.
  const retention: ReplicateProjectResult['retention'] = [];
  if (!rb.planning) {
    const protectedGuids = new Set<string>([tgt.guid]);
    for (const host of a.replicas) {
      const o = outcomes.get(host) as ReplicaOutcome;
      if (o.result === 'sent' || o.result === 'in-sync') continue;
      const rel = relateReplica(sourceAfter.snapshots, (replicaCopies.get(host) as CopyState).snapshots);
      if ('base' in rel) protectedGuids.add(rel.base.source.guid);
    }
    // Holds this run moved off a snapshot no longer count against it (userrefs was read before).
    const released = new Map<string, number>();
    for (const o of outcomes.values()) if (o.result === 'sent' && o.stream?.from) released.set(o.stream.from, (released.get(o.stream.from) ?? 0) + 1);
    const sourceSnaps = sourceAfter.snapshots.map((s) => ({ ...s, userrefs: Math.max(0, s.userrefs - (released.get(s.shortName) ?? 0)) }));
    const work: Array<{ host: string; prune: string[] }> = [{ host: a.source, prune: snapshotsToPrune({ snapshots: sourceSnaps, keep: a.keepSnapshots, protectedGuids }) }];
    for (const host of a.replicas) {
      const o = outcomes.get(host) as ReplicaOutcome;
      if (o.result !== 'sent' && o.result !== 'in-sync') continue;
      const after = replicaSnapshotsAfter(sourceAfter, replicaCopies.get(host) as CopyState, finalActions.get(host) as ReplicaAction, tgt);
      work.push({ host, prune: snapshotsToPrune({ snapshots: after, keep: a.keepSnapshots, protectedGuids: new Set([tgt.guid]) }) });
    }
    const pruned = await Promise.all(
      work
        .filter((w) => w.prune.length > 0)
        .map((w) =>
          rb.mutate({
            name: 'retention',
            host: w.host,
            description: `keep the newest ${a.keepSnapshots} runbook snapshots and every replica's base: destroy ${w.prune.map((s) => `@${s}`).join(', ')}`,
            plan: () => [pruneSnapshotsCommand(dataset, w.prune).display],
            run: () => acts(w.host).zfsPruneSnapshots(w.host, dataset, w.prune),
            summarize: (p) => `destroyed ${p.destroyed.length}${p.kept.length ? `, kept ${p.kept.length} (held or busy)` : ''}`,
          }),
        ),
    );
    for (const p of pruned) if (p) retention.push({ host: p.host, destroyed: p.destroyed, kept: p.kept });
  }

  const replicas = a.replicas.map((h) => outcomes.get(h) as ReplicaOutcome);
  const bytesSent = replicas.reduce((n, r) => n + (r.stream?.bytes ?? 0), 0);
  const roundTrips: Record<string, number> = {};
  for (const step of rb.audit.steps.slice(firstStep)) for (const c of step.commands) roundTrips[c.host] = (roundTrips[c.host] ?? 0) + 1;
  const result: ReplicateProjectResult = {
    project: a.project,
    dataset,
    source: a.source,
    outcome: rb.planning ? 'planned' : !created && replicas.every((r) => r.result === 'in-sync' && r.stream === null && !r.rolledBack && !r.replaced) ? 'unchanged' : 'replicated',
    changed,
    snapshot: { name: tgt.shortName, guid: tgt.guid, created },
    replicas,
    bytesSent,
    retention,
    roundTrips,
  };

  // 6. Refused and failed replicas fail the run, after everything else was done, with every reason.
  if (refusals.length || failures.length) {
    await rb.inspect({
      name: 'refused-replicas',
      description: 'replicas left as they were',
      run: async () => {
        throw ApplicationFailure.create({
          message: [...refusals.map((r) => `REFUSED ${r}`), ...failures.map((f) => `FAILED ${f}`)].join(' | '),
          type: refusals.length ? REPLICA_REFUSED : 'ReplicaFailed',
          nonRetryable: true,
        });
      },
    });
  }
  return result;
}

/** One project: see the top of this file and runbooks/replicateProjects/README.md. */
export async function replicateProject(input: unknown): Promise<RunbookResult<ReplicateProjectResult>> {
  return Runbook.run(replicateProjectDefinition, input, (rb, i) =>
    replicateProjectBody(rb as unknown as Runbook<CommonInput>, {
      project: i.project,
      source: i.source,
      replicas: i.replicas,
      pool: i.pool,
      keepSnapshots: i.keepSnapshots,
      allowRollback: i.allowRollback,
      bandwidthLimitBytesPerSecond: i.bandwidthLimitBytesPerSecond,
      streamTimeout: i.streamTimeout,
      features: i.features,
    }),
  );
}
