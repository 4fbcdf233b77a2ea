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
  /** The earlier stop whose run this one's lab example needs finished first, and why. */
  after: { stop: number; runbook: string; why: string } | null;
}

/** The runbook the tour starts with: the real job of the lab (seed 002's broken host). */
const FIRST = 'fixReadonlyData';

/**
 * Lab examples that act on what another runbook's lab example leaves on the lab: on a fresh lab
 * they fail (liveMigrate's inspect-regions finds no region.json), so the tour puts each after the
 * stop it needs and says so.
 */
export const EXAMPLE_NEEDS: Record<string, { runbook: string; why: string }> = {
  liveMigrate: { runbook: 'seedRegions', why: 'its VM boots from the three regions that run seeds on cru-sled' },
};

/** FIRST, then the catalog's order, except that a runbook whose example needs another comes right after it. */
function tourOrder(catalog: CatalogEntry[]): CatalogEntry[] {
  const byCatalog = [...catalog.filter((e) => e.name === FIRST), ...catalog.filter((e) => e.name !== FIRST)];
  const present = new Set(byCatalog.map((e) => e.name));
  const waiting = (name: string) => byCatalog.filter((e) => EXAMPLE_NEEDS[e.name]?.runbook === name);
  const ordered: CatalogEntry[] = [];
  const place = (e: CatalogEntry) => {
    ordered.push(e);
    for (const next of waiting(e.name)) place(next);
  };
  for (const e of byCatalog) {
    const need = EXAMPLE_NEEDS[e.name]?.runbook;
    if (!need || !present.has(need)) place(e);
  }
  return ordered;
}

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
  const stops: TourStop[] = [];
  for (const entry of tourOrder(catalog)) {
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
      after: null,
    });
    const need = EXAMPLE_NEEDS[entry.name];
    const before = need ? stops.findIndex((s) => s.runbook === need.runbook) : -1;
    if (need && before >= 0) stops[stops.length - 1].after = { stop: before + 1, runbook: need.runbook, why: need.why };
  }
  return stops;
}

export function renderTour(stops: TourStop[]): string[] {
  const lines = ['Tour: every runbook, one command each on the lab (add --plan to see its exact commands first; --wait to follow it here):'];
  stops.forEach((s, i) => {
    lines.push(`${String(i + 1).padStart(2)}. ${s.runbook}: ${s.summary}`);
    if (s.after) lines.push(`      after ${s.after.stop} (${s.after.runbook}) has finished: ${s.after.why}`);
    lines.push(`      ${s.command}`);
    lines.push(`      ${s.uiLink}`);
  });
  return lines;
}
