import { bash } from '../../../activities/ssh/command';
import { startZfsFuse } from '../../zfs/daemon';
import type { ScenarioContext, ScenarioOptions } from '../types';
import { POOL_BYTES, POOL_LAYOUT, REGION_PARENTS } from './layout';
import { installCrucibleTools } from './tools';

// Builds the storage host of seeds 003/004 before anyone seeded it: three zfs-fuse pools, the
// seed's empty `region` directory on each, crucible-downstairs and dsc (the emulator) on the PATH,
// and an OS image (tools.ts).

export type { ImageRecord } from './tools';

export async function buildCrucible(ctx: ScenarioContext, opts: ScenarioOptions): Promise<void> {
  const t0 = Date.now();
  await startZfsFuse(ctx, { poolBytes: opts.fullSize ? POOL_BYTES.full : POOL_BYTES.fast, layout: POOL_LAYOUT });
  const tZfs = Date.now() - t0;
  const r = await ctx.exec(bash`mkdir -p ${REGION_PARENTS}`);
  if (r.code !== 0) throw new Error(`crucible build: making the region directories failed (exit ${r.code}): ${r.stderr.trim()}`);
  await installCrucibleTools(ctx, opts);
  ctx.log(`zfs pools cru0..cru2 in ${tZfs} ms`);
}
