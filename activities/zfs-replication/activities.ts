import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CommandRecord, StepOutput } from '../../common/step';
import { sh } from '../ssh/command';
import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import { parseZfsFeatureProbe, zfsFeatureProbeCommand, type ZfsFeatures } from '../zfs/features';
import { parseZfsGet } from '../zfs/get';
import { classifyReceiveFailure, type ReceiveFailure } from '../zfs/recv-errors';
import { parseStreamSummary, type StreamSummary } from '../zfs/stream-summary';
import {
  afterReceiveCommand,
  demoteFencedSourceCommand,
  fenceSourceCommand,
  unfenceSourceCommand,
  unpromoteCommand,
  holdBaseCommand,
  moveHoldCommand,
  promoteCommand,
  pruneSnapshotsCommand,
  PRUNE_KEPT,
  PRUNED,
  PROBE_DESTROYED,
  replaceReplicaCommand,
  rollbackReplicaCommand,
  snapshotCommand,
  streamCommands,
} from './commands';
import { copiesFromObjects, inspectCopiesCommand, inspectCopyCommand, isMissingDataset, missingCopy, newestSnapshot, parseCopyState, type CopySnapshot, type CopyState } from './copy-state';
import { RECEIVE_FAILED, REPLICA_VANISHED, STREAM_INTERRUPTED, ZFS_COMMAND_FAILED } from './errors';
import { receivedLedger } from './ledger';
import { pipeBetweenHosts, type PipeProgress } from './pipe';
import { listCopiesCommand, summarizeCopies, type HostCopies } from './placement';

// The activities of replicateProject, replicateProjects and moveProject. Each runs on the worker,
// talks to hosts over the pooled SSH connections, returns its value with every command it ran (for
// the audit), and is idempotent: it looks before it acts, so a retry after a crash, a cut connection
// or a timeout never applies anything twice.

/** Output tails in the audit: the values are parsed and returned, the tails only show what ran. */
const TAIL = 1_500;

function fail(message: string, type: string, commands: CommandRecord[], nonRetryable = false): never {
  throw ApplicationFailure.create({ message, type, nonRetryable, details: commands });
}

/** What this host's ZFS can do: probed once per host per run, then passed to every later step. */
export async function zfsProbeFeatures(host: string, pool: string): Promise<StepOutput<ZfsFeatures>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.check(zfsFeatureProbeCommand(pool), { tailChars: 600 });
  return s.output(parseZfsFeatureProbe(r.stdout));
}

/** One copy of a project (dataset, snapshots by guid/createtxg, mount state, quota, ledger): one round trip. */
export async function zfsInspectCopy(host: string, dataset: string, withWritten: boolean): Promise<StepOutput<CopyState>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.run(inspectCopyCommand(dataset, withWritten), { tailChars: TAIL });
  if (r.record.exitCode !== 0 && isMissingDataset(r.stderr)) return s.output(missingCopy(host, dataset));
  if (r.record.exitCode !== 0) fail(`cannot read ${dataset} on ${host}: ${r.stderr.trim().split('\n')[0] ?? `exit ${r.record.exitCode}`}`, ZFS_COMMAND_FAILED, s.commands);
  return s.output(parseCopyState(host, dataset, r.stdout));
}

export interface SnapshotResult {
  /** The snapshot exists after the step (false: the probe found no change and removed it again). */
  kept: boolean;
  snapshot: CopySnapshot | null;
  /** zfs-fuse's change probe: the increment's summary. */
  probe: StreamSummary | null;
}

/**
 * Take the run's snapshot. With `probeFrom` (hosts without `written`), keep it only if the increment
 * from `probeFrom` carries a change: an equally cheap, correct "changed since?" (one round trip) whose
 * snapshot is the one the run needs anyway when something did change.
 */
export async function zfsTakeSnapshot(host: string, dataset: string, snapshot: string, probe: { from: string; zstreamdump: string } | null): Promise<StepOutput<SnapshotResult>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.check(snapshotCommand(dataset, snapshot, probe), { tailChars: TAIL, what: `snapshot ${dataset}@${snapshot}` });
  const summary = probe ? parseStreamSummary(r.stdout) : null;
  if (r.stdout.includes(PROBE_DESTROYED)) return s.output({ kept: false, snapshot: null, probe: summary });
  const after = await s.check(inspectCopyCommand(dataset, false), { tailChars: 300 });
  const snap = parseCopyState(host, dataset, after.stdout).snapshots.find((x) => x.shortName === snapshot) ?? null;
  if (!snap) fail(`${dataset}@${snapshot} is not on ${host} after it was taken`, ZFS_COMMAND_FAILED, s.commands);
  return s.output({ kept: true, snapshot: snap, probe: summary });
}

export interface SendSnapshotArgs {
  source: string;
  replica: string;
  dataset: string;
  /** Short name of the snapshot to send, and its guid (the proof it arrived). */
  snapshot: string;
  snapshotGuid: string;
  /** Short name of the base on the source (the newest common snapshot, by guid); null for a full stream. */
  from: string | null;
  /** The replica's hold on the source is moved from this snapshot to `snapshot` (null: none to release). */
  previousBase: string | null;
  holdTag: string;
  sourceFeatures: Pick<ZfsFeatures, 'sendCompressed'>;
  replicaFeatures: Pick<ZfsFeatures, 'recvPropertyOverride' | 'recvUnmounted'>;
  /** The replica does not exist yet. */
  firstReceive: boolean;
  /** Set on the replica after the receive (canmount, readonly, quota); the ledger is added here. */
  replicaProperties: Record<string, string>;
  bytesPerSecond?: number;
  timeoutMs?: number;
}

export interface SendSnapshotResult {
  replica: string;
  /** The replica already had the snapshot (a retry after the receive had completed): nothing was sent. */
  alreadyReceived: boolean;
  bytes: number;
  durationMs: number;
  /** zfs recv refused the stream for a reason only a rollback can fix; nothing was applied. */
  refused: ReceiveFailure | null;
  receivedAt: string | null;
  ledger: Record<string, string> | null;
}

/** The guids of a dataset's snapshots on a host, or null when the dataset does not exist. */
async function snapshotGuids(s: HostSession, dataset: string): Promise<Set<string> | null> {
  const r = await s.run(sh`zfs get -Hp -d 1 -o name,property,value,source guid ${dataset}`, { tailChars: 300 });
  if (r.record.exitCode !== 0 && isMissingDataset(r.stderr)) return null;
  if (r.record.exitCode !== 0) fail(`cannot read ${dataset} on ${s.host}: ${r.stderr.trim()}`, ZFS_COMMAND_FAILED, s.commands);
  return new Set(
    parseZfsGet(r.stdout)
      .filter((o) => o.kind === 'snapshot' && o.guid !== null)
      .map((o) => o.guid as string),
  );
}

/**
 * Stream `snapshot` from the source into the replica through this worker: `zfs send` stdout piped into
 * `zfs recv -u` stdin with backpressure, heartbeating the byte count. Then the replica's properties
 * and ledger, then the source's hold moves to the new base. Idempotent: a replica that already has
 * the snapshot (by guid) is not sent to again; the properties and hold are absolute.
 */
export async function zfsSendSnapshot(a: SendSnapshotArgs): Promise<StepOutput<SendSnapshotResult>> {
  const pool = sharedPool();
  const ctx = Context.current();
  const src = new HostSession(pool, a.source);
  const rep = new HostSession(pool, a.replica);
  const result: SendSnapshotResult = { replica: a.replica, alreadyReceived: false, bytes: 0, durationMs: 0, refused: null, receivedAt: null, ledger: null };
  // Heartbeat every second for the whole activity, not only while a command runs longer than a
  // second: its heartbeat timeout is short (a dead worker is noticed in seconds), and under load the
  // quick commands before and after the stream could add up to it while this worker is alive; the
  // retry would then overlap a stream still running. The last progress is repeated, so a reader of
  // the heartbeat details always sees the byte count.
  let lastProgress: Record<string, unknown> = { bytes: 0, replica: a.replica, snapshot: a.snapshot };
  ctx.heartbeat(lastProgress);
  const keepalive = setInterval(() => ctx.heartbeat(lastProgress), 1_000);
  try {
    return await sendSnapshot(a, ctx, src, rep, result, (p) => {
      lastProgress = { ...p, replica: a.replica, snapshot: a.snapshot };
      ctx.heartbeat(lastProgress);
    });
  } finally {
    clearInterval(keepalive);
  }
}

async function sendSnapshot(
  a: SendSnapshotArgs,
  ctx: Context,
  src: HostSession,
  rep: HostSession,
  result: SendSnapshotResult,
  onProgress: (p: PipeProgress) => void,
): Promise<StepOutput<SendSnapshotResult>> {
  const pool = sharedPool();
  const commands = () => [...src.commands, ...rep.commands].sort((x, y) => x.startedAt.localeCompare(y.startedAt));

  const guids = await snapshotGuids(rep, a.dataset);
  if (guids === null && !a.firstReceive) fail(`${a.dataset} disappeared from ${a.replica} since it was inspected; run again to seed it with a full stream`, REPLICA_VANISHED, commands(), true);
  if (guids !== null && a.firstReceive && guids.size > 0 && !guids.has(a.snapshotGuid)) {
    fail(`${a.dataset} appeared on ${a.replica} since it was inspected; run again`, REPLICA_VANISHED, commands(), true);
  }
  result.alreadyReceived = guids?.has(a.snapshotGuid) ?? false;

  if (!result.alreadyReceived) {
    if (a.from) await src.check(holdBaseCommand(a.holdTag, `${a.dataset}@${a.from}`), { what: `hold the base @${a.from}` });
    const { send, receive } = streamCommands(a.dataset, a.snapshot, a.from, a.sourceFeatures, a.replicaFeatures, a.firstReceive);
    const piped = await pipeBetweenHosts(pool, {
      from: { host: a.source, command: send },
      to: { host: a.replica, command: receive },
      signal: ctx.cancellationSignal,
      timeoutMs: a.timeoutMs,
      bytesPerSecond: a.bytesPerSecond,
      onProgress,
    });
    src.commands.push(piped.sender);
    rep.commands.push(piped.receiver);
    result.bytes = piped.bytes;
    result.durationMs = piped.durationMs;
    if (piped.cancelled)
      throw ApplicationFailure.create({
        message: `the stream to ${a.replica} was cancelled after ${piped.bytes} bytes; the replica keeps its previous snapshot`,
        type: STREAM_INTERRUPTED,
        details: commands(),
      });
    const ok = piped.senderExit.code === 0 && piped.receiverExit.code === 0;
    if (!ok) {
      const failure = piped.receiverStderr.trim() ? classifyReceiveFailure(piped.receiverStderr) : null;
      if (failure && ['target-modified', 'incremental-base-mismatch', 'target-exists', 'target-has-snapshots'].includes(failure.kind)) {
        // An earlier attempt of this step (timed out on its heartbeat under load, but still running)
        // may have delivered this very snapshot after our check above: recv then refuses it as "does
        // not match incremental source" or "exists". That is no divergence: the snapshot is there, by
        // guid, and a rollback gate for a healthy replica would wait for an approval nobody gives.
        const now = await snapshotGuids(rep, a.dataset);
        if (!now?.has(a.snapshotGuid)) {
          result.refused = failure;
          return { value: result, commands: commands() };
        }
        result.alreadyReceived = true;
      } else {
        const where =
          piped.receiverExit.code === null || piped.senderExit.code === null
            ? `the stream was cut after ${piped.bytes} bytes (${piped.stopped ?? 'connection lost'})`
            : `zfs send exited ${piped.senderExit.code}, zfs recv exited ${piped.receiverExit.code}`;
        const detail = (failure?.message ?? piped.senderStderr.trim()) || piped.stopped || '';
        // Nothing was applied (a receive is all or nothing), so a retry starts from the same state;
        // out of space is the exception: the same stream will not fit next time either.
        throw ApplicationFailure.create({
          message: `sending ${a.dataset}@${a.snapshot} from ${a.source} to ${a.replica} failed: ${where}${detail ? `: ${detail}` : ''}`,
          type: failure?.kind === 'out-of-space' ? RECEIVE_FAILED : STREAM_INTERRUPTED,
          nonRetryable: failure?.kind === 'out-of-space',
          details: commands(),
        });
      }
    }
  }

  const receivedAt = new Date().toISOString();
  const ledger = receivedLedger(a.snapshot, a.snapshotGuid, receivedAt, a.source);
  const after = await rep.run(afterReceiveCommand(a.dataset, { ...a.replicaProperties, ...ledger }), { tailChars: 300 });
  if (after.record.exitCode !== 0) fail(`setting the replica's properties on ${a.replica} failed: ${after.stderr.trim()}`, ZFS_COMMAND_FAILED, commands());
  const arrived = parseZfsGet(after.stdout).some((o) => o.guid === a.snapshotGuid);
  if (!arrived) fail(`${a.replica} reports success but has no snapshot with guid ${a.snapshotGuid}`, STREAM_INTERRUPTED, commands());
  await src.check(moveHoldCommand(a.holdTag, a.dataset, a.snapshot, a.previousBase), { what: 'move the replica hold' });
  result.receivedAt = receivedAt;
  result.ledger = ledger;
  return { value: result, commands: commands() };
}

/**
 * A replica that needed no stream: set what differs (quota, canmount, readonly, ledger) and, the first
 * time the runbook records it, hold its base on the source. One round trip on each host.
 */
export async function zfsFixReplica(
  host: string,
  dataset: string,
  properties: Record<string, string>,
  hold: { source: string; tag: string; snapshot: string } | null,
): Promise<StepOutput<Record<string, string>>> {
  const rep = new HostSession(sharedPool(), host);
  await rep.check(afterReceiveCommand(dataset, properties), { tailChars: 300, what: `set properties of ${dataset}` });
  if (!hold) return rep.output(properties);
  const src = new HostSession(sharedPool(), hold.source);
  try {
    await src.check(moveHoldCommand(hold.tag, dataset, hold.snapshot, null), { what: `hold @${hold.snapshot}` });
  } catch (err) {
    throw ApplicationFailure.create({ message: (err as Error).message, type: ZFS_COMMAND_FAILED, details: [...rep.commands, ...src.commands] });
  }
  return { value: properties, commands: [...rep.commands, ...src.commands] };
}

/** Roll a diverged replica back to its newest common snapshot (after approval). */
export async function zfsRollbackReplica(host: string, dataset: string, toSnapshot: string, releaseOn: string[], releaseTags: string[]): Promise<StepOutput<null>> {
  const s = new HostSession(sharedPool(), host);
  await s.check(rollbackReplicaCommand(dataset, toSnapshot, releaseOn, releaseTags), { tailChars: TAIL, what: `roll ${dataset} on ${host} back to @${toSnapshot}` });
  return s.output(null);
}

/** moveProject on request: stop the old source serving before the final sync. */
export async function zfsFenceSource(host: string, dataset: string): Promise<StepOutput<null>> {
  const s = new HostSession(sharedPool(), host);
  await s.check(fenceSourceCommand(dataset), { tailChars: TAIL, what: `unmount ${dataset} on ${host}` });
  return s.output(null);
}

export async function zfsUnfenceSource(host: string, dataset: string): Promise<StepOutput<null>> {
  const s = new HostSession(sharedPool(), host);
  await s.check(unfenceSourceCommand(dataset), { tailChars: TAIL, what: `mount ${dataset} on ${host} again` });
  return s.output(null);
}

export async function zfsDemoteFencedSource(host: string, dataset: string, releaseOn: string[], releaseTags: string[]): Promise<StepOutput<null>> {
  const s = new HostSession(sharedPool(), host);
  await s.check(demoteFencedSourceCommand(dataset, releaseOn, releaseTags), { tailChars: TAIL, what: `make ${dataset} on ${host} a replica` });
  return s.output(null);
}

export async function zfsUnpromote(host: string, dataset: string, receivedLedger: Record<string, string>): Promise<StepOutput<null>> {
  const s = new HostSession(sharedPool(), host);
  await s.check(unpromoteCommand(dataset, receivedLedger), { tailChars: TAIL, what: `make ${dataset} on ${host} a replica again` });
  return s.output(null);
}

/** Destroy a replica that shares no snapshot with the source (after approval). */
export async function zfsReplaceReplica(host: string, dataset: string): Promise<StepOutput<null>> {
  const s = new HostSession(sharedPool(), host);
  await s.check(replaceReplicaCommand(dataset), { tailChars: TAIL, what: `destroy ${dataset} on ${host}` });
  return s.output(null);
}

export interface PruneResult {
  host: string;
  destroyed: string[];
  kept: Array<{ snapshot: string; reason: string }>;
}

/** Retention: destroy the given snapshots; held or busy ones are kept and reported. */
export async function zfsPruneSnapshots(host: string, dataset: string, snapshots: string[]): Promise<StepOutput<PruneResult>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.check(pruneSnapshotsCommand(dataset, snapshots), { tailChars: TAIL, what: `retention on ${dataset}` });
  const result: PruneResult = { host, destroyed: [], kept: [] };
  for (const line of r.stdout.split('\n')) {
    const [mark, snapshot, ...rest] = line.trim().split(' ');
    if (mark === PRUNED && snapshot) result.destroyed.push(snapshot);
    else if (mark === PRUNE_KEPT && snapshot) result.kept.push({ snapshot, reason: rest.join(' ').trim() });
  }
  return s.output(result);
}

/** Every project copy on a host with its mount state and ledger (the sweep's discovery; moveProject's load). */
export async function zfsListCopies(host: string, pool: string): Promise<StepOutput<HostCopies>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.check(listCopiesCommand(pool), { tailChars: 200 });
  return s.output(summarizeCopies(host, pool, r.stdout));
}

/** Make a replica the project's source (moveProject). */
export async function zfsPromoteReplica(host: string, dataset: string, ledger: Record<string, string>): Promise<StepOutput<{ mounted: boolean; mountpoint: string | null }>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.check(promoteCommand(dataset, ledger), { tailChars: TAIL, what: `promote ${dataset} on ${host}` });
  const fs = parseZfsGet(r.stdout).find((o) => o.name === dataset);
  return s.output({ mounted: fs?.mounted ?? false, mountpoint: fs?.mountpoint ?? null });
}

export { zfsSweepScan } from './sweep-scan';
