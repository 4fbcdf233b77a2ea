// Every activity the runbooks worker registers. Workflows import these as types only.
export { describeHosts } from './engine';
export { collectHostFacts } from './facts/host-facts';
export { drillDo, drillUndo, drillTrue, drillFail, drillSettle, drillReadLog } from './drill/activities';
export * from './lvm';
export * from './objectService';
export * from './zfs-replication/activities';
export * from './propolis';
export * from './crucible';
export * from './maas';
