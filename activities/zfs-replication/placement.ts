import { sh, type ShellCommand } from '../ssh/command';
import { parseZfsGet, type ZfsObject } from '../zfs/get';
import { datasetNameSchema } from '../zfs/names';
import { LEDGER } from './ledger';

// Where each project lives, read from the hosts themselves: every host's pool lists its project
// copies with ONE `zfs get -d 1` (depth 1 from the pool: its children, not their snapshots). The copy
// that serves a project is marked `durable-runbooks:role=source`, or, on copies no runbook touched
// yet, is the one that mounts (replicas are canmount=noauto). A promotion by moveProject stamps
// `promoted-at`, so when a dead old source comes back still claiming the project, the newer claim
// wins and the old copy is treated as a (diverged) replica. Pure.

const PROJECT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Per-project replication factor, set by operators on the source copy (`zfs set durable-runbooks:replication-factor=3`). */
export const REPLICATION_FACTOR_PROPERTY = 'durable-runbooks:replication-factor';

export interface CopySummary {
  project: string;
  mounted: boolean;
  canmount: string | null;
  role: string | null;
  promotedAt: string | null;
  replicationFactor: number | null;
}

export function listCopiesCommand(pool: string): ShellCommand {
  datasetNameSchema.parse(pool);
  const props = ['mounted', 'canmount', LEDGER.role, LEDGER.promotedAt, REPLICATION_FACTOR_PROPERTY].join(',');
  return sh`zfs get -H -d 1 -o name,property,value,source ${props} ${pool}`;
}

/** Parse listCopiesCommand output: one summary per project dataset (pool/<uuid>); anything else is skipped. */
export function parseCopies(pool: string, stdout: string): CopySummary[] {
  return parseZfsGet(stdout).flatMap((o) => copySummaryOf(pool, o) ?? []);
}

/** A project copy's summary from its filesystem as zfs get read it (with at least listCopiesCommand's properties); null for anything that is not a project dataset. */
export function copySummaryOf(pool: string, o: ZfsObject): CopySummary | null {
  if (o.kind !== 'filesystem' || !o.name.startsWith(`${pool}/`) || !PROJECT.test(o.name.slice(pool.length + 1))) return null;
  // Only the copy's own values count: an inherited role or factor was set for another dataset.
  const own = (property: string) => {
    const p = o.userProperties[property];
    return p && (p.source === 'local' || p.source === 'received') ? p.value : null;
  };
  const factor = own(REPLICATION_FACTOR_PROPERTY);
  return {
    project: o.name.slice(pool.length + 1),
    mounted: o.mounted === true,
    canmount: o.canmount,
    role: own(LEDGER.role),
    promotedAt: own(LEDGER.promotedAt),
    replicationFactor: factor !== null && /^\d+$/.test(factor) ? Number(factor) : null,
  };
}

export interface HostCopies {
  host: string;
  /** Project copies on the host. */
  copies: number;
  /** Projects it serves (its copy claims the source role): moveProject's load measure. */
  serves: number;
}

export function claimsSource(c: CopySummary): boolean {
  if (c.role === 'source') return true;
  if (c.role === 'replica') return false;
  return c.mounted || c.canmount === 'on';
}

export function summarizeCopies(host: string, pool: string, stdout: string): HostCopies {
  const copies = parseCopies(pool, stdout);
  return { host, copies: copies.length, serves: copies.filter(claimsSource).length };
}

export interface Placement {
  project: string;
  source: string;
  replicas: string[];
  /** Replica hosts added to reach the replication factor (they get a full stream). */
  newReplicas: string[];
}

export interface PlacementProblem {
  project: string;
  reason: string;
  /** What the operator does about it. */
  remedy: string;
}

export interface PlacementInput {
  hosts: Array<{ host: string; copies: CopySummary[] } | { host: string; unreachable: string }>;
  replicationFactor: number;
  /** Only projects this host serves. */
  only?: string;
}

/**
 * Every project's source and replicas, sorted by project id (the sweep's cursor order). Deterministic:
 * new replicas go to the hosts with the fewest copies (then by name), counting the ones placed so far.
 */
export function placeProjects(input: PlacementInput): { placements: Placement[]; problems: PlacementProblem[] } {
  const reachable = input.hosts.filter((h): h is { host: string; copies: CopySummary[] } => 'copies' in h);
  const unreachable = input.hosts.filter((h): h is { host: string; unreachable: string } => 'unreachable' in h).map((h) => h.host);
  const load = new Map(reachable.map((h) => [h.host, h.copies.length]));
  const copiesOf = new Map<string, Array<{ host: string; copy: CopySummary }>>();
  for (const h of reachable) {
    for (const c of h.copies) {
      const list = copiesOf.get(c.project) ?? [];
      list.push({ host: h.host, copy: c });
      copiesOf.set(c.project, list);
    }
  }
  const placements: Placement[] = [];
  const problems: PlacementProblem[] = [];
  for (const project of [...copiesOf.keys()].sort()) {
    const copies = (copiesOf.get(project) ?? []).sort((a, b) => a.host.localeCompare(b.host));
    const claimants = copies.filter((c) => claimsSource(c.copy));
    let source: string | null = null;
    if (claimants.length === 1) source = claimants[0].host;
    else if (claimants.length > 1) {
      // A promotion stamps promoted-at: the newest stamp wins if it is the only one that new.
      const stamped = [...claimants].sort((a, b) => (b.copy.promotedAt ?? '').localeCompare(a.copy.promotedAt ?? ''));
      const newest = stamped[0].copy.promotedAt;
      if (newest && stamped.filter((c) => c.copy.promotedAt === newest).length === 1) source = stamped[0].host;
      else {
        problems.push({
          project,
          reason: `served by ${claimants.length} hosts at once (${claimants.map((c) => c.host).join(', ')}) and no promotion says which is current`,
          remedy: `decide which copy is current and make it the source with moveProject (it fences the others)`,
        });
        continue;
      }
    }
    if (source === null) {
      const down = unreachable.length ? ` (unreachable: ${unreachable.join(', ')}; if its source was there, move it with moveProject)` : '';
      problems.push({
        project,
        reason: `no reachable copy serves it; copies on ${copies.map((c) => c.host).join(', ')} are all replicas${down}`,
        remedy: unreachable.length ? `bring ${unreachable.join(', ')} back, or promote the most up-to-date replica with moveProject` : 'promote the most up-to-date replica with moveProject',
      });
      continue;
    }
    if (input.only && source !== input.only) continue;
    const replicas = copies.filter((c) => c.host !== source).map((c) => c.host);
    const factor = copies.find((c) => c.host === source)?.copy.replicationFactor ?? input.replicationFactor;
    const newReplicas: string[] = [];
    const candidates = [...load.keys()].filter((h) => h !== source && !replicas.includes(h));
    while (replicas.length + newReplicas.length < factor) {
      const next = candidates.filter((h) => !newReplicas.includes(h)).sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || a.localeCompare(b))[0];
      if (!next) break;
      newReplicas.push(next);
      load.set(next, (load.get(next) ?? 0) + 1);
    }
    placements.push({ project, source, replicas: [...replicas, ...newReplicas], newReplicas });
  }
  return { placements, problems };
}
