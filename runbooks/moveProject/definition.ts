import { defineRunbook } from '../define';
import { projectLock } from '../replicateProject/definition';
import { moveProjectInputSchema } from './schema';

export const moveProjectDefinition = defineRunbook({
  name: 'moveProject',
  summary: 'Move a project to its most up-to-date, least loaded replica (its host is down, or on request); the old host rejoins as a replica only after approval.',
  schema: moveProjectInputSchema,
  targets: (i) => [i.from, ...i.candidates],
  // The same lock as replicateProject's: no replication of the project runs while it moves.
  workflowId: (i) => projectLock(i.project),
});
