// Every activity the runbooks worker registers. Workflows import these as types only.
export { describeHosts } from './engine';
export { collectHostFacts } from './facts/host-facts';
export { drillDo, drillUndo, drillTrue, drillFail, drillReadLog } from './drill/activities';
export * from './zfs-replication/activities';
