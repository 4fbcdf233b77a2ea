import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readManifest } from '../lab/manifest';

// CPU seconds, read from /proc. Wall time on this shared 2-core machine moves with whatever else
// runs; the CPU a transfer costs moves much less, so the stream benchmark reports both.
// cutime/cstime count the children a live process has reaped (the exited `zfs send`, `cat`, the
// OpenSSH clients), so a sample before and after a transfer covers processes that came and went.

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function statSeconds(pid: string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[11..14] = fields 14..17 of proc(5): utime, stime, cutime, cstime
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND;
}

/** Every process in the lab host's PID namespace: its zfs-fuse daemon, sshd and what sshd runs. */
export function hostCpuSeconds(host: string): number {
  const manifest = readManifest(host);
  if (!manifest) throw new Error(`lab host ${host} is not running`);
  const ns = readlinkSync(`/proc/${manifest.init.pid}/ns/pid`);
  let seconds = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) === ns) seconds += statSeconds(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return seconds;
}

/** This process (the worker's share of a stream) and the children it reaped (OpenSSH clients it ran). */
export function ownCpuSeconds(): number {
  return statSeconds('self');
}
