/// <reference lib="dom" />
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { uiUrl } from '../lab/temporal-dev-server';
import type { RunbookResult } from '../workflows/engine/runbook';
import { auditQuery } from '../workflows/engine/messages';
import { artifactsDir, launchChromium } from './helpers/chromium';
import { hostLines } from './helpers/lab-host';
import { closeTestClient, runFailure, scheduledActivityTypes, testClient, waitForAudit } from './helpers/temporal';

// The operator's front door, driven in a real browser: Debian's Chromium (headless, through
// playwright-core) against the dev server's real Web UI. Selectors are the UI's own data-testids
// where it has them; the UI renders some controls twice (desktop and mobile), hence visible().
// Screenshots go to test-artifacts/ui-*.png.

const ns = `${uiUrl}/namespaces/default`;
let browser: { context: BrowserContext; close: () => Promise<void> };
let page: Page;
const hostFactsId = `ui-test/hostFacts/${randomUUID()}`;

const shot = (name: string) => page.screenshot({ path: path.join(artifactsDir, `ui-${name}.png`), fullPage: true });
const visible = (testId: string) => page.getByTestId(testId).filter({ visible: true }).first();

beforeAll(async () => {
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.setDefaultTimeout(20_000);
});

afterAll(async () => {
  await browser?.close();
  await closeTestClient();
});

/** The Start Workflow form: id, task queue, type, and the one JSON input in its code editor. */
async function startFromForm(workflowId: string, type: string, input: unknown): Promise<void> {
  await page.goto(`${ns}/workflows/start-workflow`);
  await page.getByTestId('workflowId').fill(workflowId);
  await page.getByTestId('taskQueue').fill('runbooks');
  await page.getByTestId('workflowType').fill(type);
  await page.locator('.cm-content').first().click();
  await page.keyboard.insertText(JSON.stringify(input));
  // The form takes the editor's text when it loses focus.
  await page.getByTestId('workflowType').click();
  await page.getByTestId('start-workflow-button').click();
  await page.getByText('Workflow started successfully').waitFor();
}

async function openWorkflow(workflowId: string): Promise<void> {
  await page.goto(`${ns}/workflows/${encodeURIComponent(workflowId)}`);
  await visible('workflow-id-heading').waitFor();
}

/** The status badge next to the workflow id on its page. */
function statusBadge(status: string) {
  return visible('workflow-id-heading').locator('xpath=../..').getByText(status, { exact: true }).first();
}

/** The UI renders summary, details and current details as markdown in iframes; find the one saying `text`. */
async function markdownFrameText(text: RegExp): Promise<string> {
  for (let i = 0; i < 50; i++) {
    for (const frame of page.frames()) {
      const body = await frame
        .locator('body')
        .innerText()
        .catch(() => '');
      if (frame !== page.mainFrame() && text.test(body)) return body;
    }
    await page.waitForTimeout(200);
  }
  throw new Error(`no rendered markdown says ${text}`);
}

/** The text of the Result panel (an editor) on a workflow's page, once it says `expected`. */
async function resultText(expected: string): Promise<string> {
  const result = visible('input-and-result').locator('.cm-content').nth(1);
  await visible('input-and-result').locator('.cm-content', { hasText: expected }).waitFor();
  return (await result.textContent()) ?? '';
}

test('start hostFacts from the Start Workflow form with one JSON input; it completes', async () => {
  await startFromForm(hostFactsId, 'hostFacts', { hosts: ['node1'] });
  await shot('1-start-form');
  const handle = (await testClient()).workflow.getHandle(hostFactsId);
  const result = (await handle.result()) as RunbookResult<{ hosts: Array<{ hostname: string }> }>;
  expect(result.value.hosts.map((h) => h.hostname)).toEqual(['node1']);

  await openWorkflow(hostFactsId);
  await statusBadge('Completed').waitFor();
  const text = await resultText('"outcome": "succeeded"');
  expect(text).toContain('"hostname": "node1"');
  await shot('2-hostFacts-completed');
});

test('approve a gated engineDrill step with the Update action, see the step table, read the audit query', async () => {
  const id = `ui-test/engineDrill/${randomUUID()}`;
  const dir = `/var/tmp/engine-drill/${randomUUID()}`;
  await startFromForm(id, 'engineDrill', { host: 'node1', dir, steps: 3, gatedSteps: ['step-2'] });
  const handle = (await testClient()).workflow.getHandle(id);
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'step-2' && s.status === 'waiting-approval'));
  expect(await hostLines('node1', `${dir}/log`)).toEqual(['do 1']);

  // The live step table in "Current Details" (User Metadata tab) says what is waiting and how to answer.
  await openWorkflow(id);
  await visible('user-metadata-tab').click();
  const details = await markdownFrameText(/Step step-2 is waiting for approval since/);
  expect(details).toContain('engineDrill on node1: running');
  expect(details).toMatch(/step-1\s+node1\s+✅ completed/);
  await shot('3-current-details-waiting');

  // More Actions → Send an Update → approve (listed with its description) → JSON payload → Submit.
  await page.getByRole('button', { name: /More Actions/i }).click();
  await visible('update-button').click();
  const modal = visible('update-confirmation-modal');
  await modal.getByTestId('update-select-button').click();
  const option = modal.getByRole('option', { name: /^approve/ });
  expect(await option.textContent()).toContain('Approve or reject the step that is waiting');
  await option.click();
  await modal.locator('.cm-content').click();
  await page.keyboard.insertText(JSON.stringify({ step: 'step-2', decision: 'approve', approver: 'ui-operator', comment: 'approved in the browser' }));
  await modal.getByTestId('update-id').click();
  await shot('4-update-approve');
  await modal.getByTestId('confirm-modal-button').click();
  await page.getByText('Update successful').waitFor();

  const result = (await handle.result()) as RunbookResult<{ log: string[] }>;
  expect(result.value.log).toEqual(['do 1', 'do 2', 'do 3']);
  expect(result.audit.steps.find((s) => s.name === 'step-2')!.approval).toMatchObject({ decision: 'approved', approver: 'ui-operator', comment: 'approved in the browser' });

  // Queries tab: the audit query (the default choice) answers with the approval in it.
  await openWorkflow(id);
  await visible('queries-tab').click();
  await visible('query-select-button').waitFor();
  expect(await visible('query-select').inputValue()).toBe('audit');
  await page.getByRole('button', { name: 'Run Query' }).click();
  await page.locator('.cm-content', { hasText: '"runbook": "engineDrill"' }).first().waitFor();
  await shot('5-audit-query');
  // The editor draws only the lines in view; unformatted, the whole answer is one line to read back.
  await page.locator('#json-formatting').click({ force: true });
  const answer = page.locator('.cm-content', { hasText: '"refusedApprovals":' }).first();
  await answer.waitFor();
  const audit = JSON.parse((await answer.textContent()) ?? '');
  expect(audit).toMatchObject({ runbook: 'engineDrill', workflowId: id, outcome: 'succeeded' });
  expect(audit.steps.find((s: { name: string }) => s.name === 'step-2').approval).toMatchObject({ decision: 'approved', approver: 'ui-operator' });
  // The same log the query gives a script (the editor shows output tails' newlines as line breaks).
  const viaClient = await handle.query(auditQuery);
  const gist = (a: typeof viaClient) => a.steps.map((s) => [s.seq, s.name, s.status, s.attempts.length, s.approval?.approver]);
  expect(gist(audit)).toEqual(gist(viaClient));
});

test('filter the workflow list by a search attribute: RunbookName = hostFacts', async () => {
  await page.goto(`${ns}/workflows`);
  await visible('add-filter-button').click();
  await page.getByRole('menuitem', { name: /^RunbookName/ }).click();
  await page.getByTestId('dropdown-filter-chip-RunbookName-0-text').fill('hostFacts');
  await page.getByTestId('apply-filter-button').click();
  await page.waitForURL(/query=.*RunbookName/, { waitUntil: 'commit' });
  expect(decodeURIComponent(page.url())).toContain('`RunbookName`="hostFacts"');
  const rows = page.getByTestId('workflows-summary-configurable-table-row');
  // Visibility can lag a run by a moment: reload (keeping the filter) until the run from the form shows.
  const ours = rows.filter({ hasText: hostFactsId }).first();
  for (let i = 0; i < 5; i++) {
    if (
      await ours.waitFor({ timeout: 3000 }).then(
        () => true,
        () => false,
      )
    )
      break;
    await page.reload();
  }
  await ours.waitFor();
  const headers = await page.locator('th').evaluateAll((ths) => ths.map((th) => th.getAttribute('data-testid') ?? ''));
  const typeColumn = headers.indexOf('workflows-summary-table-header-cell-Type');
  expect(typeColumn).toBeGreaterThan(-1);
  const types = await rows.evaluateAll((trs, col) => trs.map((tr) => (tr.querySelectorAll('td')[col as number]?.textContent ?? '').trim()), typeColumn);
  expect(types.length).toBeGreaterThan(0);
  expect(new Set(types)).toEqual(new Set(['hostFacts']));
  await shot('6-list-filtered');
});

test('bad input from the form: a failed run whose message lists every problem, and no activity ran', async () => {
  const id = `ui-test/bad-input/${randomUUID()}`;
  await startFromForm(id, 'hostFacts', { hosts: ['BAD HOST'], mode: 'maybe', extra: 1 });
  const handle = (await testClient()).workflow.getHandle(id);
  const failure = await runFailure(handle);
  expect(failure.type).toBe('InvalidInput');
  expect(await scheduledActivityTypes(handle)).toEqual([]);

  await openWorkflow(id);
  await statusBadge('Failed').waitFor();
  const text = await resultText('invalid input for hostFacts: 3 problems');
  expect(text).toContain('hosts[0]: a host name: lower-case letters, digits and dashes');
  expect(text).toMatch(/mode: Invalid option: expected one of/);
  expect(text).toMatch(/\(input\): Unrecognized key: .*extra/);
  await shot('7-bad-input-failed');
});
