import { stopZfsFuse } from '../../zfs/daemon';
import type { LabScenario } from '../types';
import { buildCrucible } from './build';
import { checkCrucible } from './check';
import { CRUCIBLE_HOST, POOL_LAYOUT } from './layout';
import { stopSupervisedDownstairs } from './stop-downstairs';

// Scenario crucible: the storage host of seeds 003/004 before seeding (three zfs-fuse pools with an
// empty region directory each, the crucible-downstairs/dsc emulator, an OS image). Its check passes
// once three regions hold the image, agree, and are served on 8810/8820/8830: what runbook
// seedRegions is judged by. See build.ts and check.ts.

export const crucibleScenario: LabScenario = {
  name: 'crucible',
  description:
    'seeds 003/004: cru-sled with zfs pools cru0..cru2 at /pool/disk0..2 (empty region dirs), crucible-downstairs and dsc on the PATH, an ext4 OS image at /root/images/os.raw; no regions yet',
  hosts: [CRUCIBLE_HOST],
  build: buildCrucible,
  check: (ctx) => checkCrucible(ctx),
  async teardown(ctx) {
    // Downstairs that seedRegions started hold region files open: stop them before the export.
    await stopSupervisedDownstairs(ctx);
    await stopZfsFuse(ctx, POOL_LAYOUT);
  },
};

export { checkCrucible } from './check';
export type { ImageRecord } from './tools';
export { installCrucibleTools } from './tools';
export * from './layout';
