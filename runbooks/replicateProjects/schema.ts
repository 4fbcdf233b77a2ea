import { z } from 'zod';
import { hostNameSchema, stepNameSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';
import { replicationOptionFields } from '../replicateProject/schema';

/** What a sweep carries from one run to the next when it continues as new (not for operators to set). */
export const sweepStateSchema = z.object({
  /** The last project id scheduled; the next batch starts after it (projects go in id order). */
  after: z.string().optional(),
  /** Runs of this sweep so far (1 for the first). */
  run: z.number().int().positive(),
  startedAt: z.string(),
  totals: z.object({
    scheduled: z.number().int().nonnegative(),
    replicated: z.number().int().nonnegative(),
    unchanged: z.number().int().nonnegative(),
    /** Projects whose child refused a replica (diverged; nothing changed); they count towards maxFailures. */
    refused: z.number().int().nonnegative().default(0),
    /** Projects whose child failed otherwise, or that could not be placed. */
    failed: z.number().int().nonnegative(),
    locked: z.number().int().nonnegative(),
    bytesSent: z.number().int().nonnegative(),
    /** SSH commands (one round trip each) of the sweep's own steps and its children that succeeded. */
    roundTrips: z.number().int().nonnegative().default(0),
  }),
  failures: z.array(
    z.object({
      project: z.string(),
      source: z.string().nullable(),
      reason: z.string(),
      workflowId: z.string().nullable(),
      /** What the operator does about it (one entry per refused or failed replica). */
      needsOperator: z.array(z.object({ target: z.string(), kind: z.enum(['refused', 'failed', 'blocked']), problem: z.string(), remedy: z.string(), workflowId: z.string().nullable().optional() })).default([]),
    }),
  ),
});
export type SweepState = z.infer<typeof sweepStateSchema>;

export const replicateProjectsInputSchema = z
  .object({
    /** The hosts whose pools hold projects and replicas; every project found on them is considered. */
    hosts: z.array(hostNameSchema).min(1).max(500),
    /** Only the projects this host serves (it must be one of `hosts`); default: all projects. */
    only: hostNameSchema.optional(),
    /** Replicas per project, unless its source copy sets durable-runbooks:replication-factor. */
    replicationFactor: z.number().int().min(1).max(16).default(2),
    /** replicateProject children running at once, overall... */
    concurrency: z.number().int().min(1).max(256).default(8),
    /** ...and per host (a child counts against its source and each of its replicas). */
    perHostConcurrency: z.number().int().min(1).max(256).default(4),
    /** Stop scheduling new children once this many projects failed (running ones finish). */
    maxFailures: z.number().int().min(1).default(10),
    /** Projects per run: after each batch the sweep continues as new, so its history stays small. */
    batchSize: z.number().int().min(1).max(2000).default(100),
    ...replicationOptionFields,
    /** Steps pre-approved in every child, e.g. ["rollback-compute2"] (each child's own gates otherwise wait). */
    childApprove: z.array(stepNameSchema).default([]),
    /** Carried by continue-as-new. */
    resume: sweepStateSchema.optional(),
    ...commonInputFields,
  })
  .strict()
  .superRefine((i, ctx) => {
    if (i.only && !i.hosts.includes(i.only)) ctx.addIssue({ code: 'custom', path: ['only'], message: `${i.only} is not one of hosts` });
    if (new Set(i.hosts).size !== i.hosts.length) ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'a host is listed twice' });
  });
export type ReplicateProjectsInput = z.infer<typeof replicateProjectsInputSchema>;
