import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CatalogEntry } from '../../runbooks/catalog';

// The numbered tour `npm start` prints: one copy-paste command per runbook in the catalog, each on
// its lab example input, with the Web UI link of the run it starts. Built from the catalog, so a
// runbook added there is in the tour without anyone editing this file.

export interface TourStop {
  runbook: string;
  summary: string;
  command: string;
  workflowId: string;
  uiLink: string;
}

/** The runbook the tour starts with: the real job of the lab (seed 002's broken host). */
const FIRST = 'fixReadonlyData';

function exampleFile(examplesDir: string): string | undefined {
  if (!existsSync(examplesDir)) return undefined;
  const files = readdirSync(examplesDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.includes('lab.json') ? 'lab.json' : files[0];
}

export function workflowUiLink(uiUrl: string, workflowId: string): string {
  return `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * One stop per catalog runbook that has an example input. A runbook whose id is a lock (one guard per
 * volume, one replication per project) keeps its own id; the others get `<runbook>/tour-<stamp>`, so
 * the link is known before the run starts and a second paste after it ended starts it again.
 */
export function tourStops(catalog: CatalogEntry[], opts: { uiUrl: string; stamp: string; repoRoot: string; examplesDir: (name: string) => string }): TourStop[] {
  const ordered = [...catalog.filter((e) => e.name === FIRST), ...catalog.filter((e) => e.name !== FIRST)];
  const stops: TourStop[] = [];
  for (const entry of ordered) {
    const dir = opts.examplesDir(entry.name);
    const file = exampleFile(dir);
    if (!file) continue;
    const input = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>;
    const locked = entry.workflowId?.(input);
    const workflowId = locked ?? `${entry.name}/tour-${opts.stamp}`;
    const inputPath = path.relative(opts.repoRoot, path.join(dir, file));
    stops.push({
      runbook: entry.name,
      summary: entry.summary,
      command: `npm run runbook -- start ${entry.name} --input ${inputPath}${locked ? '' : ` --id ${workflowId}`}`,
      workflowId,
      uiLink: workflowUiLink(opts.uiUrl, workflowId),
    });
  }
  return stops;
}

export function renderTour(stops: TourStop[]): string[] {
  const lines = ['Tour: every runbook, one command each on the lab (add --plan to see its exact commands first; --wait to follow it here):'];
  stops.forEach((s, i) => {
    lines.push(`${String(i + 1).padStart(2)}. ${s.runbook}: ${s.summary}`);
    lines.push(`      ${s.command}`);
    lines.push(`      ${s.uiLink}`);
  });
  return lines;
}
