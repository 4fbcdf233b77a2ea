// MAAS's numeric codes as its API reports them (reference: domain-apis.md C3, maas-runbook.md §2).

export const NODE_STATUS = {
  NEW: 0,
  COMMISSIONING: 1,
  FAILED_COMMISSIONING: 2,
  MISSING: 3,
  READY: 4,
  RESERVED: 5,
  DEPLOYED: 6,
  RETIRED: 7,
  BROKEN: 8,
  DEPLOYING: 9,
  ALLOCATED: 10,
  FAILED_DEPLOYMENT: 11,
  RELEASING: 12,
  FAILED_RELEASING: 13,
  DISK_ERASING: 14,
  FAILED_DISK_ERASING: 15,
  RESCUE_MODE: 16,
  ENTERING_RESCUE_MODE: 17,
  FAILED_ENTERING_RESCUE_MODE: 18,
  EXITING_RESCUE_MODE: 19,
  FAILED_EXITING_RESCUE_MODE: 20,
  TESTING: 21,
  FAILED_TESTING: 22,
} as const;

export const NODE_STATUS_NAME: Record<number, string> = {
  0: 'New',
  1: 'Commissioning',
  2: 'Failed commissioning',
  3: 'Missing',
  4: 'Ready',
  5: 'Reserved',
  6: 'Deployed',
  7: 'Retired',
  8: 'Broken',
  9: 'Deploying',
  10: 'Allocated',
  11: 'Failed deployment',
  12: 'Releasing',
  13: 'Releasing failed',
  14: 'Disk erasing',
  15: 'Failed disk erasing',
  16: 'Rescue mode',
  17: 'Entering rescue mode',
  18: 'Failed to enter rescue mode',
  19: 'Exiting rescue mode',
  20: 'Failed to exit rescue mode',
  21: 'Testing',
  22: 'Failed testing',
};

export const SCRIPT_STATUS = {
  PENDING: 0,
  RUNNING: 1,
  PASSED: 2,
  FAILED: 3,
  TIMEDOUT: 4,
  ABORTED: 5,
  DEGRADED: 6,
  INSTALLING: 7,
  FAILED_INSTALLING: 8,
  SKIPPED: 9,
  APPLYING_NETCONF: 10,
  FAILED_APPLYING_NETCONF: 11,
} as const;

export const SCRIPT_STATUS_NAME: Record<number, string> = {
  [-1]: 'Unknown',
  0: 'Pending',
  1: 'Running',
  2: 'Passed',
  3: 'Failed',
  4: 'Timed out',
  5: 'Aborted',
  6: 'Degraded',
  7: 'Installing',
  8: 'Failed installing',
  9: 'Skipped',
  10: 'Applying custom network configuration',
  11: 'Failed to apply custom network configuration',
};

export const SCRIPT_STATUS_FAILED: readonly number[] = [3, 4, 8, 11];
export const SCRIPT_STATUS_RUNNING: readonly number[] = [1, 7, 10];

/** Script types as `type` on upload and `script_type` in embedded metadata. */
export const SCRIPT_TYPE: Record<string, number> = { commissioning: 0, testing: 2, test: 2, release: 3 };
export const SCRIPT_TYPE_NAME: Record<number, string> = { 0: 'Commissioning script', 2: 'Testing script', 3: 'Release script' };
/** Result set types (RESULT_TYPE): what `results/?type=` takes. */
export const RESULT_TYPE: Record<string, number> = { commissioning: 0, installation: 1, testing: 2, release: 3 };
export const RESULT_TYPE_NAME: Record<number, string> = { 0: 'Commissioning', 1: 'Installation', 2: 'Testing', 3: 'Release' };
export const HARDWARE_TYPE: Record<string, number> = { node: 0, machine: 0, cpu: 1, processor: 1, memory: 2, storage: 3, network: 4, gpu: 5 };
export const HARDWARE_TYPE_NAME: Record<number, string> = { 0: 'Node', 1: 'CPU', 2: 'Memory', 3: 'Storage', 4: 'Network', 5: 'GPU' };
export const PARALLEL: Record<string, number> = { disabled: 0, none: 0, instance: 1, name: 1, any: 2 };
export const PARALLEL_NAME: Record<number, string> = { 0: 'Disabled', 1: 'Run along other instances of this script', 2: 'Run along any other script.' };

export const EVENT_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL', 'AUDIT'] as const;
export type EventLevel = (typeof EVENT_LEVELS)[number];
/** Level order for `level=` (at least this level). AUDIT is its own bucket in MAAS; here it ranks with INFO. */
export const LEVEL_RANK: Record<EventLevel, number> = { DEBUG: 10, INFO: 20, AUDIT: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };
