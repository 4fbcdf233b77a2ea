import path from 'node:path';
import type { z } from 'zod';
import { engineDrillInputSchema } from './engineDrill/schema';
import { hostFactsInputSchema } from './hostFacts/schema';
import { fixReadonlyDataEntry } from './fixReadonlyData/entry';
import { autoGrowGuardEntry } from './autoGrowGuard/entry';
import { replicationEntries } from './replicateProjects/entries';
import type { RunbookDefinition } from './define';

export interface CatalogEntry {
  /** The workflow type: what the UI's Start Workflow form and `temporal workflow start --type` take. */
  name: string;
  summary: string;
  schema: z.ZodType;
  /** Targets for the summary and a default workflow id. */
  targets: (input: Record<string, unknown>) => string[];
  /** A fixed workflow id makes the id a lock (one run per project, one guard per volume). */
  workflowId?: (input: Record<string, unknown>) => string;
}

export const catalog: CatalogEntry[] = [
  {
    name: 'hostFacts',
    summary: 'Collect hostname, kernel, df, findmnt, lsblk and loop devices from hosts (read-only).',
    schema: hostFactsInputSchema,
    targets: (i) => (Array.isArray(i.hosts) ? i.hosts.map(String) : []),
  },
  {
    name: 'engineDrill',
    summary: 'Exercise the engine on a lab host: marker steps with compensations, gates and a failure on demand.',
    schema: engineDrillInputSchema,
    targets: (i) => (typeof i.host === 'string' ? [i.host] : []),
  },
  fixReadonlyDataEntry,
  autoGrowGuardEntry,
  ...replicationEntries,
];

/** A catalog entry read from a runbook's one definition (targets and id only from input that validates). */
export function fromDefinition(definition: RunbookDefinition): CatalogEntry {
  const parsed = (raw: Record<string, unknown>) => definition.schema.safeParse(raw);
  const { workflowId } = definition;
  return {
    name: definition.name,
    summary: definition.summary,
    schema: definition.schema,
    targets: (raw) => {
      const r = parsed(raw);
      return r.success ? definition.targets(r.data) : [];
    },
    ...(workflowId
      ? {
          workflowId: (raw: Record<string, unknown>) => {
            const r = parsed(raw);
            return r.success ? workflowId(r.data) : `${definition.name}/invalid-input`;
          },
        }
      : {}),
  };
}

export function findRunbook(name: string): CatalogEntry | undefined {
  return catalog.find((e) => e.name === name);
}

export function examplesDir(name: string): string {
  return path.join(__dirname, name, 'examples');
}
