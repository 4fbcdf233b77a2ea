import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ShellCommand } from '../ssh/command';
import { assertSucceeded, runRemote } from '../ssh/exec';
import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { StepOutput } from '../../common/step';
import { act } from './act';
import { storageCommands as c } from './commands';
import { PvmoveProgressReader, type PvmoveProgress } from './parse';
import { readLvm, readPv, refuse } from './read';
import type { PvInfo } from './types';

// Step 5: rebuild a PV whose data area starts far into its device (pvmove its extents off,
// vgreduce, pvcreate, vgextend), and the cleanup that leaves the VG consistent when that is cut
// short. Each pass re-reads the PV and does the one thing its state calls for, so a retry after a
// crash at any point carries on from where the last attempt got to, and never repeats a change.

export interface RebuildResult {
  device: string;
  /** What this attempt did, in order (empty when the PV was already rebuilt). */
  actions: string[];
  peStartBytes: number;
  peCount: number;
}

const PVMOVE_TIMEOUT_MS = 6 * 60 * 60 * 1000;

function heartbeat(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // outside an activity (a benchmark): nothing to tell
  }
}

/**
 * Run a pvmove command, heartbeating its parsed progress (`/dev/loopN: Moved: 42.19%`) each second
 * and stopping the remote pvmove when the activity is cancelled. Its record joins the session's.
 */
async function pvmoveWithProgress(session: HostSession, command: ShellCommand, device: string): Promise<PvmoveProgress | null> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined;
  }
  const reader = new PvmoveProgressReader((p) => heartbeat({ phase: 'pvmove', pv: p.pv, percent: p.percent }));
  const result = await runRemote(sharedPool(), session.host, command, {
    timeoutMs: PVMOVE_TIMEOUT_MS,
    signal: ctx?.cancellationSignal,
    onStdout: (chunk) => reader.feed(chunk),
    // Between progress lines (or before the first) the heartbeat still says how far the move got.
    onProgress: (p) => heartbeat({ phase: 'pvmove', pv: device, percent: reader.last?.percent ?? 0, elapsedMs: p.elapsedMs }),
  });
  session.commands.push(result.record);
  ctx?.cancellationSignal.throwIfAborted?.();
  assertSucceeded(result, [0], `pvmove of ${device}`);
  return reader.last;
}

function extentsFreeElsewhere(pvs: PvInfo[], vg: string, device: string): number {
  return pvs.filter((p) => p.vg === vg && p.device !== device && p.allocatable).reduce((n, p) => n + p.peCount - p.peAllocCount, 0);
}

export async function rebuildPv(host: string, vg: string, device: string, maxDataOffsetBytes: number): Promise<StepOutput<RebuildResult>> {
  const session = new HostSession(sharedPool(), host);
  const actions: string[] = [];
  // Each pass moves the PV one state on; five states, so a few passes more than that means a loop.
  for (let pass = 0; pass < 8; pass++) {
    const pv = await readPv(session, device);
    if (!pv) refuse(`${device} is not a PV on ${host} (its label is gone); it cannot be rebuilt safely by this runbook`, 'NotAPhysicalVolume');
    if (pv.vg !== '' && pv.vg !== vg) refuse(`${device} belongs to VG ${pv.vg}, not ${vg}`, 'WrongVolumeGroup');
    const inVg = pv.vg === vg;
    const abnormal = pv.peStartBytes > maxDataOffsetBytes;
    if (inVg && !abnormal) return session.output({ device, actions, peStartBytes: pv.peStartBytes, peCount: pv.peCount });
    if (inVg) {
      // A move cut short (by a crash, a cancel, an earlier failure) is carried on before anything else.
      await pvmoveWithProgress(session, c.pvmoveResume(), device);
      const state = await readLvm(session, vg);
      const now = state.pvs.find((p) => p.device === device);
      if (now && now.peAllocCount > 0) {
        const free = extentsFreeElsewhere(state.pvs, vg, device);
        if (free < now.peAllocCount) {
          refuse(`${device} holds ${now.peAllocCount} extents but the other allocatable PVs of ${vg} have only ${free} free; add a disk (or make PVs allocatable) first`, 'InsufficientFreeExtents');
        }
        await pvmoveWithProgress(session, c.pvmoveOff(device), device);
        actions.push(`moved ${now.peAllocCount} extents off ${device}`);
        continue;
      }
      await act(session, c.vgreduce(vg, device));
      actions.push(`removed ${device} from ${vg}`);
    } else if (abnormal) {
      await act(session, c.pvcreate(device));
      actions.push(`re-created the PV on ${device} (data offset was ${pv.peStartBytes} bytes)`);
    } else {
      await act(session, c.vgextend(vg, device));
      actions.push(`added ${device} back to ${vg}`);
    }
  }
  throw ApplicationFailure.nonRetryable(`rebuilding ${device} did not settle after 8 passes: ${actions.join('; ')}`, 'RebuildLoop');
}

export interface SettleResult {
  device: string;
  /** finished: an interrupted move was completed; aborted: it could not be and was dropped (moved extents stay moved). */
  move: 'none-or-finished' | 'aborted';
  readded: boolean;
  actions: string[];
}

/**
 * The cleanup of step 5 when it is cut short (failure, cancellation): finish an interrupted pvmove,
 * or abort it when it cannot finish (every extent is then on its source or its destination, none
 * lost), and put the PV back into the VG if the rebuild had taken it out. The VG ends consistent.
 */
export async function settlePvMove(host: string, vg: string, device: string, maxDataOffsetBytes: number): Promise<StepOutput<SettleResult>> {
  const session = new HostSession(sharedPool(), host);
  const actions: string[] = [];
  let move: SettleResult['move'] = 'none-or-finished';
  try {
    await pvmoveWithProgress(session, c.pvmoveResume(), device);
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === 'CommandFailed') {
      await act(session, c.pvmoveAbort());
      move = 'aborted';
      actions.push(`the interrupted move could not finish (${err.message}); aborted it, moved extents stay where they are`);
    } else throw err;
  }
  let readded = false;
  const pv = await readPv(session, device);
  if (pv && pv.vg === '') {
    if (pv.peStartBytes > maxDataOffsetBytes) {
      await act(session, c.pvcreate(device));
      actions.push(`re-created the PV on ${device}`);
    }
    await act(session, c.vgextend(vg, device));
    actions.push(`added ${device} back to ${vg}`);
    readded = true;
  }
  return session.output({ device, move, readded, actions });
}
