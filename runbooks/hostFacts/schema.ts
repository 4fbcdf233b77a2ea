import { z } from 'zod';
import { hostNameSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';

export const hostFactsInputSchema = z
  .object({
    hosts: z.array(hostNameSchema).min(1, 'name at least one host').max(200).describe('the inventory hosts to collect facts from, side by side'),
    ...commonInputFields,
  })
  .strict();
export type HostFactsInput = z.infer<typeof hostFactsInputSchema>;
