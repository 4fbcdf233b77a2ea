// ApplicationFailure types of the replication activities, for retry policies and tests.

/** The stream was cut or stopped (connection lost, cancelled, timed out): nothing was applied, a retry starts over. */
export const STREAM_INTERRUPTED = 'StreamInterrupted';
/** zfs recv failed in a way the same stream cannot fix (out of space). */
export const RECEIVE_FAILED = 'ReceiveFailed';
/** The replica changed between the inspection and the send (created or destroyed by someone else). */
export const REPLICA_VANISHED = 'ReplicaVanished';
/** A zfs command failed. */
export const ZFS_COMMAND_FAILED = 'ZfsCommandFailed';
