import { z } from 'zod';

// What generateProjects made, so tests can assert on each project's state without rediscovering it,
// and the scenario's check knows which host serves which project. Written as JSON next to each
// host's pool (zfs/projects-manifest.json) and validated on every read.

export const REPLICA_STATES = [
  /** Holds the source's last replicated snapshot as its newest, unmodified since. */
  'in-sync',
  /** Mounted and written to after its last receive: `zfs recv` says "has been modified since most recent snapshot". */
  'diverged-write',
  /** Has a snapshot the source does not have after the common one: "most recent snapshot ... does not match incremental source". */
  'diverged-snapshot',
  /** Lost its newest received snapshot; an older one is still common with the source (base must be chosen by guid). */
  'missing-base-older-common',
  /** Lost its only received snapshot: nothing in common remains; the dataset exists (a full stream needs it replaced). */
  'missing-base-no-common',
] as const;
export type ReplicaState = (typeof REPLICA_STATES)[number];

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

export const snapshotEntrySchema = z.object({
  /** Short name (after @). */
  name: z.string(),
  guid: z.string().regex(/^\d+$/),
  createtxg: z.number().int().nonnegative(),
});
export type SnapshotEntry = z.infer<typeof snapshotEntrySchema>;

export const fileEntrySchema = z.object({
  /** Relative to the project's root, e.g. `src/file-2.py`. */
  path: z.string(),
  kind: z.enum(['file', 'symlink']),
  /** File size, or the link target for a symlink. */
  bytes: z.number().int().nonnegative().optional(),
  target: z.string().optional(),
});

export const replicaManifestSchema = z.object({
  host: z.string(),
  state: z.enum(REPLICA_STATES),
  /** The replica's snapshots after generation, oldest first. */
  snapshots: z.array(snapshotEntrySchema),
  /** Newest snapshot shared with the source by guid, null if none. */
  newestCommon: z.string().nullable(),
  /** What was done to put it in its state, in words. */
  detail: z.string(),
});

export const projectManifestSchema = z.object({
  id: uuid,
  dataset: z.string(),
  source: z.string(),
  /** The quota set on the source (a plain `zfs send` does not carry it to replicas). */
  quotaBytes: z.number().int().positive(),
  /** Whether the source was written to after the last replication (no snapshot taken since). */
  sourceState: z.enum(['unchanged', 'changed']),
  /** The newest snapshot the previous replication sent to every replica. */
  lastReplicated: z.string(),
  sourceSnapshots: z.array(snapshotEntrySchema),
  /** The project's files at `lastReplicated`. */
  files: z.array(fileEntrySchema),
  /** What changed on the source after `lastReplicated` (empty when unchanged). */
  changes: z.array(z.object({ path: z.string(), change: z.enum(['added', 'modified', 'removed']) })),
  replicas: z.array(replicaManifestSchema),
});
export type ProjectManifest = z.infer<typeof projectManifestSchema>;

export const projectsManifestSchema = z.object({
  version: z.literal(1),
  seed: z.string(),
  generatedAt: z.string(),
  pool: z.string(),
  hosts: z.array(z.string()),
  replicationFactor: z.number().int().positive(),
  fullSize: z.boolean(),
  /** The replication snapshots made, oldest first (every project has the first; some the second). */
  snapshotNames: z.array(z.string()),
  projects: z.array(projectManifestSchema),
  timingsMs: z.record(z.string(), z.number()),
});
export type ProjectsManifest = z.infer<typeof projectsManifestSchema>;

/** Projects with a replica in the given state. */
export function projectsWithReplicaState(m: ProjectsManifest, state: ReplicaState): ProjectManifest[] {
  return m.projects.filter((p) => p.replicas.some((r) => r.state === state));
}
