import { writeFileSync } from 'node:fs';
import { runbookDataConverter } from '../../workers/data-converter';
import { CliError, EXIT } from '../exit-codes';
import { loadHistory } from '../history/load';
import { renderRetro, retroFromHistory } from '../retro';
import type { Output } from './runs';

/**
 * `runbook retro <workflow-id | history.json>`: a retrospective from the history alone (the archive
 * keeps histories past the server's retention). Exit 0 when written, whatever the run's outcome.
 */
export async function retroCommand(ref: string, opts: { format?: string; out?: string; runId?: string }, o: Output): Promise<number> {
  const format = opts.format ?? (opts.out?.endsWith('.html') ? 'html' : 'md');
  if (format !== 'md' && format !== 'html') throw new CliError(`--format must be md or html, not ${format}`, EXIT.usage);
  const { history, source } = await loadHistory(ref, opts.runId);
  // A run fetched live is described as of now: its open waits run to the moment of the fetch.
  const retro = await retroFromHistory(history, source, runbookDataConverter, source.startsWith('temporal:') ? { asOf: new Date().toISOString() } : {});
  const text = renderRetro(retro, format);
  if (opts.out) {
    writeFileSync(opts.out, text);
    o.out(
      o.json
        ? JSON.stringify({ workflowId: retro.workflowId, status: retro.status, outcome: retro.outcome, file: opts.out, format })
        : `wrote the ${format} retrospective of ${retro.workflowId} (${retro.status}) to ${opts.out}`,
    );
  } else if (o.json) {
    o.out(JSON.stringify(retro, null, 2));
  } else {
    process.stdout.write(text);
  }
  return EXIT.ok;
}
