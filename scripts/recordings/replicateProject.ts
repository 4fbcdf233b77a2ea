import type { RecordingCase } from './types';

// replicateProject on the zfs-projects lab: a project replicated to both replicas (streams, ledger,
// holds, retention), and one whose replica lost every snapshot, refused without rollback.
export const cases: RecordingCase[] = [
  {
    runbook: 'replicateProject',
    name: 'completed',
    scenarios: ['zfs-projects'],
    input: () => ({ project: '91400a81-d68e-4a65-9051-7e7ffa49ff8b', source: 'compute1', replicas: ['compute2', 'compute3'] }),
    end: 'COMPLETED',
  },
  {
    runbook: 'replicateProject',
    name: 'refused-diverged',
    scenarios: ['zfs-projects'],
    input: () => ({ project: '9da5632c-eab9-4b51-9615-2b5cdedd4311', source: 'compute3', replicas: ['compute2', 'compute1'] }),
    end: 'FAILED',
  },
];
