import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { StepOutput } from '../../common/step';
import { act } from './act';
import { storageCommands as c } from './commands';
import { readContainingMount, readDiskImages, readPv, readUsage, refuse } from './read';

// Step 7: a disk is a loop device over an image file (the incident's `fallocate -l 1800M`,
// `losetup`, `pvcreate`, `vgextend`). Each part is checked before it is done, so a retry after a
// crash between any two of them carries on without a second image or a second loop device.

export interface DiskResult {
  image: string;
  device: string;
  /** What this attempt did (empty when the disk was already in the VG). */
  actions: string[];
}

export async function ensureDiskPv(host: string, vg: string, image: string, sizeBytes: number): Promise<StepOutput<DiskResult>> {
  const session = new HostSession(sharedPool(), host);
  const actions: string[] = [];
  const dir = image.slice(0, image.lastIndexOf('/')) || '/';
  const existing = (await readDiskImages(session, dir)).find((d) => d.path === image);
  if (!existing || existing.sizeBytes < sizeBytes) {
    const mount = await readContainingMount(session, dir);
    const [usage] = mount ? await readUsage(session, [mount.target]) : [];
    const needed = sizeBytes - (existing?.sizeBytes ?? 0);
    if (!usage || usage.availBytes < needed) {
      refuse(`${dir} on ${host} has ${usage?.availBytes ?? 0} bytes free; ${image} needs ${needed} more (release space first: step release-deleted-files)`, 'NoRoomForDisk');
    }
    await act(session, c.fallocate(image, sizeBytes));
    actions.push(`allocated ${image} (${sizeBytes} bytes)`);
  }
  const attach = await act(session, c.attachLoop(image));
  const device = attach.stdout.trim();
  if (!/^\/dev\/loop\d+$/.test(device)) refuse(`attaching ${image} to a loop device printed "${device}"`, 'LoopAttachFailed');
  if (existing?.loopDevice !== device) actions.push(`attached ${image} as ${device}`);
  const pv = await readPv(session, device);
  if (pv && pv.vg !== '' && pv.vg !== vg) refuse(`${device} (${image}) is a PV of VG ${pv.vg}, not ${vg}`, 'WrongVolumeGroup');
  if (!pv) {
    await act(session, c.pvcreate(device));
    actions.push(`created a PV on ${device}`);
  }
  if (!pv || pv.vg === '') {
    await act(session, c.vgextend(vg, device));
    actions.push(`added ${device} to ${vg}`);
  }
  return session.output({ image, device, actions });
}

export interface RemoveDiskResult {
  image: string;
  removed: string[];
  /** Why the disk was kept, when it was (its extents hold data: removing it would lose them). */
  kept?: string;
}

/**
 * Compensation of step 7: take a disk this run added back out (vgreduce, pvremove, losetup -d, rm),
 * each part only if it is still there. A disk the LV already has extents on stays, and says why.
 */
export async function removeAddedDisk(host: string, vg: string, image: string): Promise<StepOutput<RemoveDiskResult>> {
  const session = new HostSession(sharedPool(), host);
  const removed: string[] = [];
  const dir = image.slice(0, image.lastIndexOf('/')) || '/';
  const disk = (await readDiskImages(session, dir)).find((d) => d.path === image);
  if (!disk) return session.output({ image, removed });
  if (disk.loopDevice) {
    const pv = await readPv(session, disk.loopDevice);
    if (pv && pv.vg === vg) {
      if (pv.peAllocCount > 0) {
        return session.output({ image, removed, kept: `${disk.loopDevice} holds ${pv.peAllocCount} extents of ${vg}: removing it would lose data, so it stays` });
      }
      await act(session, c.vgreduce(vg, disk.loopDevice));
      removed.push(`removed ${disk.loopDevice} from ${vg}`);
    }
    if (pv && (pv.vg === vg || pv.vg === '')) {
      await act(session, c.pvremove(disk.loopDevice));
      removed.push(`wiped the PV label on ${disk.loopDevice}`);
    }
    if (pv && pv.vg !== vg && pv.vg !== '') return session.output({ image, removed, kept: `${disk.loopDevice} belongs to VG ${pv.vg}` });
    await act(session, c.detachLoop(disk.loopDevice));
    removed.push(`detached ${disk.loopDevice}`);
  }
  await act(session, c.removeImage(image));
  removed.push(`deleted ${image}`);
  return session.output({ image, removed });
}
