// ZFS command building and parsing for the replication runbook: pure functions, no I/O.
// Everything here was checked against real zfs-fuse 0.7 output (test/fixtures/zfs/) and against
// the OpenZFS formats in shared/reference/zfs-replication.md.
export * from './names';
export * from './errors';
export * from './get';
export * from './list';
export * from './features';
export * from './common-snapshot';
export * from './stream-summary';
export * from './recv-errors';
export * from './commands';
