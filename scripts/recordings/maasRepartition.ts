import { readFileSync } from 'node:fs';
import path from 'node:path';
import { examplesDir } from '../../runbooks/catalog';
import { decide, waitForApprovalGate } from './drive';
import type { RecordingCase } from './types';

// maasRepartition on the maas lab (region emulator + proper-raptor). Order matters: the release is
// rejected first (nothing changes), then a full run repartitions the machine, then loop-file pools
// go on the deployed host next to the partition pools.
const example = (): Record<string, unknown> => {
  const { approve: _preApproved, ...input } = JSON.parse(readFileSync(path.join(examplesDir('maasRepartition'), 'lab.json'), 'utf8')) as Record<string, unknown>;
  return { ...input, pollInterval: '200ms' };
};

const rejectRelease: RecordingCase['drive'] = async (h) => {
  await waitForApprovalGate(h, 'release');
  await decide(h, 'release', 'reject', 'recorder', 'not this week');
};

export const cases: RecordingCase[] = [
  {
    // A disk the machine does not have: refused right after the read-only inspection, every problem listed.
    runbook: 'maasRepartition',
    name: 'refused-after-inspect',
    scenarios: ['maas'],
    input: () => ({ ...example(), disk: 'sdb' }),
    end: 'FAILED',
  },
  {
    // Since 7936d81 the upload's undo follows what inspect-machine found before the run (the script's
    // text); release-rejected.json, recorded before, keeps the older rule replaying.
    runbook: 'maasRepartition',
    name: 'release-rejected-undo-from-inspect',
    scenarios: ['maas'],
    input: example,
    drive: rejectRelease,
    end: 'FAILED',
  },
  {
    runbook: 'maasRepartition',
    name: 'release-rejected',
    scenarios: ['maas'],
    input: example,
    drive: rejectRelease,
    end: 'FAILED',
  },
  {
    runbook: 'maasRepartition',
    name: 'completed',
    scenarios: ['maas'],
    input: example,
    drive: async (h) => {
      await waitForApprovalGate(h, 'release');
      await decide(h, 'release', 'approve', 'recorder', 'maintenance window');
    },
    end: 'COMPLETED',
  },
  {
    runbook: 'maasRepartition',
    name: 'loop-files',
    scenarios: ['maas'],
    input: () => ({
      ...example(),
      strategy: 'loop-files',
      pools: [1, 2].map((n) => ({ name: `scratch${n}`, mountpoint: `/var/lib/crucible-pools/mnt/scratch${n}` })),
      loopFiles: { dir: '/var/lib/crucible-pools', size: '200M' },
    }),
    end: 'COMPLETED',
  },
];
