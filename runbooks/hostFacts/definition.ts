import { defineRunbook } from '../define';
import { hostFactsInputSchema } from './schema';

export const hostFactsDefinition = defineRunbook({
  name: 'hostFacts',
  summary: 'Collect hostname, kernel, df, findmnt, lsblk and loop devices from hosts (read-only).',
  schema: hostFactsInputSchema,
  targets: (i) => i.hosts,
});
