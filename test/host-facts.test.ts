import type { RunbookResult } from '../workflows/engine/runbook';
import type { HostFacts } from '../activities/facts/host-facts';
import { closeTestClient, startRunbook } from './helpers/temporal';

afterAll(closeTestClient);

test('hostFacts collects typed facts from two lab hosts', async () => {
  const handle = await startRunbook('hostFacts', { hosts: ['node1', 'node2'] });
  const result = (await handle.result()) as RunbookResult<{ hosts: HostFacts[] }>;
  expect(result.outcome).toBe('succeeded');
  const [n1, n2] = result.value.hosts;
  expect(n1.hostname).toBe('node1');
  expect(n2.hostname).toBe('node2');
  expect(n1.kernel).toMatch(/^\d+\.\d+/);
  const root = n1.mounts.find((m) => m.target === '/');
  expect(root).toBeDefined();
  expect(n1.filesystems.length).toBeGreaterThan(0);
  for (const fs of n1.filesystems) expect(fs.usedBytes + fs.availBytes).toBeLessThanOrEqual(fs.sizeBytes + 1);
  expect(Array.isArray(n1.blockDevices)).toBe(true);
  expect(Array.isArray(n1.loopDevices)).toBe(true);
  // Its steps are quick (local activities on the workflow's worker): no activity task went through the server.
  const history = await handle.fetchHistory();
  expect((history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'collectHostFacts')).toHaveLength(0);
  expect((history.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(2);
  // every command is in the audit
  const commands = result.audit.steps.flatMap((s) => s.commands.map((c) => c.command));
  expect(commands).toEqual(expect.arrayContaining([expect.stringMatching(/^df -B1/), expect.stringMatching(/^findmnt -J/), expect.stringMatching(/^lsblk -J/)]));
});
