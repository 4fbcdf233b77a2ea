import { defineRunbook } from '../define';
import { maasRepartitionInputSchema } from './schema';

export const maasRepartitionDefinition = defineRunbook({
  name: 'maasRepartition',
  summary: 'Re-commission a machine through MAAS with a custom storage layout, deploy it, and build one ZFS pool per spare partition (or loop-file pools as the fallback).',
  schema: maasRepartitionInputSchema,
  targets: (i) => [i.host, `maas:${i.maas}/${i.machine}`],
  hosts: (i) => [i.host],
  // One run per machine: two runs would commission it against each other.
  workflowId: (i) => `maasRepartition/${i.maas}/${i.machine}`,
});
