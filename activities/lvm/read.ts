import { ApplicationFailure } from '@temporalio/common';
import { parseDf, parseFindmnt } from '../facts/parse';
import type { HostSession } from '../ssh/session';
import { fsSizeCommand, storageCommands as c } from './commands';
import { parseDumpe2fsBytes, parseImageListing, parseLoopBackings, parseLvs, parsePvs, parseVgs, parseXfsInfoBytes } from './parse';
import type { DiskImage, FsUsage, LvmState, MountInfo } from './types';

// Read-only helpers the storage activities share: each runs one or a few commands on a session and
// parses their machine-readable output. Nothing here changes a host.

export async function readLvm(session: HostSession, vg: string): Promise<LvmState> {
  const [pvs, vgs, lvs] = await Promise.all([
    session.check(c.pvs()),
    // exit 5 with "Volume group not found": reported as no VG, not as a failure
    session.check(c.vgs(vg), { okExitCodes: [0, 5] }),
    session.check(c.lvs(vg), { okExitCodes: [0, 5] }),
  ]);
  return {
    pvs: parsePvs(pvs.stdout),
    vg: vgs.record.exitCode === 0 ? (parseVgs(vgs.stdout).find((v) => v.name === vg) ?? null) : null,
    lvs: lvs.record.exitCode === 0 ? parseLvs(lvs.stdout) : [],
  };
}

export async function readPv(session: HostSession, device: string): Promise<ReturnType<typeof parsePvs>[number] | null> {
  const r = await session.check(c.pvs());
  return parsePvs(r.stdout).find((p) => p.device === device) ?? null;
}

function mountInfo(text: string): MountInfo | null {
  const m = parseFindmnt(text)[0];
  return m ? { target: m.target, source: m.source, fstype: m.fstype, readOnly: m.readOnly } : null;
}

/** The filesystem mounted at exactly `path`, or null. */
export async function readMountpoint(session: HostSession, path: string): Promise<MountInfo | null> {
  const r = await session.check(c.findmntMountpoint(path), { okExitCodes: [0, 1] });
  return r.record.exitCode === 0 ? mountInfo(r.stdout) : null;
}

/** The filesystem that holds `path`. */
export async function readContainingMount(session: HostSession, path: string): Promise<MountInfo | null> {
  const r = await session.check(c.findmntContaining(path), { okExitCodes: [0, 1] });
  return r.record.exitCode === 0 ? mountInfo(r.stdout) : null;
}

export async function readUsage(session: HostSession, paths: string[]): Promise<FsUsage[]> {
  // df exits 1 when one of the paths cannot be read but still prints the rest.
  const r = await session.check(c.df(paths), { okExitCodes: [0, 1] });
  return parseDf(r.stdout).map((d) => ({ target: d.target, sizeBytes: d.sizeBytes, usedBytes: d.usedBytes, availBytes: d.availBytes, usePercent: d.usePercent }));
}

/** The filesystem's size by its own block count (df's size leaves out xfs's log). */
export async function readFsSize(session: HostSession, mount: MountInfo): Promise<number | null> {
  const cmd = fsSizeCommand(mount.fstype, mount.target, mount.source);
  if (!cmd) return null;
  const r = await session.check(cmd);
  return mount.fstype === 'xfs' ? parseXfsInfoBytes(r.stdout) : parseDumpe2fsBytes(r.stdout);
}

export async function readDiskImages(session: HostSession, dir: string): Promise<DiskImage[]> {
  const [images, loops] = await Promise.all([session.check(c.diskImages(dir), { okExitCodes: [0, 1] }), session.check(c.losetupList())]);
  const attached = parseLoopBackings(loops.stdout);
  // By device and inode, not by path: another mount namespace may have an image of the same name.
  return parseImageListing(images.stdout).map((img) => ({
    path: img.path,
    sizeBytes: img.sizeBytes,
    loopDevice: attached.find((l) => l.dev === img.dev && l.ino === img.ino)?.name ?? null,
  }));
}

/** Refuse, without retries, an act whose preconditions a retry cannot fix. */
export function refuse(message: string, type = 'PreconditionFailed'): never {
  throw ApplicationFailure.nonRetryable(message, type);
}
