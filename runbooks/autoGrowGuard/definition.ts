import { defineRunbook } from '../define';
import { autoGrowGuardInputSchema, guardWorkflowId } from './schema';

export const autoGrowGuardDefinition = defineRunbook({
  name: 'autoGrowGuard',
  summary: 'Keep one LVM volume from filling up, even under a writer at disk speed: a host-side watcher extends it to absolute sizes, within a ceiling and the VG (runs until cancelled).',
  schema: autoGrowGuardInputSchema,
  targets: (i) => [i.host],
  // One guard per volume: a second start with the same id finds the first.
  workflowId: (i) => guardWorkflowId(i.host, i.vg, i.lv),
});
