import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';
import { CliError, EXIT } from '../exit-codes';
import { client } from '../temporal';

export type { History };
export type HistoryEvent = NonNullable<History['events']>[number];

export interface LoadedHistory {
  history: History;
  workflowId: string;
  /** Where it came from: a file path or `temporal:<workflow id>`. */
  source: string;
}

/**
 * A history from a JSON file (`runbook history`, `temporal workflow show --output json`, the archive,
 * the UI's "Download" in encoded form) or, when `ref` is not a file, from the server by workflow id.
 */
export async function loadHistory(ref: string, runId?: string): Promise<LoadedHistory> {
  if (existsSync(ref)) return { ...parseHistoryFile(ref), source: ref };
  if (ref.endsWith('.json')) throw new CliError(`no such history file: ${ref}`, EXIT.notFound);
  const c = await client();
  try {
    const history = await c.workflow.getHandle(ref, runId).fetchHistory();
    return { history, workflowId: ref, source: `temporal:${ref}` };
  } catch (err) {
    const notFound = err instanceof WorkflowNotFoundError || (err as { code?: number }).code === 5; // gRPC NOT_FOUND
    if (notFound) throw new CliError(`${ref} is neither a history file nor a workflow id the server knows`, EXIT.notFound);
    throw err;
  }
}

export function parseHistoryFile(file: string): { history: History; workflowId: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`${file} is not JSON: ${(err as Error).message}`, EXIT.usage);
  }
  // Some exports are a bare array of events.
  const json = Array.isArray(raw) ? { events: raw } : raw;
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new CliError(`${file} is not a workflow history: expected {"events": [...]}`, EXIT.usage);
  }
  let history: History;
  try {
    history = historyFromJSON(json);
  } catch (err) {
    throw new CliError(`${file} is not a replayable history (${(err as Error).message}); export it encoded, e.g. with \`runbook history\``, EXIT.usage);
  }
  return { history, workflowId: workflowIdOf(history) ?? path.basename(file, '.json') };
}

/** Servers from 1.26 on put the workflow id on the started event. */
export function workflowIdOf(history: History): string | undefined {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId ?? undefined;
}
