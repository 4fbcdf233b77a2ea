import type { CatalogEntry } from '../catalog';
import { fixReadonlyDataInputSchema } from './schema';

export const fixReadonlyDataEntry: CatalogEntry = {
  name: 'fixReadonlyData',
  summary: 'Repair a read-only LVM /data (seed 002): remount, fix PVs, release held space, add disks, extend, start the auto-grow guard.',
  schema: fixReadonlyDataInputSchema,
  targets: (i) => (typeof i.host === 'string' ? [i.host] : []),
};
