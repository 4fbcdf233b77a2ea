import { defineRunbook } from '../define';
import { engineDrillInputSchema } from './schema';

export const engineDrillDefinition = defineRunbook({
  name: 'engineDrill',
  summary: 'Exercise the engine on a lab host: marker steps with compensations, gates and a failure on demand.',
  schema: engineDrillInputSchema,
  targets: (i) => [i.host],
});
