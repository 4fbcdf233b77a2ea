import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { StepOutput } from '../../common/step';
import { act } from './act';
import { MiB, storageCommands as c } from './commands';
import { parseLvs, parseVgs } from './parse';
import { readFsSize, readLvm, readMountpoint, readUsage, refuse } from './read';
import type { FsUsage } from './types';

// Growing the volume: step 8 (to the target size) and every extension of the auto-grow guard. The
// workflow always gives an absolute size; the activity checks the LV and its filesystem first, so a
// retry (or a second guard sample racing a slow extension) never grows it twice.

export interface ExtendResult {
  changed: boolean;
  lvBytesBefore: number;
  lvBytesAfter: number;
  fsBytesBefore: number | null;
  fsBytesAfter: number | null;
  fstype: string | null;
  detail: string;
}

export async function extendVolume(host: string, vg: string, lv: string, mountPoint: string, targetBytes: number): Promise<StepOutput<ExtendResult>> {
  const session = new HostSession(sharedPool(), host);
  if (targetBytes % MiB !== 0) refuse(`target ${targetBytes} bytes is not a whole number of MiB`, 'BadTarget');
  const [state, mount] = await Promise.all([readLvm(session, vg), readMountpoint(session, mountPoint)]);
  const info = state.lvs.find((l) => l.name === lv);
  if (!info || !state.vg) refuse(`LV ${vg}/${lv} does not exist on ${host}`, 'NoSuchVolume');
  const fsBefore = mount ? await readFsSize(session, mount) : null;
  const extent = state.vg.extentBytes;
  // A filesystem within one extent of its LV fills it (mkfs and growfs round to their own blocks).
  const fsFills = (lvBytes: number, fs: number | null) => fs === null || fs >= lvBytes - extent;
  if (info.sizeBytes >= targetBytes && fsFills(info.sizeBytes, fsBefore)) {
    return session.output({
      changed: false,
      lvBytesBefore: info.sizeBytes,
      lvBytesAfter: info.sizeBytes,
      fsBytesBefore: fsBefore,
      fsBytesAfter: fsBefore,
      fstype: mount?.fstype ?? null,
      detail: `${vg}/${lv} is already ${info.sizeBytes / MiB} MiB (target ${targetBytes / MiB} MiB) and its filesystem fills it`,
    });
  }
  // Never shrink: an LV already past the target (grown by the guard) only gets its filesystem resized.
  const goal = Math.max(targetBytes, info.sizeBytes);
  const needed = Math.ceil((goal - info.sizeBytes) / extent);
  if (needed > state.vg.freeExtents) {
    refuse(`${vg}/${lv} needs ${needed} more extents to reach ${goal / MiB} MiB, but ${vg} has ${state.vg.freeExtents} free`, 'InsufficientFreeExtents');
  }
  await act(session, c.extendTo(vg, lv, Math.ceil(goal / MiB)), { timeoutMs: 30 * 60_000, what: `extending ${vg}/${lv} to ${goal / MiB} MiB` });
  const after = await readLvm(session, vg);
  const lvAfter = after.lvs.find((l) => l.name === lv)?.sizeBytes ?? info.sizeBytes;
  const fsAfter = mount ? await readFsSize(session, mount) : null;
  return session.output({
    changed: true,
    lvBytesBefore: info.sizeBytes,
    lvBytesAfter: lvAfter,
    fsBytesBefore: fsBefore,
    fsBytesAfter: fsAfter,
    fstype: mount?.fstype ?? null,
    detail: `${vg}/${lv} ${info.sizeBytes / MiB} -> ${lvAfter / MiB} MiB, ${mount?.fstype ?? 'no'} filesystem ${fsBefore === null ? '?' : fsBefore / MiB} -> ${fsAfter === null ? '?' : fsAfter / MiB} MiB`,
  });
}

export interface VolumeSample {
  at: string;
  usage: FsUsage;
  lvBytes: number;
  extentBytes: number;
  vgFreeExtents: number;
  fstype: string;
}

/** One read-only sample for the guard: how full the filesystem is, how big the LV, how much the VG has left. */
export async function sampleVolume(host: string, vg: string, lv: string, mountPoint: string): Promise<StepOutput<VolumeSample>> {
  const session = new HostSession(sharedPool(), host);
  const at = new Date().toISOString();
  // No pvs here: a sample needs the LV and the VG's free extents only, and runs every few seconds.
  const [vgs, lvs, mount, usage] = await Promise.all([session.check(c.vgs(vg)), session.check(c.lvs(vg)), readMountpoint(session, mountPoint), readUsage(session, [mountPoint])]);
  const vgInfo = parseVgs(vgs.stdout).find((v) => v.name === vg);
  const info = parseLvs(lvs.stdout).find((l) => l.name === lv);
  if (!info || !vgInfo) refuse(`LV ${vg}/${lv} does not exist on ${host}`, 'NoSuchVolume');
  if (!mount) refuse(`${mountPoint} is not mounted on ${host}`, 'NotMounted');
  const u = usage.find((x) => x.target === mountPoint);
  if (!u) refuse(`df printed nothing for ${mountPoint}`, 'NoUsage');
  return session.output({ at, usage: u, lvBytes: info.sizeBytes, extentBytes: vgInfo.extentBytes, vgFreeExtents: vgInfo.freeExtents, fstype: mount.fstype });
}

/** Verify of step 8: the LV has reached the target and its filesystem fills it. */
export async function checkVolumeSize(host: string, vg: string, lv: string, mountPoint: string, targetBytes: number): Promise<StepOutput<{ ok: boolean; detail: string }>> {
  const session = new HostSession(sharedPool(), host);
  const [state, mount] = await Promise.all([readLvm(session, vg), readMountpoint(session, mountPoint)]);
  const info = state.lvs.find((l) => l.name === lv);
  if (!info || !state.vg || !mount) return session.output({ ok: false, detail: `${vg}/${lv} or ${mountPoint} is missing` });
  const fs = await readFsSize(session, mount);
  const ok = info.sizeBytes >= targetBytes && (fs === null || fs >= info.sizeBytes - state.vg.extentBytes);
  return session.output({ ok, detail: `${vg}/${lv} is ${info.sizeBytes / MiB} MiB (target ${targetBytes / MiB}); its ${mount.fstype} filesystem is ${fs === null ? '?' : fs / MiB} MiB` });
}
