import type { RecordingCase } from './types';

// A sweep of the zfs-projects lab in one batch: the batch check, children under limits, refusals
// counted as failures with their reasons.
export const cases: RecordingCase[] = [
  {
    runbook: 'replicateProjects',
    name: 'completed',
    scenarios: ['zfs-projects'],
    input: () => ({ hosts: ['compute1', 'compute2', 'compute3'], concurrency: 4, batchSize: 100, maxFailures: 20 }),
    end: 'COMPLETED',
  },
];
