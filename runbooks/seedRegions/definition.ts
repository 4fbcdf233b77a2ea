import { defineRunbook } from '../define';
import { seedRegionsInputSchema } from './schema';

export const seedRegionsDefinition = defineRunbook({
  name: 'seedRegions',
  summary:
    'Seed three Crucible regions from an OS image (seeds 003/004): create with --import-path, verify against the image, start the downstairs under runit; the result is the VCR geometry and targets.',
  schema: seedRegionsInputSchema,
  targets: (i) => [i.host],
});
