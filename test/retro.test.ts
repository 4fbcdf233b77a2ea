/// <reference lib="dom" />
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HistoryDecoder } from '../cli/history/decode';
import { parseHistoryFile } from '../cli/history/load';
import { buildRetro, renderHtml, renderMarkdown, retroFromHistory, type Retro } from '../cli/retro';
import { buildRetroFromEventsOnly } from '../cli/retro/build';
import { archiveClosedRuns, defaultArchiveDir } from '../workers/archiver';
import { runbookDataConverter } from '../workers/data-converter';
import { approveUpdate } from '../workflows/engine/messages';
import { artifactsDir, launchChromium } from './helpers/chromium';
import { historyFacts } from './helpers/history-facts';
import { repoRoot, tsxCli } from './helpers/paths';
import { closeTestClient, startRunbook, testClient, waitForAudit } from './helpers/temporal';

// A retrospective is built from a history alone. Each recorded history's retro is checked against
// facts read straight from the history JSON (test/helpers/history-facts.ts), not against the retro
// code's own reading of it.

const historiesDir = path.join(repoRoot, 'test', 'histories');
const historyFiles = readdirSync(historiesDir)
  .flatMap((runbook) => readdirSync(path.join(historiesDir, runbook)).map((f) => path.join(runbook, f)))
  .filter((f) => f.endsWith('.json'))
  .sort();

const retros = new Map<string, Retro>();
async function retroOf(file: string): Promise<Retro> {
  let r = retros.get(file);
  if (!r) {
    r = await retroFromHistory(parseHistoryFile(path.join(historiesDir, file)).history, file, runbookDataConverter);
    retros.set(file, r);
  }
  return r;
}

function runbookCli(...args: string[]) {
  const r = spawnSync(process.execPath, [tsxCli, path.join(repoRoot, 'cli', 'main.ts'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const CLOSE_STATUS: Record<string, Retro['status']> = { COMPLETED: 'completed', FAILED: 'failed', CANCELED: 'cancelled', TERMINATED: 'terminated', TIMED_OUT: 'timed-out' };

afterAll(closeTestClient);

describe.each(historyFiles)('the retrospective of %s', (file) => {
  test('agrees with the history: status, outcome, steps, attempts, approvals, compensations, cancellation', async () => {
    const facts = historyFacts(path.join(historiesDir, file));
    const r = await retroOf(file);
    expect(r.status).toBe(facts.closeType ? CLOSE_STATUS[facts.closeType] : 'running');
    expect(r.outcome).toBe(facts.outcome);
    expect(r.history.events).toBe(facts.events.length);
    if (facts.failureMessage) expect(r.error).toBe(facts.failureMessage);

    // Every step the engine began (it upserts RunbookStep for each, compensations excepted), in order.
    expect(r.steps.filter((s) => s.kind !== 'compensate').map((s) => s.name)).toEqual(facts.stepUpserts);
    // Each attempt of a step that runs an activity is one act activity the engine tagged with the
    // step's number (a step that is workflow code alone has its attempts in the audit log only).
    for (const s of r.steps) {
      const acts = facts.activitySummaries.filter((t) => t.startsWith(`#${s.seq} `) && !t.endsWith(' · verify'));
      const expected = acts.length || (facts.audit?.steps.find((a) => a.seq === s.seq)?.attempts.length ?? 0);
      expect({ step: `${s.seq} ${s.name}`, attempts: s.attempts.length }).toEqual({ step: `${s.seq} ${s.name}`, attempts: expected });
    }
    const compensations = [...new Set(facts.activitySummaries.filter((t) => t.includes(' · compensate · ')).map((t) => t.split(' ')[1]))];
    expect(r.steps.filter((s) => s.kind === 'compensate').map((s) => s.name)).toEqual(compensations);

    // Approvals: each accepted `approve` update, and each approval wait that timed out.
    const decided = r.approvals.filter((a) => a.decision === 'approved' || a.decision === 'rejected');
    expect(decided.map((a) => ({ step: a.step, decision: a.decision === 'approved' ? 'approve' : 'reject', approver: a.approver, comment: a.comment }))).toEqual(
      facts.approveUpdates.map((u) => ({ step: u.step, decision: u.decision, approver: u.approver, comment: u.comment })),
    );
    expect(r.approvals.filter((a) => a.decision === 'timed-out')).toHaveLength(facts.approvalTimeouts);
    expect(Boolean(r.cancellation)).toBe(facts.cancelRequested);

    // Where the run carries the engine's audit log, the retro is built from it and says so.
    expect(r.source).toBe(facts.audit ? 'audit' : 'events');
    if (facts.audit) {
      expect(r.steps.map((s) => [s.seq, s.name, s.status, s.attempts.length])).toEqual(facts.audit.steps.map((s) => [s.seq, s.name, s.status, s.attempts.length]));
      expect(r.refusedApprovals.map((a) => a.step)).toEqual(facts.audit.refusedApprovals.map((a) => a.step));
    }
  });

  test('renders to markdown and HTML with every step, and one timeline bar per attempt', async () => {
    const r = await retroOf(file);
    const md = renderMarkdown(r);
    const html = renderHtml(r);
    expect(md).toContain(`# Retrospective: ${r.runbook}`);
    expect(md).toContain('## Input');
    for (const s of r.steps) {
      expect(md).toContain(`### ${s.seq}. `);
      expect(html).toContain(`id="step-${s.seq}"`);
    }
    const attempts = r.steps.reduce((n, s) => n + s.attempts.length, 0);
    expect(html.match(/class="attempt"/g) ?? []).toHaveLength(attempts);
    expect(html.match(/class="approval-wait"/g) ?? []).toHaveLength(r.steps.filter((s) => s.approvalWait).length);
    expect(html).not.toMatch(/<script/i);
  });
});

test("rebuilt from the events alone, each retro matches the engine's own audit log", async () => {
  // Cancelled and running runs carry no audit log: this is the path their retros take, checked on
  // every run that does carry one.
  let compared = 0;
  for (const file of historyFiles) {
    const events = await new HistoryDecoder(runbookDataConverter).history(parseHistoryFile(path.join(historiesDir, file)).history);
    const fromAudit = buildRetro(events, file);
    if (fromAudit.source !== 'audit') continue;
    const fromEvents = buildRetroFromEventsOnly(events, file);
    expect(fromEvents.source).toBe('events');
    // Steps that schedule nothing (plan mode, workflow code alone) show in the events by name only.
    const seen = new Set(fromEvents.steps.filter((s) => s.attempts.length || s.approvalWait).map((s) => s.seq));
    // In plan mode a step that scheduled nothing is either a planned mutation or an inspect whose work
    // was workflow code alone (maasRepartition's decide): the events cannot tell which, so the retro
    // shows both as planned and only the audit log knows better.
    const planRun = fromAudit.steps.some((s) => s.status === 'planned');
    const shape = (r: Retro) =>
      r.steps.map((s) => ({
        file,
        seq: s.seq,
        name: s.name,
        status: planRun && !seen.has(s.seq) && s.status === 'completed' ? 'planned' : s.status,
        ...(seen.has(s.seq)
          ? {
              kind: s.kind,
              host: s.host,
              attempts: s.attempts.map((a) => a.error?.message ?? 'ok'),
              exitCodes: s.commands.map((c) => c.exitCode),
              approval: s.approval && { decision: s.approval.decision, approver: s.approval.approver, comment: s.approval.comment },
            }
          : {}),
      }));
    expect(shape(fromEvents)).toEqual(shape(fromAudit));
    compared++;
  }
  expect(compared).toBeGreaterThanOrEqual(6);
});

describe('what each engine path looks like in a retrospective', () => {
  test('approved, with a refused approval first', async () => {
    const r = await retroOf('engineDrill/approved.json');
    expect(r.approvals).toEqual([expect.objectContaining({ step: 'step-2', decision: 'approved', approver: 'alice', comment: 'change window CHG-1234 is open' })]);
    expect(r.refusedApprovals).toEqual([expect.objectContaining({ step: 'step-3', approver: 'mallory', reason: 'step "step-3" is not waiting for approval; "step-2" is' })]);
    const md = renderMarkdown(r);
    expect(md).toMatch(/\| step-2 \| approved \| alice \|/);
    expect(md).toContain('mallory tried to approve **step-3**');
  });

  test('rejected: the run fails and what was done is undone', async () => {
    const r = await retroOf('engineDrill/rejected.json');
    expect(r).toMatchObject({ status: 'failed', outcome: 'failed' });
    expect(r.approvals).toEqual([expect.objectContaining({ step: 'step-2', decision: 'rejected', approver: 'bob', comment: 'not during peak hours' })]);
    expect(r.steps.filter((s) => s.kind === 'compensate')).toEqual([expect.objectContaining({ name: 'undo-step-1', compensates: 'step-1', status: 'completed' })]);
    expect(r.error).toContain('step "step-2" was rejected by bob: not during peak hours');
  });

  test('approval timed out', async () => {
    const r = await retroOf('engineDrill/approval-timed-out.json');
    expect(r.approvals).toEqual([expect.objectContaining({ step: 'step-2', decision: 'timed-out' })]);
    expect(r.approvals[0].waitedMs).toBeGreaterThanOrEqual(2000);
  });

  test('a failed command: its exit code and output tail, then compensations newest first', async () => {
    const r = await retroOf('engineDrill/failed-compensated.json');
    const failed = r.steps.find((s) => s.name === 'step-3')!;
    expect(failed.status).toBe('failed');
    expect(failed.commands).toEqual([expect.objectContaining({ exitCode: 3, stderrTail: expect.stringContaining('step 3 fails on purpose') })]);
    expect(failed.attempts).toEqual([expect.objectContaining({ error: expect.objectContaining({ type: 'DrillFailure' }) })]);
    expect(r.steps.filter((s) => s.kind === 'compensate').map((s) => s.compensates)).toEqual(['step-2', 'step-1']);
    expect(renderMarkdown(r)).toContain('→ **exit 3**');
  });

  test('retried: every attempt with its error, and the waits between them', async () => {
    const r = await retroOf('hostFacts/retried-then-failed.json');
    const down = r.steps.find((s) => s.host === 'down-host')!;
    expect(down.status).toBe('failed');
    expect(down.attempts).toHaveLength(5);
    for (const a of down.attempts) expect(a.error?.message).toMatch(/cannot connect to down-host .*ECONNREFUSED/);
    expect(down.backoffs).toHaveLength(4);
    expect(r.steps.find((s) => s.host === 'node1')!.status).toBe('completed');
  });

  test('cancelled while waiting for approval: rebuilt from events, with the cancellation and the compensations', async () => {
    const r = await retroOf('engineDrill/cancelled.json');
    expect(r).toMatchObject({ status: 'cancelled', outcome: 'cancelled', source: 'events' });
    expect(r.cancellation?.requestedAt).toBeDefined();
    expect(r.steps.find((s) => s.name === 'step-3')).toMatchObject({ status: 'cancelled', approval: { decision: 'abandoned' } });
    expect(r.steps.filter((s) => s.kind === 'compensate').map((s) => [s.name, s.status])).toEqual([
      ['undo-step-2', 'completed'],
      ['undo-step-1', 'completed'],
    ]);
    expect(r.notes.join(' ')).toMatch(/Rebuilt from the history's events/);
    expect(renderMarkdown(r)).toContain('## Cancellation');
  });

  test('cancelled mid-step: the running attempt is cancelled and only finished steps are undone', async () => {
    const r = await retroOf('engineDrill/cancelled-mid-step.json');
    const step2 = r.steps.find((s) => s.name === 'step-2')!;
    expect(step2.status).toBe('cancelled');
    expect(step2.attempts.at(-1)?.error?.type).toMatch(/Cancel/);
    expect(r.steps.filter((s) => s.kind === 'compensate').map((s) => s.compensates)).toEqual(['step-1']);
  });

  test('still running: the step waiting for approval, and no end', async () => {
    const r = await retroOf('engineDrill/running-waiting-approval.json');
    expect(r).toMatchObject({ status: 'running', outcome: 'running', endedAt: undefined });
    expect(r.steps.find((s) => s.name === 'step-2')).toMatchObject({ status: 'waiting-approval', approval: { decision: 'pending' } });
    expect(renderMarkdown(r)).toContain('still running');
  });

  test('plan mode: the planned mutations with their commands', async () => {
    const r = await retroOf('engineDrill/plan.json');
    expect(r.mode).toBe('plan');
    expect(r.planned.map((p) => p.step)).toEqual(['step-1', 'step-2', 'step-3']);
    expect(renderMarkdown(r)).toContain('## Planned mutations');
  });

  test('bad input: the failure lists every problem and no step ran', async () => {
    const r = await retroOf('hostFacts/bad-input.json');
    expect(r.steps).toEqual([]);
    expect(r.error).toMatch(/invalid input for hostFacts: \d+ problems?/);
  });
});

test('anything that looks like a secret is redacted from the input and the command output', async () => {
  const events = await new HistoryDecoder(runbookDataConverter).history(parseHistoryFile(path.join(historiesDir, 'engineDrill/completed.json')).history);
  const started = events[0].started!;
  started.input = [{ ...(started.input[0] as object), apiKey: 'AKIA-very-secret', notes: 'password=hunter2 and token: abc123' }];
  const last = events.at(-1)!;
  const result = last.result as { audit: { steps: Array<{ commands: Array<{ stdoutTail: string }> }> } };
  result.audit.steps[1].commands[0].stdoutTail = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\n';
  const r = buildRetro(events, 'synthetic');
  const text = renderMarkdown(r) + renderHtml(r);
  for (const secret of ['AKIA-very-secret', 'hunter2', 'abc123', 'b3BlbnNzaC1rZXk']) expect(text).not.toContain(secret);
  expect(r.input).toMatchObject({ apiKey: '***', notes: 'password=*** and token: ***' });
});

test('the HTML retrospective renders in Chromium: timeline bars and tables as the model says', async () => {
  const { context, close } = await launchChromium();
  try {
    const page = await context.newPage();
    for (const file of [
      'engineDrill/approved.json',
      'engineDrill/cancelled.json',
      'engineDrill/failed-compensated.json',
      'engineDrill/running-waiting-approval.json',
      'hostFacts/retried-then-failed.json',
    ]) {
      const r = await retroOf(file);
      await page.setContent(renderHtml(r), { waitUntil: 'load' });
      const seen = await page.evaluate(() => ({
        attempts: document.querySelectorAll('svg.timeline rect.attempt').length,
        waits: document.querySelectorAll('svg.timeline rect.approval-wait').length,
        cancel: document.querySelectorAll('svg.timeline .cancel-line').length,
        rows: document.querySelectorAll('#steps tr[data-seq]').length,
        status: document.querySelector('#run-status')?.textContent ?? '',
        timelineWidth: document.querySelector('svg.timeline')?.getBoundingClientRect().width ?? 0,
      }));
      expect(seen).toEqual({
        attempts: r.steps.reduce((n, s) => n + s.attempts.length, 0),
        waits: r.steps.filter((s) => s.approvalWait).length,
        cancel: r.cancellation ? 1 : 0,
        rows: r.steps.length,
        status: expect.stringContaining(r.status),
        timelineWidth: expect.any(Number),
      });
      expect(seen.timelineWidth).toBeGreaterThan(500);
      await page.screenshot({ path: path.join(artifactsDir, `retro-${file.replace(/[/.]/g, '-')}.png`), fullPage: true });
    }
  } finally {
    await close();
  }
});

describe('from a live run', () => {
  test('`runbook retro <workflow-id>` on a run waiting for approval, then after it was cancelled, then from the archive', async () => {
    const id = `retro-test/${randomUUID()}`;
    const handle = await startRunbook('engineDrill', { host: 'node1', dir: `/var/tmp/engine-drill/${randomUUID()}`, steps: 3, gatedSteps: ['step-3'] }, { workflowId: id });
    await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'step-3' && s.status === 'waiting-approval'));

    const running = runbookCli('--json', 'retro', id);
    expect(running.code).toBe(0);
    const live = JSON.parse(running.stdout) as Retro;
    expect(live.status).toBe('running');
    expect(live.steps.map((s) => [s.name, s.status])).toEqual([
      ['resolve-hosts', 'completed'],
      ['step-1', 'completed'],
      ['step-2', 'completed'],
      ['step-3', 'waiting-approval'],
    ]);

    // two refused approvals (one from the UI's Update form, which leaves no trace in the history; one
    // through `runbook approve`, which reports it back as a signal), then the cancellation
    await expect(handle.executeUpdate(approveUpdate, { args: [{ step: 'step-1', decision: 'approve', approver: 'eve' }] })).rejects.toThrow();
    const refused = runbookCli('approve', id, 'step-2', '--approver', 'mallory');
    expect(refused.code).not.toBe(0);
    await handle.cancel();
    await handle.result().catch(() => undefined);

    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'retro-')), 'retro.html');
    const written = runbookCli('retro', id, '--format', 'html', '--out', out);
    expect(written.code).toBe(0);
    expect(written.stdout).toContain(`(cancelled) to ${out}`);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('undo-step-2');
    expect(html).toContain('cancel requested');
    // Rebuilt from events (a cancelled run's history has no audit log), with the signalled refusal.
    const cancelled = JSON.parse(runbookCli('--json', 'retro', id).stdout) as Retro;
    expect(cancelled.source).toBe('events');
    expect(cancelled.refusedApprovals.map((r) => [r.step, r.approver, r.durable])).toEqual([['step-2', 'mallory', true]]);
    expect(cancelled.refusedApprovals[0].reason).toContain('"step-3" is');

    // The worker's archiver (started by workers/main.ts) exports the ended run's history.
    const dir = path.join(defaultArchiveDir, 'engineDrill');
    const safeId = id.replace(/[^A-Za-z0-9._-]+/g, '_');
    let archived: string | undefined;
    for (let i = 0; i < 100 && !archived; i++) {
      archived = existsSync(dir) ? readdirSync(dir).find((f) => f.includes(safeId)) : undefined;
      if (!archived) await new Promise((r) => setTimeout(r, 200));
    }
    expect(archived).toBeDefined();
    const fromArchive = runbookCli('--json', 'retro', path.join(dir, archived!));
    expect(fromArchive.code).toBe(0);
    const a = JSON.parse(fromArchive.stdout) as Retro;
    expect(a.workflowId).toBe(id);
    expect(a.steps.map((s) => [s.name, s.status])).toEqual([
      ['resolve-hosts', 'completed'],
      ['step-1', 'completed'],
      ['step-2', 'completed'],
      ['step-3', 'cancelled'],
      ['undo-step-2', 'completed'],
      ['undo-step-1', 'completed'],
    ]);
  });

  test('archiveClosedRuns writes each ended run once, replayable and readable', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'archive-'));
    // Without a checkpoint the archiver exports everything the server keeps (24 h): start from now.
    const checkpoint = JSON.stringify({ closedSince: new Date(Date.now() - 1000).toISOString() });
    writeFileSync(path.join(dir, '.checkpoint.json'), checkpoint);
    try {
      const handle = await startRunbook('hostFacts', { hosts: ['node1'] });
      await handle.result();
      const client = await testClient();
      const first = await archiveClosedRuns(client, dir);
      const mine = first.filter((f) => f.includes(handle.workflowId.replace(/[^A-Za-z0-9._-]+/g, '_')));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toContain(path.join(dir, 'hostFacts'));
      // The same window again (other test runs fill the usual overlap): what is archived is not rewritten.
      writeFileSync(path.join(dir, '.checkpoint.json'), checkpoint);
      const second = await archiveClosedRuns(client, dir);
      expect(second.filter((f) => mine.includes(f))).toEqual([]);
      const r = await retroFromHistory(parseHistoryFile(mine[0]).history, mine[0], runbookDataConverter);
      expect(r).toMatchObject({ workflowId: handle.workflowId, status: 'completed', outcome: 'succeeded' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
