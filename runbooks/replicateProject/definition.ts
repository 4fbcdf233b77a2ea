import { defineRunbook } from '../define';
import { replicateProjectInputSchema } from './schema';

/**
 * The project's lock, built here only: replicateProject and moveProject runs of a project, and a
 * sweep's children, all take this workflow id, so a replication and a move of one project can never
 * overlap, and a sweep counts a project that is moving as locked.
 */
export function projectLock(project: string): string {
  return `replicate/${project}`;
}

export const replicateProjectDefinition = defineRunbook({
  name: 'replicateProject',
  summary: 'Bring every replica of one ZFS project dataset up to date with its source (by guid, through the worker); refuse diverged replicas unless a rollback is allowed and approved.',
  schema: replicateProjectInputSchema,
  targets: (i) => [i.source, ...i.replicas],
  workflowId: (i) => projectLock(i.project),
});
