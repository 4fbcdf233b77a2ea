import path from 'node:path';
import type { z } from 'zod';
import type { CommonInput } from '../common/input';
import type { RunbookDefinition } from './define';
import { autoGrowGuardDefinition } from './autoGrowGuard/definition';
import { engineDrillDefinition } from './engineDrill/definition';
import { fixReadonlyDataDefinition } from './fixReadonlyData/definition';
import { hostFactsDefinition } from './hostFacts/definition';
import { liveMigrateDefinition } from './liveMigrate/definition';
import { moveProjectDefinition } from './moveProject/definition';
import { maasRepartitionDefinition } from './maasRepartition/definition';
import { replicateProjectDefinition } from './replicateProject/definition';
import { replicateProjectsDefinition } from './replicateProjects/definition';
import { seedRegionsDefinition } from './seedRegions/definition';

/**
 * A runbook as the CLI, the recordings and the docs see it: its definition, with targets and
 * workflow id taken from raw (unvalidated) input, as `runbook start` has it before the run validates.
 */
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

/** Every runbook the worker runs, each from its one definition (runbooks/<name>/definition.ts). */
export const catalog: CatalogEntry[] = [
  fromDefinition(hostFactsDefinition),
  fromDefinition(engineDrillDefinition),
  fromDefinition(fixReadonlyDataDefinition),
  fromDefinition(autoGrowGuardDefinition),
  fromDefinition(replicateProjectDefinition),
  fromDefinition(replicateProjectsDefinition),
  fromDefinition(moveProjectDefinition),
  fromDefinition(liveMigrateDefinition),
  fromDefinition(seedRegionsDefinition),
  fromDefinition(maasRepartitionDefinition),
];

/** A catalog entry read from a runbook's one definition (targets and id only from input that validates). */
export function fromDefinition<S extends z.ZodType<CommonInput>>(definition: RunbookDefinition<S>): CatalogEntry {
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
