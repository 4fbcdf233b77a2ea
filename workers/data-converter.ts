import type { DataConverter } from '@temporalio/common';

/**
 * One data converter shared by the client, the workers and the replayer: a replay must decode a
 * history exactly as the worker that recorded it did. Default JSON today; a payload codec (for
 * example encryption) goes here and nowhere else.
 */
export const runbookDataConverter: DataConverter = {};
