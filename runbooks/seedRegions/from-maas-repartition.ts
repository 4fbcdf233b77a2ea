import { z } from 'zod';
import { absolutePathSchema, hostNameSchema } from '../../common/identifiers';
import { ChainInputError, readSource, resultValue, type ChainSource } from '../chain';

// maasRepartition → seedRegions: one region per pool the repartition made, in the pool's own
// mountpoint as seed 003 lays it out (<mountpoint>/region/<port>) and on dsc's ports 8810/8820/8830.
// Region UUIDs are left out on purpose: seedRegions generates them once and keeps them in its run, or
// keeps the UUID of a complete matching region it finds (a rerun changes nothing). What the
// repartition cannot know comes from the operator (`given`): the address the downstairs listen on
// and the image; anything else in `given` overrides the mapped fields.

/** dsc's default ports, one per region (domain-apis.md B). */
export const DSC_PORTS = [8810, 8820, 8830] as const;

const maasInput = z.object({ host: hostNameSchema }).loose();
const maasResult = z
  .object({
    outcome: z.enum(['repartitioned', 'pools-on-files', 'already-in-target-state', 'planned']),
    pools: z.array(z.object({ name: z.string(), health: z.string(), mountpoint: absolutePathSchema }).loose()),
  })
  .loose();

export function regionDirOnPool(mountpoint: string, port: number): string {
  return `${mountpoint === '/' ? '' : mountpoint}/region/${port}`;
}

export function seedRegionsInputFromMaasRepartition(from: ChainSource, given: Record<string, unknown> = {}): Record<string, unknown> {
  const input = readSource("the maasRepartition run's input", maasInput, from.input);
  const result = readSource("the maasRepartition run's result", maasResult, resultValue(from.result));
  if (result.outcome === 'planned') throw new ChainInputError('that maasRepartition run was a plan: it made no pools; seed regions from the result of a run in apply mode');
  if (result.pools.length !== 3) {
    throw new ChainInputError(
      `seedRegions puts one region on each of three pools; that maasRepartition run left ${result.pools.length} (${result.pools.map((p) => p.name).join(', ') || 'none'}); give regions yourself (--input) or repartition for three pools`,
    );
  }
  const unhealthy = result.pools.filter((p) => p.health !== 'ONLINE');
  if (unhealthy.length) throw new ChainInputError(`pools ${unhealthy.map((p) => `${p.name} (${p.health})`).join(', ')} are not ONLINE; repair them before seeding regions on them`);
  return {
    host: input.host,
    regions: result.pools.map((p, n) => ({ dir: regionDirOnPool(p.mountpoint, DSC_PORTS[n]), port: DSC_PORTS[n] })),
    ...given,
  };
}
