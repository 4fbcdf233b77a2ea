import { spawn } from 'node:child_process';
import { has, parseArgs, value, type OptionSpec } from '../args';
import { pvmoveMsPerExtent, takePvmoveFault } from '../faults';
import { ECMD_FAILED, EINVALID_CMD_LINE, LvmError, findPvByDevice, lvExtents, pickPvmoveDestination, pvExtentMap, pvmoveAvailable, requireVg, setLvExtents, type ExtentRef } from '../model';
import { error, print, verbose } from '../output';
import { parsePvRanges, requirePv } from '../resolve';
import { readState, updateState, type EmuState, type PvmoveState } from '../state';

// pvmove. On a real host a temporary mirror copies the extents in the kernel and the metadata is
// committed segment by segment, so an interruption leaves every extent either still on the source
// or already on its destination, and `pvmove` with no arguments carries on. Here each extent is a
// separate committed step under the state lock (its data stays in the LV's backing file; only the
// mapping moves), and the move in progress is recorded in the state until it finishes.
// Progress lines follow tools/polldaemon.c: "<pv>: Moved: <pct>%" at once, every -i seconds
// (default 15) and at the end.

const OPTIONS: OptionSpec[] = [
  { long: 'alloc', value: true },
  { long: 'interval', short: 'i', value: true },
  { long: 'background', short: 'b' },
  { long: 'abort' },
  { long: 'atomic' },
  { long: 'name', short: 'n', value: true },
  { long: 'noudevsync' },
  { long: 'autobackup', short: 'A', value: true },
];

const sleepBuffer = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(sleepBuffer, 0, 0, ms);
}

type Alloc = PvmoveState['alloc'];

/** Set up the move record (like _set_up_pvmove): what to move, checked for room before anything changes. */
function startMove(state: EmuState, sourceArg: string, destArgs: string[], alloc: Alloc, lvName: string | undefined): PvmoveState {
  const { device, ranges } = parsePvRanges(sourceArg);
  const source = requirePv(state, device);
  if (!source.vg) throw new LvmError(`Physical volume ${device} not in a volume group`);
  const vg = requireVg(state, source.vg);
  const map = pvExtentMap(vg, source);
  const pending: number[] = [];
  map.forEach((slot, pe) => {
    if (!slot) return;
    if (lvName && slot.lv.name !== lvName) return;
    if (ranges && !ranges.some((r) => pe >= r.start && pe <= r.end)) return;
    pending.push(pe);
  });
  if (lvName && !vg.lvs.some((l) => l.name === lvName)) throw new LvmError(`Logical volume ${lvName} not found.`);
  if (pending.length === 0) throw new LvmError(`No data to move for ${vg.name}.`);
  const destinations = destArgs.map((a) => {
    const pv = requirePv(state, parsePvRanges(a).device);
    if (pv.vg !== vg.name) throw new LvmError(`Physical volume ${pv.device} not in volume group ${vg.name}`);
    return pv.uuid;
  });
  const available = pvmoveAvailable(state, vg, source, new Set(pending), alloc, destinations);
  if (available === 0) throw new LvmError('No extents available for allocation.');
  if (available < pending.length) {
    error(`Insufficient free space: ${pending.length} extents needed, but only ${available} available`);
    error(`Unable to allocate mirror extents for ${vg.name}/pvmove0.`);
    throw new LvmError('Failed to convert pvmove LV to mirrored.');
  }
  verbose(`Moving ${pending.length} extents of logical volume(s) in ${vg.name}`);
  return {
    vg: vg.name,
    sourcePv: source.uuid,
    sourceName: device,
    ranges: toRanges(pending),
    alloc,
    total: pending.length,
    moved: 0,
    destinations,
  };
}

function toRanges(pes: number[]): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  for (const pe of [...pes].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && last.end + 1 === pe) last.end = pe;
    else out.push({ start: pe, end: pe });
  }
  return out;
}

function pendingSet(move: PvmoveState): Set<number> {
  const s = new Set<number>();
  for (const r of move.ranges) for (let pe = r.start; pe <= r.end; pe++) s.add(pe);
  return s;
}

/** Move one extent, committed on its own: the source's lowest pending extent to its destination. */
function moveOneExtent(state: EmuState, previous: ExtentRef | null): { done: boolean; dest: ExtentRef | null } {
  const move = state.pvmove;
  if (!move) return { done: true, dest: null }; // aborted by another command
  const vg = requireVg(state, move.vg);
  const source = state.pvs.find((p) => p.uuid === move.sourcePv);
  if (!source) throw new LvmError("ABORTING: Can't reread the source PV of the pvmove in progress.");
  const pending = pendingSet(move);
  const map = pvExtentMap(vg, source);
  // Extents freed by someone else meanwhile (never in the lab) are simply dropped from the move.
  const next = [...pending].sort((a, b) => a - b).find((pe) => map[pe] !== null && map[pe] !== undefined);
  if (next === undefined) {
    state.pvmove = null;
    vg.seqno += 1;
    return { done: true, dest: null };
  }
  const dest = pickPvmoveDestination(state, vg, source, pending, move.alloc, move.destinations, previous);
  if (!dest) throw new LvmError(`Insufficient free space: ${pending.size} extents needed, but only 0 available`);
  const slot = map[next];
  if (!slot) throw new Error('internal: pending extent vanished');
  const extents = lvExtents(slot.lv);
  extents[slot.le] = dest;
  setLvExtents(slot.lv, extents);
  pending.delete(next);
  move.ranges = toRanges([...pending]);
  move.moved += 1;
  vg.seqno += 1;
  if (pending.size === 0) state.pvmove = null;
  return { done: pending.size === 0, dest };
}

function percent(moved: number, total: number): string {
  return `${((moved * 100) / total).toFixed(2)}%`;
}

function runMove(intervalSeconds: number): number {
  const fault = takePvmoveFault();
  const msPerExtent = pvmoveMsPerExtent();
  let lastReport = -Infinity;
  let previous: ExtentRef | null = null;
  let movedHere = 0;
  for (;;) {
    if (fault && movedHere >= fault.afterExtents) {
      if (fault.mode === 'kill') process.kill(process.pid, 'SIGKILL');
      error('ABORTING: Mirror percentage check failed.');
      return ECMD_FAILED;
    }
    sleepMs(msPerExtent); // the copy itself: the kernel's mirror on a real host
    const step = updateState((state) => {
      const name = state.pvmove?.sourceName ?? '';
      const r = moveOneExtent(state, previous);
      return { ...r, name, moved: state.pvmove?.moved ?? 0, total: state.pvmove?.total ?? 0 };
    });
    movedHere++;
    previous = step.dest;
    const now = Date.now();
    if (step.done) {
      print(`${step.name}: Moved: 100.00%`);
      return 0;
    }
    if (now - lastReport >= intervalSeconds * 1000) {
      print(`${step.name}: Moved: ${percent(step.moved, step.total)}`);
      lastReport = now;
    }
  }
}

export function pvmove(argv: string[]): number {
  const args = parseArgs('pvmove', argv, OPTIONS);
  const alloc = (value(args, 'alloc') ?? 'normal') as Alloc;
  if (!['normal', 'anywhere', 'contiguous', 'cling', 'inherit'].includes(alloc)) throw new LvmError(`Invalid argument for --alloc: ${alloc}`, EINVALID_CMD_LINE);
  const intervalArg = value(args, 'interval') ?? '15';
  const interval = Number(intervalArg.replace(/^\+/, ''));
  if (!Number.isFinite(interval) || interval < 0) throw new LvmError(`Invalid argument for --interval: ${intervalArg}`, EINVALID_CMD_LINE);

  if (has(args, 'abort')) {
    // Extents already moved stay where they are (as with a non-atomic pvmove --abort).
    updateState((state) => {
      if (state.pvmove) {
        const vg = requireVg(state, state.pvmove.vg);
        vg.seqno += 1;
        state.pvmove = null;
      }
    });
    return 0;
  }

  if (has(args, 'background')) {
    // Re-run ourselves detached without -b, as lvmpolld would poll the move; exit at once.
    const rest = argv.filter((a) => a !== '-b' && a !== '--background');
    const child = spawn(process.execPath, [process.argv[1], 'pvmove', ...rest], { detached: true, stdio: 'ignore', env: process.env });
    child.unref();
    return 0;
  }

  const [sourceArg, ...destArgs] = args.positional;
  const started = updateState((state) => {
    if (!sourceArg) return state.pvmove !== null;
    const device = parsePvRanges(sourceArg).device;
    if (state.pvmove) {
      const sourcePv = findPvByDevice(state, device);
      if (sourcePv?.uuid !== state.pvmove.sourcePv) {
        throw new LvmError(`Another pvmove (of ${state.pvmove.sourceName}) is in progress; run pvmove without arguments to finish it, or pvmove --abort.`);
      }
      print(`Detected pvmove in progress for ${device}`);
      if (destArgs.length || sourceArg.includes(':') || has(args, 'name')) error('Ignoring remaining command line arguments');
      return true;
    }
    state.pvmove = startMove(state, sourceArg, destArgs, alloc, value(args, 'name'));
    requireVg(state, state.pvmove.vg).seqno += 1;
    return true;
  });
  if (!started) return 0; // `pvmove` alone with nothing in progress: nothing to poll
  // A read after the commit, so a pvmove --abort racing with us is noticed before the first copy.
  if (!readState().pvmove) return 0;
  return runMove(interval);
}
