import { z } from 'zod';
import { zfsFeaturesSchema } from '../../activities/zfs/features';
import { hostNameSchema, stepNameSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';
import { replicationOptionFields } from '../replicateProject/schema';

/** What a sweep carries from one run to the next when it continues as new (not for operators to set). */
export const sweepStateSchema = z.object({
  after: z.string().optional().describe('the last project id scheduled; the next batch starts after it (projects go in id order)'),
  run: z.number().int().positive().describe('runs of this sweep so far (1 for the first)'),
  startedAt: z.string(),
  totals: z.object({
    scheduled: z.number().int().nonnegative(),
    replicated: z.number().int().nonnegative(),
    unchanged: z.number().int().nonnegative(),
    refused: z.number().int().nonnegative().default(0).describe('projects whose child refused a replica (diverged; nothing changed); they count towards maxFailures'),
    failed: z.number().int().nonnegative().describe('projects whose child failed otherwise, or that could not be placed'),
    locked: z.number().int().nonnegative(),
    bytesSent: z.number().int().nonnegative(),
    roundTrips: z.number().int().nonnegative().default(0).describe("SSH commands (one round trip each) of the sweep's own steps and its children that succeeded"),
  }),
  /** Each host's ZFS features as the first run probed them (answers only), so later runs do not probe again. */
  features: z.record(z.string(), zfsFeaturesSchema).optional(),
  failures: z.array(
    z.object({
      project: z.string(),
      source: z.string().nullable(),
      reason: z.string(),
      workflowId: z.string().nullable(),
      needsOperator: z
        .array(z.object({ target: z.string(), kind: z.enum(['refused', 'failed', 'blocked']), problem: z.string(), remedy: z.string(), workflowId: z.string().nullable().optional() }))
        .default([])
        .describe('what the operator does about it (one entry per refused or failed replica)'),
    }),
  ),
});
export type SweepState = z.infer<typeof sweepStateSchema>;

export const replicateProjectsInputSchema = z
  .object({
    hosts: z.array(hostNameSchema).min(1).max(500).describe('the hosts whose pools hold projects and replicas; every project found on them is considered'),
    only: hostNameSchema.optional().describe('only the projects this host serves (it must be one of `hosts`); default: all projects'),
    replicationFactor: z.number().int().min(1).max(16).default(2).describe('replicas per project, unless its source copy sets durable-runbooks:replication-factor'),
    concurrency: z.number().int().min(1).max(256).default(8).describe('replicateProject children running at once, overall'),
    perHostConcurrency: z.number().int().min(1).max(256).default(4).describe('...and per host (a child counts against its source and each of its replicas)'),
    maxFailures: z.number().int().min(1).default(10).describe('stop scheduling new children once this many projects failed (running ones finish)'),
    batchSize: z
      .number()
      .int()
      .min(1)
      .max(2000)
      .default(100)
      .describe('children per run: once this many projects need one, the run schedules them and continues as new, so its history stays small (unchanged projects are only counted, never batched)'),
    ...replicationOptionFields,
    childApprove: z.array(stepNameSchema).default([]).describe('steps pre-approved in every child, e.g. ["rollback-compute2"] (each child\'s own gates otherwise wait)'),
    resume: sweepStateSchema.optional().describe('carried by continue-as-new'),
    ...commonInputFields,
  })
  .strict()
  .superRefine((i, ctx) => {
    if (i.only && !i.hosts.includes(i.only)) ctx.addIssue({ code: 'custom', path: ['only'], message: `${i.only} is not one of hosts` });
    if (new Set(i.hosts).size !== i.hosts.length) ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'a host is listed twice' });
  });
export type ReplicateProjectsInput = z.infer<typeof replicateProjectsInputSchema>;
