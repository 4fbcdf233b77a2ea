import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { EXIT } from '../exit-codes';
import { loadHistory } from '../history/load';
import { bundleWorkflows, quietReplayRuntime, replayHistories, type ReplayItem } from '../replay/replayer';
import type { Output } from './runs';

/** Files stand for themselves, folders for every .json below them, anything else is a workflow id. */
function expand(refs: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (statSync(p).isDirectory()) for (const f of readdirSync(p).sort()) walk(path.join(p, f));
    else if (p.endsWith('.json')) out.push(p);
  };
  for (const ref of refs) {
    if (existsSync(ref)) walk(ref);
    else out.push(ref);
  }
  return out;
}

/**
 * `runbook replay <history.json | folder | workflow-id>...`: replay recorded runs against the workflow
 * code in this checkout, as a worker would after a deploy. Exit 0 when every history replays, 1 when
 * one diverges (the report names the event and the step), 2/4 for unreadable files or unknown ids.
 */
export async function replayCommand(refs: string[], opts: { workflows?: string; runId?: string }, o: Output): Promise<number> {
  quietReplayRuntime();
  const items: ReplayItem[] = [];
  for (const ref of expand(refs)) {
    const { history, workflowId, source } = await loadHistory(ref, opts.runId);
    items.push({ name: source.startsWith('temporal:') ? ref : path.relative(process.cwd(), ref) || ref, workflowId, history });
  }
  const started = Date.now();
  const bundle = await bundleWorkflows(opts.workflows ? path.resolve(opts.workflows) : undefined);
  const reports = await replayHistories(items, bundle);
  const failed = reports.filter((r) => !r.ok);
  if (o.json) o.out(JSON.stringify({ ok: failed.length === 0, replayed: reports.length, failed: failed.length, reports }, null, 2));
  else {
    for (const r of reports) o.out(r.summary);
    o.out(`${reports.length - failed.length}/${reports.length} histories replay against ${opts.workflows ?? 'workflows/'} (${Date.now() - started} ms)`);
    if (failed.some((r) => r.nondeterminism)) {
      o.out('A nondeterministic change breaks runs already in flight: guard it with patched() (see docs/operators.md), or re-record the histories if no old run can still be open.');
    }
  }
  return failed.length ? EXIT.runFailed : EXIT.ok;
}
