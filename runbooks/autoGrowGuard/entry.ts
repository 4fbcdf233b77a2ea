import type { CatalogEntry } from '../catalog';
import { autoGrowGuardInputSchema, guardWorkflowId } from './schema';

const str = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);

export const autoGrowGuardEntry: CatalogEntry = {
  name: 'autoGrowGuard',
  summary: 'Keep one LVM volume from filling up: extend it by a step at a usage threshold, within a ceiling and the VG (runs until cancelled).',
  schema: autoGrowGuardInputSchema,
  targets: (i) => (typeof i.host === 'string' ? [i.host] : []),
  // One guard per volume: a second start with the same id finds the first.
  workflowId: (i) => guardWorkflowId(str(i.host, 'host'), str(i.vg, 'vg0'), str(i.lv, 'data0')),
};
