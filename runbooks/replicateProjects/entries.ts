import type { CatalogEntry } from '../catalog';
import { moveProjectInputSchema } from '../moveProject/schema';
import { replicateProjectInputSchema } from '../replicateProject/schema';
import { replicateProjectsInputSchema } from './schema';

// The ZFS replication runbooks in the catalog (see README.md next to this file). replicateProject and
// moveProject share the workflow id `replicate/<project>`: the project's lock, so a replication and a
// move of one project can never overlap, and a sweep skips (counts as locked) a project that moves.

const projectLock = (i: Record<string, unknown>) => `replicate/${String(i.project)}`;

export const replicationEntries: CatalogEntry[] = [
  {
    name: 'replicateProject',
    summary: 'Bring every replica of one ZFS project dataset up to date with its source (by guid, through the worker); refuse diverged replicas unless a rollback is allowed and approved.',
    schema: replicateProjectInputSchema,
    targets: (i) => [i.source, ...(Array.isArray(i.replicas) ? i.replicas : [])].filter((h): h is string => typeof h === 'string'),
    workflowId: projectLock,
  },
  {
    name: 'replicateProjects',
    summary: 'Sweep: replicate every project on the hosts with replicateProject children, limited overall and per host, stopping after too many failures.',
    schema: replicateProjectsInputSchema,
    targets: (i) => (Array.isArray(i.hosts) ? i.hosts.map(String) : []),
  },
  {
    name: 'moveProject',
    summary: 'Move a project to its most up-to-date, least loaded replica (its host is down, or on request); the old host rejoins as a replica only after approval.',
    schema: moveProjectInputSchema,
    targets: (i) => [i.from, ...(Array.isArray(i.candidates) ? i.candidates : [])].filter((h): h is string => typeof h === 'string'),
    workflowId: projectLock,
  },
];
