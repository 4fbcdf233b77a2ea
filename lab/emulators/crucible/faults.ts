import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

// Injected failures, so tests can make `create --import-path` die half way as a real import does
// when it panics (an I/O error is unwrap()ed): the directory is left with region.json, every extent
// file, and the first extents written but never flushed (dirty, flush 0).
//
// - CRUCIBLE_EMU_FAIL_IMPORT_AFTER_EXTENTS=<n> in the environment of `create`, or
// - a faults file (CRUCIBLE_EMU_FAULTS, which the lab wrapper pins to the host's state folder):
//   {"import": {"failAfterExtents": n, "times": k}}; each import that takes the fault decrements times.

export interface Faults {
  import?: { failAfterExtents: number; times: number };
  /** Every import sleeps this long per extent (a slow disk), so a test can cancel it mid-way. */
  importDelayMsPerExtent?: number;
}

export function writeFaults(file: string, faults: Faults): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(faults));
  renameSync(`${file}.tmp`, file);
}

export function clearFaults(file: string): void {
  rmSync(file, { force: true });
}

/** The number of extents after which this import must die, or null; consumes one `times` from the file. */
export function takeImportFault(env: Record<string, string | undefined>): number | null {
  const fromEnv = env.CRUCIBLE_EMU_FAIL_IMPORT_AFTER_EXTENTS;
  if (fromEnv !== undefined && /^[0-9]+$/.test(fromEnv)) return Number(fromEnv);
  const file = env.CRUCIBLE_EMU_FAULTS;
  if (!file || !existsSync(file)) return null;
  let faults: Faults;
  try {
    faults = JSON.parse(readFileSync(file, 'utf8')) as Faults;
  } catch {
    return null;
  }
  const f = faults.import;
  if (!f || !(f.times > 0)) return null;
  f.times -= 1;
  writeFaults(file, faults);
  return f.failAfterExtents;
}

/** Milliseconds an import sleeps per extent (CRUCIBLE_EMU_IMPORT_DELAY_MS or the faults file), 0 by default. */
export function importDelayMs(env: Record<string, string | undefined>): number {
  const fromEnv = Number(env.CRUCIBLE_EMU_IMPORT_DELAY_MS);
  if (Number.isFinite(fromEnv) && fromEnv > 0) return fromEnv;
  const file = env.CRUCIBLE_EMU_FAULTS;
  if (!file || !existsSync(file)) return 0;
  try {
    const f = JSON.parse(readFileSync(file, 'utf8')) as Faults;
    return typeof f.importDelayMsPerExtent === 'number' ? f.importDelayMsPerExtent : 0;
  } catch {
    return 0;
  }
}
