import { defineRunbook } from '../define';
import { liveMigrateInputSchema } from './schema';

export const liveMigrateDefinition = defineRunbook({
  name: 'liveMigrate',
  summary:
    'Boot a VM from three Crucible regions on one propolis server and live-migrate it to another, with generation numbers taken from a durable ledger, an approval before the move and a proof that the guest kept running with its disk intact.',
  schema: liveMigrateInputSchema,
  targets: (i) => [i.source, i.destination, i.regions.host],
  // One migration of a VM at a time.
  workflowId: (i) => `liveMigrate/${i.vm.name}`,
});
