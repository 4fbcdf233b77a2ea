import { z } from 'zod';
import { zfsFeaturesSchema } from '../../activities/zfs/features';
import { poolNameSchema } from '../../activities/zfs/names';
import { hostNameSchema, uuidSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';

/** 90s, 30m, 6h, 7d: the engine's duration form. */
export const durationSchema = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 90s, 30m, 6h');

/** Replication options shared by replicateProject, replicateProjects (passed on to each child) and moveProject. */
export const replicationOptionFields = {
  pool: poolNameSchema.default('projects').describe('the pool holding `<pool>/<project>` on every host'),
  keepSnapshots: z.number().int().min(1).max(1000).default(7).describe('runbook snapshots (rb-<ISO time>) kept on the source and on each replica; bases a replica still needs are kept too'),
  allowRollback: z
    .boolean()
    .default(false)
    .describe(
      'allow rolling back (or replacing) a replica that diverged from the source. Even then each one waits for the approval of its step `rollback-<host>` / `replace-<host>` (or `approve` lists it)',
    ),
  bandwidthLimitBytesPerSecond: z.number().int().positive().optional().describe("cap on each stream's average rate through the worker (bytes/s); none by default"),
  streamTimeout: durationSchema.default('6h').describe('longest a single stream may take before it is stopped (and retried)'),
};

export const replicateProjectInputSchema = z
  .object({
    project: uuidSchema.describe("the project's UUID; its dataset is `<pool>/<project>` on every host"),
    source: hostNameSchema.describe('the host that serves the project'),
    replicas: z.array(hostNameSchema).min(1, 'name at least one replica host').max(16).describe('the hosts that keep a replica'),
    ...replicationOptionFields,
    features: z
      .record(z.string(), zfsFeaturesSchema)
      .optional()
      .describe("what each host's ZFS can do, as a sweep that already probed it passes it on, so a child run does not probe again. Omitted: this run probes each host once"),
    ...commonInputFields,
  })
  .strict()
  .superRefine((i, ctx) => {
    if (i.replicas.includes(i.source)) ctx.addIssue({ code: 'custom', path: ['replicas'], message: `the source ${i.source} cannot also be a replica` });
    if (new Set(i.replicas).size !== i.replicas.length) ctx.addIssue({ code: 'custom', path: ['replicas'], message: 'a replica host is listed twice' });
  });
export type ReplicateProjectInput = z.infer<typeof replicateProjectInputSchema>;

/**
 * What replicateProjects passes to each replicateProject child: the child's own input as its schema
 * accepts it (before defaults), so the sweep cannot pass an argument the child would refuse.
 */
export type ReplicateProjectChildInput = z.input<typeof replicateProjectInputSchema>;

/** The body's arguments (shared with moveProject): the input's replication fields, after defaults. */
export type ReplicateArgs = Pick<
  ReplicateProjectInput,
  'project' | 'source' | 'replicas' | 'pool' | 'keepSnapshots' | 'allowRollback' | 'bandwidthLimitBytesPerSecond' | 'streamTimeout' | 'features'
> & {
  /** Hold tags to release on snapshots a rollback destroys (an old source holds its replicas' bases). */
  releaseTags?: string[];
};
