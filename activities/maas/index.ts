export { maasInspectMachine, maasRelease, maasCommission, maasDeploy, maasEvidence, maasEnsureScript, maasRestoreScript, maasAbortIfRunning, maasMarkBroken, maasInstallLog } from './machine';
export { hostPools, cloudInitWait, resolvePartitions, createPool, destroyPool, verifyPool } from './host';
