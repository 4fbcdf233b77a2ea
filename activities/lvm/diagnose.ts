import { serviceCommands } from '../objectService/commands';
import { parseLsofDeleted } from '../objectService/lsof';
import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { StepOutput } from '../../common/step';
import { storageCommands as c } from './commands';
import { readContainingMount, readDiskImages, readFsSize, readLvm, readMountpoint, readUsage } from './read';
import type { StorageFacts } from './types';

export interface DiagnoseTarget {
  vg: string;
  lv: string;
  mountPoint: string;
  diskDir: string;
}

/**
 * Step 1 (read-only): mounts, PVs/VGs/LVs, the filesystem's size, the disk images and their loop
 * devices, deleted files still held open, free space. The workflow derives every finding and every
 * later step's target from this one record, so a replay after a crash decides exactly the same.
 */
export async function diagnoseStorage(host: string, t: DiagnoseTarget): Promise<StepOutput<StorageFacts>> {
  const session = new HostSession(sharedPool(), host);
  const [lvm, mount, diskDirMount, diskImages, lsof, nextLoop] = await Promise.all([
    readLvm(session, t.vg),
    readMountpoint(session, t.mountPoint),
    readContainingMount(session, t.diskDir),
    readDiskImages(session, t.diskDir),
    // lsof exits 1 when some file could not be examined; what it printed is still right
    session.check(serviceCommands.deletedOpenFiles(), { okExitCodes: [0, 1] }),
    session.check(c.nextLoopDevice(), { okExitCodes: [0, 1] }),
  ]);
  const usagePaths = [mount?.target, diskDirMount?.target].filter((p): p is string => Boolean(p));
  const usage = usagePaths.length ? await readUsage(session, usagePaths) : [];
  const fsSizeBytes = mount ? await readFsSize(session, mount) : null;
  return session.output({
    host,
    lvm,
    mount,
    fsSizeBytes,
    usage: (mount && usage.find((u) => u.target === mount.target)) ?? null,
    diskDirMount,
    diskDirUsage: (diskDirMount && usage.find((u) => u.target === diskDirMount.target)) ?? null,
    diskImages,
    deletedOpenFiles: parseLsofDeleted(lsof.stdout),
    nextLoopDevice: nextLoop.record.exitCode === 0 ? nextLoop.stdout.trim() || null : null,
  });
}
