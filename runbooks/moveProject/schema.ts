import { z } from 'zod';
import { hostNameSchema, uuidSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';
import { durationSchema, replicationOptionFields } from '../replicateProject/schema';

const { allowRollback: _notHere, ...moveOptions } = replicationOptionFields;

export const moveProjectInputSchema = z
  .object({
    project: uuidSchema.describe('the project to move (its dataset is <pool>/<project> on every host)'),
    from: hostNameSchema.describe('the host that serves the project now (it may be unreachable: that is when a move is urgent)'),
    candidates: z.array(hostNameSchema).min(1).max(16).describe('hosts holding replicas, to choose from'),
    to: hostNameSchema.optional().describe('move to this replica (on request); default: the one with the newest snapshot, least loaded among equals'),
    ...moveOptions,
    waitForOldSource: durationSchema
      .default('1h')
      .describe("an unreachable old source is waited for this long; when it answers, it is rolled back to the new source's history and becomes a replica, after approval of step `rollback-<from>`"),
    pollInterval: durationSchema.default('30s').describe('how often an unreachable old source is tried again'),
    ...commonInputFields,
  })
  .strict()
  .superRefine((i, ctx) => {
    if (i.candidates.includes(i.from)) ctx.addIssue({ code: 'custom', path: ['candidates'], message: `${i.from} is the current source, not a candidate` });
    if (i.to && !i.candidates.includes(i.to)) ctx.addIssue({ code: 'custom', path: ['to'], message: `${i.to} is not one of candidates` });
  });
export type MoveProjectInput = z.infer<typeof moveProjectInputSchema>;
