import type { ChainSource } from './chain';
import { liveMigrateInputFromSeedRegions } from './liveMigrate/from-seed-regions';
import { seedRegionsInputFromMaasRepartition } from './seedRegions/from-maas-repartition';

// Which runbook's result can start which runbook (runbooks/chain.ts), for `runbook start --input-from`.

export interface ChainLink {
  from: string;
  to: string;
  map(from: ChainSource, given: Record<string, unknown>): Record<string, unknown>;
}

export const CHAIN_LINKS: ChainLink[] = [
  { from: 'maasRepartition', to: 'seedRegions', map: seedRegionsInputFromMaasRepartition },
  { from: 'seedRegions', to: 'liveMigrate', map: liveMigrateInputFromSeedRegions },
];

export function chainLink(from: string, to: string): ChainLink | undefined {
  return CHAIN_LINKS.find((l) => l.from === from && l.to === to);
}
