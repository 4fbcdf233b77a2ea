import { defineRunbook } from '../define';
import { replicateProjectsInputSchema } from './schema';

export const replicateProjectsDefinition = defineRunbook({
  name: 'replicateProjects',
  summary: 'Sweep: replicate every project on the hosts with replicateProject children, limited overall and per host, stopping after too many failures.',
  schema: replicateProjectsInputSchema,
  targets: (i) => i.hosts,
});
