// Every runbook workflow. The worker bundles this file; the exported names are the workflow types
// that the CLI, scripts and the Web UI's Start Workflow form use.
export { hostFacts } from './hostFacts';
export { engineDrill } from './engineDrill';
export { fixReadonlyData } from './fixReadonlyData';
export { autoGrowGuard } from './autoGrowGuard';
export * from './replication';
export { liveMigrate } from './liveMigrate';
export { seedRegions } from './seedRegions';
export { maasRepartition } from './maasRepartition';
