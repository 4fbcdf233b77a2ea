import { readFileSync } from 'node:fs';
import path from 'node:path';
import { waitForStepStart } from '../../test/helpers/history-watch';
import type { RecordingCase } from './types';

// seedRegions on the crucible lab: the example seeded on a fresh lab, the same input again (every
// region kept, nothing changed), and a run on other directories and ports cancelled as its create
// begins (the undo registered before the create removes what it made).
const example = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'runbooks', 'seedRegions', 'examples', 'lab.json'), 'utf8')) as {
  regions: Array<{ dir: string; port: number; uuid: string }>;
  [k: string]: unknown;
};

export const cases: RecordingCase[] = [
  { runbook: 'seedRegions', name: 'completed', scenarios: ['crucible'], input: () => example, end: 'COMPLETED' },
  { runbook: 'seedRegions', name: 'rerun-kept', scenarios: ['crucible'], input: () => example, end: 'COMPLETED' },
  {
    runbook: 'seedRegions',
    name: 'cancelled-during-create',
    scenarios: ['crucible'],
    input: (uniq) => ({
      ...example,
      regions: example.regions.map((r, i) => ({ dir: `/pool/disk${i}/region/rec-${uniq}`, port: 9110 + 10 * i })),
    }),
    drive: async (handle) => {
      await waitForStepStart(handle, 'create-regions');
      await handle.cancel();
    },
    end: 'CANCELLED',
  },
];
