import type { LabScenario } from '../types';
import { buildPropolisSled } from './build';
import { checkPropolisSled } from './check';
import { PROPOLIS_SLEDS } from './layout';

// Scenario propolis: seed 004's two propolis servers (sled-a, sled-b), for a VM whose boot disk is
// served by the crucible scenario's downstairs (bring both up: --scenario crucible --scenario propolis).

export const propolisScenario: LabScenario = {
  name: 'propolis',
  description: 'seed 004: two sleds (sled-a 127.0.0.51, sled-b 127.0.0.52) each running a propolis-server emulator (API 5.0.0) on 12400; use with the crucible scenario',
  hosts: PROPOLIS_SLEDS,
  build: (ctx) => buildPropolisSled(ctx),
  check: (ctx) => checkPropolisSled(ctx),
};

export * from './layout';
export { judgeLiveMigration, type MigrationJudgement } from './check';
export { seedBootRegions } from './seed';
