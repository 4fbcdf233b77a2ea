import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { CRUCIBLE_HOST, IMAGE_PATH, PORTS, REGION_DIRS } from '../crucible/layout';
import { bash } from '../../../activities/ssh/command';
import type { ScenarioContext } from '../types';

// For tests, benchmarks and recordings that need a bootable volume without running seedRegions:
// the three regions made from the crucible scenario's OS image (2 MiB extents, 16 of them: room past
// the 24 MiB image for the guest's journal) and their downstairs run under a restart loop. Does
// nothing when the regions are already there and serving.

async function serving(ctx: ScenarioContext): Promise<boolean> {
  const r = await ctx.exec(PORTS.map((p) => `(exec 3<>/dev/tcp/${CRUCIBLE_HOST.address}/${p}) 2>/dev/null`).join(' && '));
  return r.code === 0;
}

/** Returns the pids (as this machine sees them) of the downstairs loops it started, each its own process group. */
export async function seedBootRegions(ctx: ScenarioContext, opts: { extentSize?: number; extentCount?: number } = {}): Promise<number[]> {
  if (await serving(ctx)) return [];
  await Promise.all(
    REGION_DIRS.map(async (dir) => {
      const r = await ctx.exec(
        bash`[ -f ${`${dir}/region.json`} ] || crucible-downstairs create --import-path ${IMAGE_PATH} --data ${dir} --uuid ${randomUUID()} --extent-size ${opts.extentSize ?? 4096} --extent-count ${opts.extentCount ?? 16} --block-size 512 >/dev/null`,
        { timeoutMs: 300_000 },
      );
      if (r.code !== 0) throw new Error(`creating region ${dir}: ${r.stderr}`);
    }),
  );
  const pids: number[] = [];
  for (const [i, dir] of REGION_DIRS.entries()) {
    const pid = await ctx.spawn(bash`exec sh -c ${`while :; do crucible-downstairs run -d ${dir} -p ${PORTS[i]} -a ${CRUCIBLE_HOST.address}; sleep 0.2; done`}`, {
      logFile: path.join(ctx.hostDir, `downstairs-${PORTS[i]}.log`),
    });
    pids.push(pid);
  }
  const deadline = Date.now() + 20_000;
  while (!(await serving(ctx))) {
    if (Date.now() > deadline) throw new Error('the downstairs did not start within 20 s');
    await new Promise((res) => setTimeout(res, 200));
  }
  return pids;
}
