import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { catalog, examplesDir } from '../../runbooks/catalog';
import { scenarios } from '../../lab/scenarios';
import type { RecordingCase } from './types';

/** The lab scenarios whose hosts a run on `targets` needs. */
export function scenariosFor(targets: string[]): string[] {
  return Object.values(scenarios)
    .filter((s) => s.hosts.some((h) => targets.includes(h.name)))
    .map((s) => s.name);
}

/**
 * Cases every runbook in the catalog gets without anyone writing them, so a new runbook is covered
 * (and replayed by CI) as soon as it has an example input: its plan (read-only, safe on any lab) and
 * a bad input. A runbook's own file in scripts/recordings/ adds the paths that need driving.
 */
export function genericCases(): RecordingCase[] {
  const cases: RecordingCase[] = [];
  for (const entry of catalog) {
    cases.push({ runbook: entry.name, name: 'bad-input', input: () => ({ unexpectedField: true }), end: 'FAILED' });
    const dir = examplesDir(entry.name);
    const example = existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.json'))
          .sort()[0]
      : undefined;
    if (!example) continue;
    const input = JSON.parse(readFileSync(path.join(dir, example), 'utf8')) as Record<string, unknown>;
    // Not every runbook has a plan mode (a guard that loops until cancelled does not).
    if (!entry.schema.safeParse({ ...input, mode: 'plan' }).success) continue;
    cases.push({
      runbook: entry.name,
      name: 'plan',
      scenarios: scenariosFor(entry.targets(input)),
      input: () => ({ ...input, mode: 'plan' }),
      end: 'COMPLETED',
    });
  }
  return cases;
}
