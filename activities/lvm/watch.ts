import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CommandRecord, StepOutput } from '../../common/step';
import { assertSucceeded, runRemote } from '../ssh/exec';
import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import { MiB, storageCommands as c } from './commands';
import type { VolumeSample } from './extend';
import { decideExtension, type GuardPace, type GuardPolicy } from './guard-policy';
import { readLvm, readMountpoint, refuse } from './read';
import type { FsUsage } from './types';

// The auto-grow guard's watcher: one long activity per window that streams the volume's usage from
// a remote loop every `pollMs` and extends the LV itself the moment the policy says so, so the
// reaction to a fast writer is a few milliseconds plus one lvextend, not a workflow round trip. It
// heartbeats every line (a dead worker is noticed within the heartbeat timeout, and the remote loop
// ends by itself at the end of the window). Every extension goes to an absolute size computed from
// the LV's size as last read, and the LV is read again whenever an extension fails, so a retry
// never grows it twice.

export interface WatchSettings {
  thresholdPercent: number;
  stepMiB: number;
  ceilingMiB: number | null;
  pollMs: number;
  /** How long this activity watches before it returns (the workflow records a step per window). */
  windowSeconds: number;
  /** Return early after this many extensions (bounds the result). */
  maxExtensions: number;
  /** Return once the writes have stopped for this long after an extension, so it reaches the audit soon. */
  quietAfterExtensionMs: number;
  /** The pace the previous window ended with, so a new window does not start blind under a running writer. */
  startPace: { fillMBps: number; growMs: number | null };
  /** The blocked situation already reported; the watcher returns when a different one arises. */
  blockedKey: string | null;
}

export interface GuardExtension {
  at: string;
  fromBytes: number;
  toBytes: number;
  reason: string;
  /** Time of the lvextend with its filesystem grow. */
  growMs: number;
  /** Observed fill rate when it was decided (MB/s, 10^6 bytes). */
  fillMBps: number;
  usePercent: number;
  availBytes: number;
}

export interface WatchResult {
  ended: 'window' | 'extensions' | 'blocked';
  samples: number;
  seconds: number;
  extensions: GuardExtension[];
  /** Set when the guard cannot extend (ceiling, VG out of space): the report, said once per situation. */
  blocked: { reason: string; key: string; since: string } | null;
  last: VolumeSample | null;
  peakFillMBps: number;
  /** Longest time between two usage lines (ms): the watcher's real reaction time. */
  maxGapMs: number;
  /** The pace at the end, for the next window. */
  endPace: { fillMBps: number; growMs: number | null };
}

export interface WatchHeartbeat {
  samples: number;
  usePercent: number | null;
  fillMBps: number;
  extensions: GuardExtension[];
}

const RATE_WINDOW_MS = 400;
/** The observed rate decays by half a second unless the writes keep it up. */
const RATE_HALF_LIFE_MS = 500;

/** Parses one usage line of the watcher (`stat -f -c '%S %b %f %a'`) into df's numbers. */
export function parseUsageLine(line: string, target: string): FsUsage | null {
  const m = /^(\d+) (\d+) (\d+) (\d+)$/.exec(line.trim());
  if (!m) return null;
  const [frsize, blocks, free, avail] = m.slice(1).map(Number);
  const usedBytes = (blocks - free) * frsize;
  const availBytes = avail * frsize;
  const usePercent = usedBytes + availBytes === 0 ? 100 : Math.ceil((usedBytes * 100) / (usedBytes + availBytes));
  return { target, sizeBytes: blocks * frsize, usedBytes, availBytes, usePercent };
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // a benchmark or a test calling it directly
  }
}

export async function watchVolume(host: string, vg: string, lv: string, mountPoint: string, settings: WatchSettings): Promise<StepOutput<WatchResult>> {
  const ctx = activityContext();
  const session = new HostSession(sharedPool(), host);
  const began = Date.now();
  const [state, mount] = await Promise.all([readLvm(session, vg), readMountpoint(session, mountPoint)]);
  const info = state.lvs.find((l) => l.name === lv);
  if (!info || !state.vg) refuse(`LV ${vg}/${lv} does not exist on ${host}`, 'NoSuchVolume');
  if (!mount) refuse(`${mountPoint} is not mounted on ${host}`, 'NotMounted');
  const extentBytes = state.vg.extentBytes;
  let lvBytes = info.sizeBytes;
  let vgFreeExtents = state.vg.freeExtents;
  const policy: GuardPolicy = { thresholdPercent: settings.thresholdPercent, stepBytes: settings.stepMiB * MiB, ceilingBytes: settings.ceilingMiB === null ? null : settings.ceilingMiB * MiB };

  const result: WatchResult = { ended: 'window', samples: 0, seconds: 0, extensions: [], blocked: null, last: null, peakFillMBps: 0, maxGapMs: 0, endPace: settings.startPace };
  const history: Array<{ t: number; used: number }> = [];
  let rate = settings.startPace.fillMBps * 1e6;
  let rateAt = Date.now();
  const growTimes: number[] = settings.startPace.growMs === null ? [] : [settings.startPace.growMs];
  let lastBusyAt = 0;
  /** The extension in flight (one at a time), and the error that ended the window, if any. */
  const inflight: { grow: Promise<void> | null; failure: Error | null } = { grow: null, failure: null };
  let lastLineAt = 0;
  const stop = new AbortController();
  const end = (why: WatchResult['ended']) => {
    result.ended = why;
    stop.abort();
  };
  ctx?.cancellationSignal.addEventListener('abort', () => stop.abort(), { once: true });

  const pace = (): GuardPace => ({
    fillBytesPerSecond: rate,
    // Until one is measured, assume a grow takes a second (lvextend plus xfs_growfs is a few hundred ms).
    growSeconds: growTimes.length ? Math.max(...growTimes.slice(-3)) / 1000 : 1,
    pollSeconds: Math.max(settings.pollMs, result.maxGapMs) / 1000,
  });

  const grow = async (targetBytes: number, reason: string, usage: FsUsage) => {
    const t0 = Date.now();
    const at = new Date(t0).toISOString();
    const fromBytes = lvBytes;
    const r = await runRemote(sharedPool(), host, c.extendTo(vg, lv, targetBytes / MiB), { timeoutMs: 10 * 60_000 });
    session.commands.push(r.record);
    if (r.record.exitCode !== 0) {
      // Someone else may have changed the LV or the VG: read them again; this target was absolute,
      // so nothing was applied twice, and the next line decides again from what is there now.
      const now = await readLvm(session, vg);
      lvBytes = now.lvs.find((l) => l.name === lv)?.sizeBytes ?? lvBytes;
      vgFreeExtents = now.vg?.freeExtents ?? vgFreeExtents;
      if (lvBytes > targetBytes) return;
      if (lvBytes < targetBytes) assertSucceeded(r, [0], `extending ${vg}/${lv} to ${targetBytes / MiB} MiB`);
      // The LV is exactly at the target but the command failed: its filesystem resize did (fsadm can
      // fail after the LV grew), and the filesystem would stay full however far the LV grows. The same
      // absolute target again changes no extent and only resizes the filesystem.
      const again = await runRemote(sharedPool(), host, c.extendTo(vg, lv, targetBytes / MiB), { timeoutMs: 10 * 60_000 });
      session.commands.push(again.record);
      assertSucceeded(again, [0], `growing the filesystem on ${vg}/${lv} to its ${targetBytes / MiB} MiB`);
    }
    const growMs = Date.now() - t0;
    growTimes.push(growMs);
    vgFreeExtents -= Math.round((targetBytes - lvBytes) / extentBytes);
    lvBytes = targetBytes;
    result.extensions.push({ at, fromBytes, toBytes: targetBytes, reason, growMs, fillMBps: Math.round(rate / 1e4) / 100, usePercent: usage.usePercent, availBytes: usage.availBytes });
    if (result.extensions.length >= settings.maxExtensions) end('extensions');
  };

  const onUsage = (usage: FsUsage) => {
    const t = Date.now();
    if (lastLineAt) result.maxGapMs = Math.max(result.maxGapMs, t - lastLineAt);
    lastLineAt = t;
    result.samples++;
    // The fill rate over the last ~0.4 s, never below the decayed earlier rate: a writer that pauses
    // between files is still that fast when it resumes.
    history.push({ t, used: usage.usedBytes });
    while (history.length > 2 && t - history[1].t >= RATE_WINDOW_MS) history.shift();
    const first = history[0];
    const observed = t > first.t ? Math.max(0, ((usage.usedBytes - first.used) * 1000) / (t - first.t)) : 0;
    const decayed = rate * 0.5 ** ((t - rateAt) / RATE_HALF_LIFE_MS);
    rate = Math.max(observed, decayed);
    rateAt = t;
    result.peakFillMBps = Math.max(result.peakFillMBps, Math.round(rate / 1e4) / 100);
    // Quiet: nothing written for a while and the decayed rate near zero (a writer stalled in fsync is not quiet).
    if (observed > 1e6 || rate > 1e6 || inflight.grow) lastBusyAt = t;
    else if (result.extensions.length && t - lastBusyAt > settings.quietAfterExtensionMs) end('extensions');
    const sample: VolumeSample = { at: new Date(t).toISOString(), usage, lvBytes, extentBytes, vgFreeExtents, fstype: mount.fstype };
    result.last = sample;
    ctx?.heartbeat({ samples: result.samples, usePercent: usage.usePercent, fillMBps: Math.round(rate / 1e4) / 100, extensions: result.extensions } satisfies WatchHeartbeat);
    if (inflight.grow || stop.signal.aborted) return;
    const d = decideExtension(sample, policy, pace());
    if (d.action === 'extend') {
      result.blocked = null;
      inflight.grow = grow(d.targetBytes, d.reason, usage)
        .catch((err: unknown) => {
          inflight.failure = err instanceof Error ? err : new Error(String(err));
          stop.abort();
        })
        .finally(() => {
          inflight.grow = null;
        });
    } else if (d.action === 'blocked') {
      result.blocked ??= { reason: d.reason, key: d.key, since: sample.at };
      if (d.key !== settings.blockedKey) end('blocked');
    } else result.blocked = null;
  };

  let buffered = '';
  const stream = await runRemote(sharedPool(), host, c.watchUsage(mountPoint, settings.pollMs, settings.windowSeconds), {
    timeoutMs: (settings.windowSeconds + 60) * 1000,
    signal: stop.signal,
    maxCaptureBytes: 4096,
    tailChars: 200,
    onStdout: (chunk) => {
      buffered += chunk.toString('latin1');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const usage = parseUsageLine(line, mountPoint);
        if (usage) onUsage(usage);
      }
    },
  });
  while (inflight.grow) await inflight.grow;
  const watcher: CommandRecord = stream.record;
  session.commands.unshift(watcher);
  result.seconds = Math.round((Date.now() - began) / 100) / 10;
  result.endPace = { fillMBps: Math.round(rate / 1e4) / 100, growMs: growTimes.length ? Math.max(...growTimes.slice(-3)) : null };
  ctx?.cancellationSignal.throwIfAborted?.();
  if (inflight.failure) throw inflight.failure;
  if (!stop.signal.aborted && stream.record.exitCode !== 0) {
    // The loop died on its own (stat failed: the mount went away, the host rebooted).
    throw ApplicationFailure.create({
      message: `the usage watcher on ${host} stopped (exit ${stream.record.exitCode ?? stream.record.signal}): ${stream.record.stderrTail.trim().slice(-300)}`,
      type: 'WatcherStopped',
      details: [watcher, ...session.commands.slice(1)],
    });
  }
  return session.output(result);
}
