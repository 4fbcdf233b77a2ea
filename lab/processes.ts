import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

// Lab down kills by pid, never by name. A pid alone can be reused after a reboot or a long time, so
// every pid we record carries the process's start time (field 22 of /proc/<pid>/stat), and we only
// signal a pid whose start time still matches.

export interface ProcessRef {
  pid: number;
  /** Clock ticks after boot at which the process started; tells a reused pid apart. */
  start: string;
}

function readStat(pid: number): { state: string; ppid: number; pgid: number; start: string } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may contain spaces or ')', so split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), rest[1] field 4 (ppid), rest[2] field 5 (pgrp), rest[19] field 22 (starttime).
  return { state: rest[0], ppid: Number(rest[1]), pgid: Number(rest[2]), start: rest[19] };
}

/** The ref of a live process, or null when there is none with that pid. */
export function processRef(pid: number): ProcessRef | null {
  const stat = readStat(pid);
  return stat && stat.state !== 'Z' ? { pid, start: stat.start } : null;
}

/** True while the very process recorded in ref runs (not a zombie, not a reused pid). */
export function isRunning(ref: ProcessRef): boolean {
  const stat = readStat(ref.pid);
  return stat !== null && stat.state !== 'Z' && stat.start === ref.start;
}

/** Live processes whose process group is pgid. */
export function processGroupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      const stat = readStat(pid);
      return stat !== null && stat.state !== 'Z' && stat.pgid === pgid;
    });
}

/** Direct children of pid (every thread's children list). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch {
      // the thread ended while we looked
    }
  }
  return out;
}

/** Every descendant of pid, parents before children. */
export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const queue = childrenOf(pid);
  while (queue.length) {
    const p = queue.shift() as number;
    out.push(p);
    queue.push(...childrenOf(p));
  }
  return out;
}

/**
 * Processes inside a lab host's PID namespace know themselves by their inner pid (sshd's PidFile,
 * bash's $!). Lab down runs outside, so it needs the pid this machine sees: the /proc entry in the
 * same PID namespace as the host's init whose NSpid line ends with the inner pid.
 */
export function outerPidOf(initPid: number, innerPid: number): number | null {
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${initPid}/ns/pid`);
  } catch {
    return null;
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) !== ns) continue;
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      const ids = nspid ? nspid[1].trim().split(/\s+/) : [];
      if (Number(ids[ids.length - 1]) === innerPid) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function signal(ref: ProcessRef, sig: NodeJS.Signals): void {
  if (!isRunning(ref)) return;
  try {
    process.kill(ref.pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Wait until none of refs runs; returns those still running after timeoutMs. */
export async function waitGone(refs: ProcessRef[], timeoutMs: number): Promise<ProcessRef[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = refs.filter(isRunning);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await sleep(10);
  }
}

/**
 * SIGTERM the processes, SIGKILL whatever still runs after graceMs, and fail if any survives that.
 * graceMs 0 goes straight to SIGKILL (a PID namespace's init ignores SIGTERM from outside anyway).
 */
export async function terminate(refs: ProcessRef[], graceMs: number, what: string): Promise<void> {
  if (graceMs > 0) {
    refs.forEach((r) => signal(r, 'SIGTERM'));
    refs = await waitGone(refs, graceMs);
  }
  refs.forEach((r) => signal(r, 'SIGKILL'));
  const survivors = await waitGone(refs, 5000);
  if (survivors.length) {
    throw new Error(
      `${what}: pid ${survivors.map((r) => r.pid).join(', ')} still running 5 s after SIGKILL (stuck in the kernel, e.g. on a hung FUSE or loop device?); look at /proc/<pid>/stack and kill it by hand`,
    );
  }
}
