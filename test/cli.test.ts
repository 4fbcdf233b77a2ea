import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, tsxCli } from './helpers/paths';
import { closeTestClient, waitForAudit } from './helpers/temporal';
import { startRunbook, testClient } from './helpers/temporal';
import { scenarios } from '../lab/scenarios';
import { catalog, examplesDir } from '../runbooks/catalog';
import { EXAMPLE_NEEDS, renderTour, tourStops } from '../cli/commands/tour';

afterAll(closeTestClient);

function runbook(...args: string[]): { code: number; stdout: string; stderr: string } {
  return runbookWithEnv(process.env, ...args);
}

function runbookWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [tsxCli, path.join(repoRoot, 'cli', 'main.ts'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000, env });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let hostFactsRun = '';

test('start --wait --json succeeds with exit 0 and prints the result', () => {
  const r = runbook('--json', 'start', 'hostFacts', '--input', 'runbooks/hostFacts/examples/lab.json', '--wait');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  hostFactsRun = out.workflowId;
  expect(out.status).toBe('COMPLETED');
  expect(out.value.hosts.map((h: { hostname: string }) => h.hostname)).toEqual(['node1', 'node2']);
});

test('bad input exits 2 before anything starts, listing every problem', () => {
  const r = runbook('start', 'hostFacts', '--input', '{"hosts":["BAD HOST"],"mode":"maybe"}');
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('hosts[0]: a host name');
  expect(r.stderr).toContain('mode:');
});

test('an unreachable Temporal (TEMPORAL_ADDRESS) is exit 3 with a clear message', () => {
  const r = spawnSync(process.execPath, [tsxCli, path.join(repoRoot, 'cli', 'main.ts'), 'list'], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
  });
  expect(r.status).toBe(3);
  expect(r.stderr).toContain('cannot reach Temporal at 127.0.0.1:1');
});

test('list filters by search attributes', () => {
  const r = runbook('--json', 'list', '--runbook', 'hostFacts', '--outcome', 'succeeded', '--limit', '3');
  expect(r.code).toBe(0);
  const rows = JSON.parse(r.stdout) as Array<{ type: string; outcome: string }>;
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) expect(row).toMatchObject({ type: 'hostFacts', outcome: 'succeeded' });
});

test('--input-from refuses, before anything starts, a run the chain has no link from (exit 2) and an unknown run (exit 4)', () => {
  // The links themselves are proven end to end by sled-chain.test.ts (seedRegions started with --input-from).
  expect(hostFactsRun).not.toBe('');
  const unlinked = runbook('start', 'seedRegions', '--input-from', hostFactsRun);
  expect([unlinked.code, unlinked.stderr]).toEqual([
    2,
    expect.stringContaining(`a hostFacts run cannot start seedRegions; the chain's links are maasRepartition → seedRegions, seedRegions → liveMigrate`),
  ]);
  const unknown = runbook('start', 'seedRegions', '--input-from', `no-such-run/${randomUUID()}`);
  expect([unknown.code, unknown.stderr]).toEqual([4, expect.stringContaining('no workflow with that id')]);
});

test('unknown runbook and non-JSON input are usage errors', () => {
  expect(runbook('start', 'noSuchRunbook', '--input', '{}').code).toBe(2);
  expect(runbook('start', 'hostFacts', '--input', '{not json').code).toBe(2);
});

test('a failed run exits 1; status, approve (refused), cancel and history behave for scripts', async () => {
  const dir = `/var/tmp/engine-drill/${randomUUID()}`;
  const id = `cli-test/${randomUUID()}`;
  const started = runbook('--json', 'start', 'engineDrill', '--id', id, '--input', JSON.stringify({ host: 'node1', dir, steps: 3, gatedSteps: ['step-2'] }));
  expect(started.code).toBe(0);
  expect(JSON.parse(started.stdout).workflowId).toBe(id);
  const handle = (await testClient()).workflow.getHandle(id);
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'step-2' && s.status === 'waiting-approval'));

  // The same id again while it runs (a tour command pasted twice, a guard its fixReadonlyData already
  // started): nothing starts, and the operator is told where the running one is, with no stack trace.
  const again = runbook('start', 'engineDrill', '--id', id, '--input', JSON.stringify({ host: 'node1', dir, steps: 3, gatedSteps: ['step-2'] }));
  expect([again.code, again.stdout]).toEqual([2, '']);
  expect(again.stderr).toContain(`runbook: ${id} is already running; nothing was started. Follow it with: npm run runbook -- status ${id}`);
  expect(again.stderr).not.toMatch(/\n\s+at /);

  const status = runbook('--json', 'status', id);
  expect(status.code).toBe(0);
  expect(JSON.parse(status.stdout).pendingApproval.step).toBe('step-2');

  const refused = runbook('approve', id, 'step-3', '--approver', 'ci');
  expect(refused.code).toBe(1);
  expect(refused.stdout).toContain('"step-3" is not waiting for approval');

  // Without --approver (and without $RUNBOOK_APPROVER) the approval names the OS user and host, never "unknown".
  const { RUNBOOK_APPROVER: _a, SUDO_USER: _s, ...env } = process.env;
  const approved = runbookWithEnv(env, '--json', 'approve', id, 'step-2', '--comment', 'ok');
  expect(approved.code).toBe(0);
  expect(JSON.parse(approved.stdout)).toEqual({ step: 'step-2', decision: 'approved', approver: `${os.userInfo().username}@${os.hostname()}` });
  const result = (await handle.result()) as { audit: { refusedApprovals: Array<Record<string, unknown>> } };
  // The refused attempt is in the audit AND in the history (the CLI signals it back), so a replay keeps it.
  expect(result.audit.refusedApprovals).toEqual([expect.objectContaining({ step: 'step-3', approver: 'ci', decision: 'approve', durable: true })]);
  const signals = ((await handle.fetchHistory()).events ?? []).map((e) => e.workflowExecutionSignaledEventAttributes?.signalName).filter(Boolean);
  expect(signals).toEqual(['approvalRefused']);

  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'history-')), 'h.json');
  const history = runbook('history', id, '--out', out);
  expect(history.code).toBe(0);
  expect(existsSync(out)).toBe(true);
  expect(JSON.parse(readFileSync(out, 'utf8')).events.length).toBeGreaterThan(5);

  const failing = runbook('start', 'engineDrill', '--wait', '--input', JSON.stringify({ host: 'node1', dir: `${dir}-f`, steps: 2, failAtStep: 2 }));
  expect(failing.code).toBe(1);
  expect(failing.stdout).toContain('FAILED: engineDrill failed at step step-2');

  expect(runbook('status', 'no-such-workflow-id').code).toBe(4);
});

test('a finished sweep that left a host unswept: status prints what needs an operator and exits 5, as start --wait does', async () => {
  // node1 (base lab) answers over SSH but has no ZFS pool: the sweep completes with node1 blocked,
  // reported as the host's own error (not as unreachable, which would send the operator after sshd
  // and suggest moving its projects). Started through the client (one CLI process less); `start
  // --wait` prints the same report, see replicate-sweep.test.ts.
  const id = `cli-test/sweep-${randomUUID()}`;
  const handle = await startRunbook('replicateProjects', { hosts: ['node1'] }, { workflowId: id });
  await handle.result();
  const status = runbook('status', id);
  expect(status.stderr).toBe('');
  expect(status.code).toBe(5);
  expect(status.stdout).toContain(`${id} (replicateProjects): COMPLETED`);
  expect(status.stdout).toContain('totals: scheduled 0, replicated 0, unchanged 0, refused 0, failed 0');
  expect(status.stdout).toContain('NEEDS AN OPERATOR (1):');
  expect(status.stdout).toMatch(/BLOCKED node1: its projects were not swept: the host answered, with an error: zfs get over projects exited 1: .*zfs-fuse daemon/);
  expect(status.stdout).not.toContain('unreachable');
  expect(status.stdout).toContain('remedy: fix what the error says on node1');
  expect(status.stdout).toContain('no reason to move its projects');
  expect(status.stdout).toContain(`${id}: completed, but 1 target NEED AN OPERATOR (exit 5)`);
});

test('cancel requests cancellation and the run compensates', async () => {
  const dir = `/var/tmp/engine-drill/${randomUUID()}`;
  const id = `cli-test/${randomUUID()}`;
  expect(runbook('start', 'engineDrill', '--id', id, '--input', JSON.stringify({ host: 'node1', dir, steps: 3, gatedSteps: ['step-3'] })).code).toBe(0);
  const handle = (await testClient()).workflow.getHandle(id);
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'step-3' && s.status === 'waiting-approval'));
  const r = runbook('cancel', id, '--wait');
  expect(r.code).toBe(0);
  expect((await handle.describe()).status.name).toBe('CANCELLED');
});

test('an unknown lab scenario is a usage error (exit 2) naming the known ones, with no stack trace', () => {
  const known = Object.keys(scenarios);
  for (const args of [
    ['lab', 'up', '--scenario', 'no-such-scenario'],
    ['lab', 'check', 'no-such-scenario'],
    ['dev', '--scenario', 'no-such-scenario'],
  ]) {
    const r = runbook(...args);
    expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
    expect(r.stderr).toContain(`unknown lab scenario no-such-scenario; known scenarios: ${known.join(', ')}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  }
});

test("the npm start tour has one copy-paste command per catalog runbook, the real job first, each with its run's UI link, each after the run its example needs", () => {
  const stops = tourStops(catalog, { uiUrl: 'http://127.0.0.1:8233', stamp: '20261203T090000Z', repoRoot, examplesDir });
  // Every runbook in the catalog, once: one without a lab example would be left out of the tour.
  expect(stops.map((s) => s.runbook).sort()).toEqual(catalog.map((e) => e.name).sort());
  expect(stops[0].runbook).toBe('fixReadonlyData');
  for (const s of stops) {
    const input = JSON.parse(readFileSync(path.join(repoRoot, /--input (\S+)/.exec(s.command)![1]), 'utf8')) as Record<string, unknown>;
    const entry = catalog.find((e) => e.name === s.runbook)!;
    expect([s.runbook, entry.schema.safeParse(input).success]).toEqual([s.runbook, true]);
    // The link names the run the command starts: its lock id, or the id the command passes.
    expect(s.workflowId).toBe(entry.workflowId?.(input) ?? /--id (\S+)/.exec(s.command)?.[1]);
    expect(s.uiLink).toBe(`http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(s.workflowId)}`);
  }
  // On a fresh lab liveMigrate's example finds no regions (its inspect-regions fails): it comes after
  // the seedRegions stop that seeds them, and says so; every declared need points at an earlier stop.
  const at = (name: string) => stops.findIndex((s) => s.runbook === name);
  expect(at('liveMigrate')).toBeGreaterThan(at('seedRegions'));
  expect(stops[at('liveMigrate')].after).toMatchObject({ stop: at('seedRegions') + 1, runbook: 'seedRegions' });
  for (const [runbook, need] of Object.entries(EXAMPLE_NEEDS)) {
    expect(stops[at(runbook)].after).toEqual({ stop: at(need.runbook) + 1, runbook: need.runbook, why: need.why });
  }
  for (const s of stops.filter((x) => !EXAMPLE_NEEDS[x.runbook])) expect([s.runbook, s.after]).toEqual([s.runbook, null]);
  const text = renderTour(stops).join('\n');
  expect(text).toMatch(/^ 1\. fixReadonlyData: /m);
  expect(text).toContain(`${stops.length}. `);
  expect(text).toContain(`${at('liveMigrate') + 1}. liveMigrate: ${catalog.find((e) => e.name === 'liveMigrate')!.summary}\n      after ${at('seedRegions') + 1} (seedRegions) has finished: `);
});
