import { WorkflowNotFoundError } from '@temporalio/client';
import { ChainInputError } from '../runbooks/chain';
import { CHAIN_LINKS, chainLink } from '../runbooks/chain-links';
import { runbookDataConverter } from '../workers/data-converter';
import { CliError, EXIT } from './exit-codes';
import { HistoryDecoder } from './history/decode';
import { client } from './temporal';

// `runbook start <runbook> --input-from <workflowId>`: the next runbook's input made from a finished
// run (its input as started, from the history's first event, and its result) by the chain's pure
// link (runbooks/chain-links.ts), with the operator's --input on top for what the run cannot know.

export async function inputFromRun(runbook: string, workflowId: string, given: Record<string, unknown>): Promise<Record<string, unknown>> {
  const handle = (await client()).workflow.getHandle(workflowId);
  let type: string;
  let status: string;
  try {
    const d = await handle.describe();
    type = d.type;
    status = d.status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`--input-from ${workflowId}: no workflow with that id`, EXIT.notFound);
    throw err;
  }
  const link = chainLink(type, runbook);
  if (!link) {
    const known = CHAIN_LINKS.map((l) => `${l.from} → ${l.to}`).join(', ');
    throw new CliError(`--input-from ${workflowId}: a ${type} run cannot start ${runbook}; the chain's links are ${known}`, EXIT.usage);
  }
  if (status !== 'COMPLETED') throw new CliError(`--input-from ${workflowId}: that ${type} run is ${status}, not COMPLETED; its result is what ${runbook} starts from`, EXIT.usage);
  const result: unknown = await handle.result();
  const history = await handle.fetchHistory();
  const first = history.events?.[0];
  const started = first ? (await new HistoryDecoder(runbookDataConverter).event(first)).started : undefined;
  if (!started) throw new CliError(`--input-from ${workflowId}: its history does not begin with the run's start`, EXIT.usage);
  try {
    return link.map({ input: started.input[0], result }, given);
  } catch (err) {
    if (err instanceof ChainInputError) throw new CliError(`--input-from ${workflowId}: ${err.message}`, EXIT.usage);
    throw err;
  }
}
