// Start a runbook from a script and wait for its result, with nothing but @temporalio/client.
//
//   npx tsx examples/start-and-wait.ts hostFacts '{"hosts":["node1"]}'
//   npx tsx examples/start-and-wait.ts engineDrill "$(cat runbooks/engineDrill/examples/lab.json)" --approve step-2
//
// Exit 0 when the runbook succeeded (the result is printed as JSON), 1 when it failed or was
// cancelled (its message, which names the failed step and every input problem, goes to stderr).
// Connection: TEMPORAL_ADDRESS (default 127.0.0.1:7233) and TEMPORAL_NAMESPACE (default "default").
import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

const RunbookName = defineSearchAttributeKey('RunbookName', SearchAttributeType.KEYWORD);

async function main(): Promise<number> {
  const [runbook, inputJson, ...rest] = process.argv.slice(2);
  if (!runbook || !inputJson) {
    console.error('usage: start-and-wait.ts <runbook> <input JSON> [--approve <step>...]');
    return 2;
  }
  const input = JSON.parse(inputJson) as Record<string, unknown>;
  // Gated steps can be approved up front for an unattended run; the audit log records it.
  const approve = rest.flatMap((a, i) => (rest[i - 1] === '--approve' ? [a] : []));
  if (approve.length) input.approve = approve;

  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
  try {
    const handle = await client.workflow.start(runbook, {
      taskQueue: 'runbooks', // every runbook runs there
      workflowId: `script/${runbook}/${randomUUID()}`,
      args: [input], // a runbook takes one JSON object
      staticSummary: `${runbook} started by examples/start-and-wait.ts`, // the UI's Summary
      typedSearchAttributes: [{ key: RunbookName, value: runbook }], // filterable in the UI at once
    });
    console.error(`started ${handle.workflowId}: ${process.env.TEMPORAL_UI ?? 'http://127.0.0.1:8233'}/namespaces/default/workflows/${encodeURIComponent(handle.workflowId)}`);
    const result = (await handle.result()) as { outcome: string; value: unknown };
    console.log(JSON.stringify({ workflowId: handle.workflowId, outcome: result.outcome, value: result.value }, null, 2));
    return 0;
  } catch (err) {
    // The runbook's own message (WorkflowFailedError.cause), not the SDK's wrapper.
    console.error(err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : (err as Error).message);
    return 1;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A failure before main's own try (e.g. no server to connect to) would otherwise be an unhandled rejection.
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
