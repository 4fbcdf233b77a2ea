// The propolis-server emulator's API for the lab and for tests.
export { buildPropolisEmulator, PROPOLIS_BUNDLE } from './build';
export { startPropolisEmulator, type PropolisEmulator, type ServerOptions } from './server';
export { faultsSchema, type Faults } from './faults';
export { SOURCE_PHASES, DESTINATION_PHASES, INSTANCE_STATES, MIGRATION_STATES, parseVcr, type InstanceState, type MigrationState, type VolumeVcr } from './api-types';
export { HEARTBEAT_MS } from './guest';
export { API_VERSION } from './dropshot';
