import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { stateDir, statePath, withStateLock, writeJsonAtomic } from './state';

// Fault injection and pacing for the emulator, so tests can break a pvmove half-way the way a
// crashed host would. Two ways in:
//   env    LVM_EMU_FAIL_PVMOVE_AFTER=<n>       every pvmove in this environment dies after n extents
//          LVM_EMU_FAIL_PVMOVE_MODE=kill|error  (default kill: SIGKILL, as a crash; error: exit 5)
//          LVM_EMU_PVMOVE_MS_PER_EXTENT=<ms>   copy time per extent (default 20)
//   file   <state dir>/faults.json, for commands run over ssh by a runbook, whose environment a
//          test does not control: {"pvmove": {"failAfterExtents": 1, "mode": "kill", "times": 1},
//          "pvmoveMsPerExtent": 200}. "times" counts down; the entry goes when it reaches 0, so
//          the runbook's retry or compensation then runs against a healthy emulator.
//          {"lvextendResize": {"times": 1}}: an `lvextend --resizefs` grows the LV, then fails as if
//          its filesystem resize had (exit 5, the filesystem left at its old size), as fsadm can.

export const faultsSchema = z
  .object({
    pvmove: z
      .object({
        failAfterExtents: z.number().int().nonnegative(),
        mode: z.enum(['kill', 'error']).default('kill'),
        times: z.number().int().positive().default(1),
      })
      .strict()
      .optional(),
    pvmoveMsPerExtent: z.number().nonnegative().optional(),
    lvextendResize: z
      .object({ times: z.number().int().positive().default(1) })
      .strict()
      .optional(),
  })
  .strict();
export type Faults = z.infer<typeof faultsSchema>;
export type FaultsInput = z.input<typeof faultsSchema>;

export function faultsPath(file = statePath()): string {
  return path.join(stateDir(file), 'faults.json');
}

function readFaults(file: string): Faults {
  const p = faultsPath(file);
  if (!existsSync(p)) return {};
  return faultsSchema.parse(JSON.parse(readFileSync(p, 'utf8')));
}

/** Arm faults for the emulator whose state file is given (tests call this from outside the host). */
export function writeFaults(faults: FaultsInput, file = statePath()): void {
  writeJsonAtomic(faultsPath(file), faultsSchema.parse(faults));
}

export function clearFaults(file = statePath()): void {
  rmSync(faultsPath(file), { force: true });
}

export interface PvmoveFault {
  afterExtents: number;
  mode: 'kill' | 'error';
}

/**
 * The pvmove fault for this run, if any. A file fault is consumed (times - 1) when read, under the
 * state lock, so two pvmoves never both take the last one.
 */
export function takePvmoveFault(file = statePath()): PvmoveFault | null {
  const env = process.env.LVM_EMU_FAIL_PVMOVE_AFTER;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0) throw new Error(`LVM_EMU_FAIL_PVMOVE_AFTER must be a whole number of extents, not "${env}"`);
    const mode = process.env.LVM_EMU_FAIL_PVMOVE_MODE === 'error' ? 'error' : 'kill';
    return { afterExtents: n, mode };
  }
  const taken = takeFileFault('pvmove', file);
  return taken ? { afterExtents: taken.failAfterExtents, mode: taken.mode } : null;
}

/** Whether this `lvextend --resizefs` fails its filesystem resize (consumed like takePvmoveFault). */
export function takeLvextendResizeFault(file = statePath()): boolean {
  return takeFileFault('lvextendResize', file) !== null;
}

/** A faults.json entry, its `times` counted down under the state lock (the entry goes at 0). */
function takeFileFault<K extends 'pvmove' | 'lvextendResize'>(key: K, file: string): NonNullable<Faults[K]> | null {
  return withStateLock(() => {
    const faults = readFaults(file);
    const entry = faults[key];
    if (!entry) return null;
    const rest: Faults = { ...faults };
    if (entry.times > 1) rest[key] = { ...entry, times: entry.times - 1 } as Faults[K];
    else delete rest[key];
    if (Object.keys(rest).length === 0) clearFaults(file);
    else writeFaults(rest, file);
    return entry as NonNullable<Faults[K]>;
  }, file);
}

export function pvmoveMsPerExtent(file = statePath()): number {
  const env = process.env.LVM_EMU_PVMOVE_MS_PER_EXTENT;
  if (env !== undefined && env !== '' && Number.isFinite(Number(env))) return Number(env);
  return readFaults(file).pvmoveMsPerExtent ?? 20;
}
