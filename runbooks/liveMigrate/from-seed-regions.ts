import { z } from 'zod';
import { absolutePathSchema, hostNameSchema } from '../../common/identifiers';
import { readSource, resultValue, type ChainSource } from '../chain';

// seedRegions → liveMigrate: the regions' storage host (from the seedRegions run's input) and the
// seedRegions result as it came out (`regions.seedRegions`; liveMigrate reads the regions' dirs and
// ports from it and the geometry and gens from the regions themselves). The servers, the VM and its
// disk come from the operator (`given`), which overrides anything mapped.

const seedInput = z.object({ host: hostNameSchema }).loose();
const seedResult = z.object({ targets: z.array(z.string()).length(3), regions: z.array(z.object({ dir: absolutePathSchema, port: z.number().int() }).loose()).length(3) }).loose();

export function liveMigrateInputFromSeedRegions(from: ChainSource, given: Record<string, unknown> = {}): Record<string, unknown> {
  const input = readSource("the seedRegions run's input", seedInput, from.input);
  const result = readSource("the seedRegions run's result", seedResult, resultValue(from.result));
  return { regions: { host: input.host, seedRegions: result }, ...given };
}
