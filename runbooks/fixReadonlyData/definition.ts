import { defineRunbook } from '../define';
import { fixReadonlyDataInputSchema } from './schema';

export const fixReadonlyDataDefinition = defineRunbook({
  name: 'fixReadonlyData',
  summary: 'Repair a read-only LVM /data (seed 002): remount, fix PVs, release held space, add disks, extend, start the auto-grow guard.',
  schema: fixReadonlyDataInputSchema,
  targets: (i) => [i.host],
});
