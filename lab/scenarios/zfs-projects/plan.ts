import type { ReplicaState } from './manifest';
import { seededRng, type Rng } from './prng';

// The pure half of the generator: from a seed, decide every project's host, replicas, files, quota,
// history and broken state. generate.ts then makes it real with one batched script per host and phase.

export interface GenerateOptions {
  /** How many projects to create. */
  count: number;
  /** Same seed, same plan (placements, sizes, states, UUIDs). */
  seed: string;
  /** Replicas per project, on distinct hosts other than the source (default 2). */
  replicationFactor?: number;
  /** Share of the remaining projects whose source changes after the last replication (default 0.3). */
  changedFraction?: number;
  /** Share of projects replicated twice (two snapshots on every side), for history and base selection (default 0.2). */
  historyFraction?: number;
  /** How many projects get one replica in each broken state (defaults: 1 each). Their sources are changed too, so a runbook must act on them. */
  divergedWrite?: number;
  divergedSnapshot?: number;
  missingBaseOlderCommon?: number;
  missingBaseNoCommon?: number;
  /** Bigger files (16x): closer to production, slower. */
  fullSize?: boolean;
}

export type FileOp = { op: 'write'; path: string; bytes: number } | { op: 'append'; path: string; bytes: number } | { op: 'symlink'; path: string; target: string } | { op: 'remove'; path: string };

export interface PlannedReplica {
  host: string;
  state: ReplicaState;
}

export interface PlannedProject {
  id: string;
  dataset: string;
  source: string;
  quotaBytes: number;
  /** 1: one replicated snapshot; 2: two (the second an increment). */
  generations: 1 | 2;
  /** Files as they are at the first snapshot. */
  initialFiles: FileOp[];
  /** Applied before the second snapshot (generations 2 only). */
  secondGeneration: FileOp[];
  /** Applied after the last replication, never snapshotted (sourceState changed). */
  afterReplication: FileOp[];
  replicas: PlannedReplica[];
}

const DIRS = ['', '', 'src/', 'data/', 'notes/', 'src/lib/', '.config/'];
const EXTS = ['txt', 'bin', 'dat', 'ipynb', 'sage', 'py', 'csv'];
const QUOTAS = [256, 512, 1024, 2048, 5120].map((mib) => mib * 1024 * 1024);

/** Sizes a project's files have: mostly small, a few large, the way home directories look. */
function fileSize(rng: Rng, fullSize: boolean): number {
  const scale = fullSize ? 16 : 1;
  const r = rng.next();
  if (r < 0.05) return 0;
  if (r < 0.4) return rng.int(1, 4096) * scale;
  if (r < 0.8) return rng.int(4096, 65536) * scale;
  if (r < 0.95) return rng.int(65536, 262144) * scale;
  return rng.int(262144, 2 * 1024 * 1024) * scale;
}

function planFiles(rng: Rng, fullSize: boolean): FileOp[] {
  const n = rng.int(1, 6);
  const files: FileOp[] = [];
  for (let k = 0; k < n; k++) files.push({ op: 'write', path: `${rng.pick(DIRS)}file-${k}.${rng.pick(EXTS)}`, bytes: fileSize(rng, fullSize) });
  if (rng.next() < 0.25) files.push({ op: 'symlink', path: 'latest', target: (files[0] as { path: string }).path });
  return files;
}

/** A change to a project: modify one file, add one, and remove one when there are at least two. */
function planChange(rng: Rng, existing: string[], tag: string, fullSize: boolean): FileOp[] {
  const ops: FileOp[] = [];
  const regular = existing.filter((p) => p !== 'latest');
  if (regular.length > 0) ops.push({ op: 'append', path: rng.pick(regular), bytes: rng.int(1, 8192) });
  ops.push({ op: 'write', path: `${rng.pick(DIRS)}${tag}-${rng.int(0, 9999)}.${rng.pick(EXTS)}`, bytes: fileSize(rng, fullSize) });
  const removable = regular.filter((p) => !ops.some((o) => o.path === p));
  if (removable.length >= 2) ops.push({ op: 'remove', path: rng.pick(removable) });
  return ops;
}

/** Paths that exist after applying ops to a set of paths. */
export function applyOps(paths: Set<string>, ops: readonly FileOp[]): Set<string> {
  const out = new Set(paths);
  for (const o of ops) {
    if (o.op === 'remove') out.delete(o.path);
    else out.add(o.path);
  }
  return out;
}

export function planProjects(hosts: readonly string[], opts: GenerateOptions): PlannedProject[] {
  const rf = opts.replicationFactor ?? 2;
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new Error(`generateProjects: count must be a non-negative integer, got ${opts.count}`);
  if (new Set(hosts).size !== hosts.length) throw new Error(`generateProjects: duplicate host names in ${hosts.join(', ')}`);
  if (rf < 1 || rf > hosts.length - 1) throw new Error(`generateProjects: replication factor ${rf} needs at least ${rf + 1} hosts, got ${hosts.length}`);
  const specials: ReplicaState[] = [
    ...Array<ReplicaState>(opts.divergedWrite ?? 1).fill('diverged-write'),
    ...Array<ReplicaState>(opts.divergedSnapshot ?? 1).fill('diverged-snapshot'),
    ...Array<ReplicaState>(opts.missingBaseOlderCommon ?? 1).fill('missing-base-older-common'),
    ...Array<ReplicaState>(opts.missingBaseNoCommon ?? 1).fill('missing-base-no-common'),
  ];
  if (specials.length > opts.count) throw new Error(`generateProjects: ${specials.length} broken replicas asked for, but only ${opts.count} projects`);
  const fullSize = opts.fullSize ?? false;
  const rng = seededRng(opts.seed);
  const changedFraction = opts.changedFraction ?? 0.3;
  const historyFraction = opts.historyFraction ?? 0.2;

  const projects: PlannedProject[] = [];
  for (let i = 0; i < opts.count; i++) {
    const id = rng.uuid();
    const source = hosts[i % hosts.length];
    const replicaHosts = rng.shuffle(hosts.filter((h) => h !== source)).slice(0, rf);
    const initialFiles = planFiles(rng, fullSize);
    const generations: 1 | 2 = rng.next() < historyFraction ? 2 : 1;
    projects.push({
      id,
      dataset: `projects/${id}`,
      source,
      quotaBytes: rng.pick(QUOTAS),
      generations,
      initialFiles,
      secondGeneration: [],
      afterReplication: [],
      replicas: replicaHosts.map((host) => ({ host, state: 'in-sync' as ReplicaState })),
    });
  }

  // Broken replicas on distinct projects, spread over source hosts; a missing base with an older
  // common snapshot needs two generations, a missing base with none left needs exactly one.
  const order = rng.shuffle(projects.map((_, i) => i));
  specials.forEach((state, k) => {
    const p = projects[order[k]];
    if (state === 'missing-base-older-common') p.generations = 2;
    if (state === 'missing-base-no-common') p.generations = 1;
    p.replicas[0].state = state;
  });
  const specialSet = new Set(order.slice(0, specials.length));

  projects.forEach((p, i) => {
    let paths = applyOps(new Set(), p.initialFiles);
    if (p.generations === 2) {
      p.secondGeneration = planChange(rng, [...paths], 'gen2', fullSize);
      paths = applyOps(paths, p.secondGeneration);
    }
    if (specialSet.has(i) || rng.next() < changedFraction) p.afterReplication = planChange(rng, [...paths], 'new', fullSize);
  });
  return projects;
}
