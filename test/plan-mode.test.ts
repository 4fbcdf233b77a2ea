import { randomUUID } from 'node:crypto';
import type { RunbookResult } from '../workflows/engine/runbook';
import { drillDoCommand } from '../activities/drill/commands';
import { readHostFile } from './helpers/lab-host';
import { closeTestClient, scheduledActivityTypes, startRunbook } from './helpers/temporal';

afterAll(closeTestClient);

// Activities that only read. Anything else in a plan run's history is a defect.
const READ_ONLY = new Set(['describeHosts', 'drillReadLog', 'collectHostFacts']);

test('plan mode schedules no mutating activity and returns the exact commands', async () => {
  const dir = `/var/tmp/engine-drill/${randomUUID()}`;
  const handle = await startRunbook('engineDrill', { host: 'node1', dir, steps: 3, gatedSteps: ['step-2'], mode: 'plan' });
  const result = (await handle.result()) as RunbookResult<unknown>;
  expect(result.outcome).toBe('planned');
  expect(result.planned.map((p) => p.step)).toEqual(['step-1', 'step-2', 'step-3']);
  expect(result.planned[0].commands).toEqual([drillDoCommand(dir, 1, 0).display]);
  expect(result.planned[1].description).toContain('needs approval');
  const types = await scheduledActivityTypes(handle);
  expect(types.length).toBeGreaterThan(0);
  expect(types.filter((t) => !READ_ONLY.has(t))).toEqual([]);
  expect(await readHostFile('node1', `${dir}/log`)).toBe('');
});
