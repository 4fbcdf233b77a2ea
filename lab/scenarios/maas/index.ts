import { removeInventoryMaas } from '../../inventory-file';
import { stopZfsFuse } from '../../zfs/daemon';
import { stopSupervisedDownstairs } from '../crucible/stop-downstairs';
import { installCrucibleTools } from '../crucible/tools';
import type { CheckReport, LabScenario, ScenarioContext } from '../types';
import { checkCruciblePools } from './check';
import { buildMachine } from './machine';
import { MAAS_ENDPOINT, seedRegion, startRegion } from './region';

// Seed 000 in the lab: the MAAS region (an API emulator on maas-region:5240) and the machine
// proper-raptor (real sshd, a real GPT on a loop-device disk, zfs-fuse), deployed with EFI + one big
// root. The check is the seed's goal: three healthy pools crucible1..3, each on its own partition of
// sda (not a file, not the root), mounted at /crucible1..3, ashift=12. The pools are for Crucible, so
// the machine also carries what its regions are seeded with (crucible-downstairs/dsc and the OS image,
// as on the crucible scenario's cru-sled): seedRegions runs on the pools maasRepartition made.

export const MAAS_HOSTS = { machine: { name: 'proper-raptor', address: '127.0.0.61' }, region: { name: 'maas-region', address: '127.0.0.60' } };

export function createMaasScenario(o: { name?: string; machine?: { name: string; address: string }; region?: { name: string; address: string } } = {}): LabScenario {
  const machine = o.machine ?? MAAS_HOSTS.machine;
  const region = o.region ?? MAAS_HOSTS.region;
  return {
    name: o.name ?? 'maas',
    description: `${machine.name} (one SSD: EFI + one big root, deployed; crucible-downstairs/dsc and an OS image for seedRegions) and a MAAS region API emulator on ${region.address}:5240 (${region.name})`,
    // The machine first: the region's seed reads the machine's real disk.
    hosts: [machine, region],
    async build(ctx: ScenarioContext, opts) {
      if (ctx.host === machine.name) {
        await buildMachine(ctx, opts.fullSize);
        await installCrucibleTools(ctx, opts);
        return;
      }
      seedRegion(ctx.host, machine.name, machine.address);
      await startRegion(ctx, region.address);
    },
    async check(ctx: ScenarioContext): Promise<CheckReport> {
      if (ctx.host !== machine.name) return { ok: true, checks: [{ name: 'region', ok: true, detail: 'the region is judged through the machine' }] };
      return checkCruciblePools(ctx);
    },
    async teardown(ctx: ScenarioContext) {
      if (ctx.host === machine.name) {
        // Downstairs that seedRegions started hold region files open: stop them before the export.
        await stopSupervisedDownstairs(ctx);
        // Export every pool a run made (stopZfsFuse exports only the zfs-projects pool), so a rebuilt
        // machine's new zfs-fuse does not import stale pools from zpool.cache.
        await ctx.exec('for p in $(zpool list -H -o name 2>/dev/null); do zpool export -f "$p" || true; done; rm -f /var/lib/zfs/zpool.cache', { timeoutMs: 60_000 });
        await stopZfsFuse(ctx);
      } else removeInventoryMaas(MAAS_ENDPOINT);
    },
  };
}

export const maasScenario = createMaasScenario();
export { setRegionLabConfig, regionStateDir, apiKeyFile, MAAS_ENDPOINT, MACHINE_SYSTEM_ID, seedRegion, reloadRegion } from './region';
export { resetMachine } from './machine';
