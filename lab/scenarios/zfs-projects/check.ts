import type { CheckReport, ScenarioContext } from '../types';
import { bash } from '../../../activities/ssh/command';
import { POOL } from '../../zfs/daemon';

// The independent judge of replication: whether each replica holds the source's newest snapshot (by
// guid), nothing after it, unmounted, with the source's quota, and the same files with the same
// bytes. It deliberately shares no code with activities/zfs (the runbook's parsers): it reads plain
// `zfs get -H` and hashes files, so a bug in the runbook's parsing cannot hide here.
//
// zfs-fuse has no .zfs/snapshot directory (verified, lab/zfs/README.md), so a snapshot's files are
// read through a temporary read-only clone under `projects/lab-check`, mounted in the host's private
// /run and destroyed again (with retries: right after an unmount zfs-fuse may say "dataset is busy").

export type CheckHost = Pick<ScenarioContext, 'host' | 'exec'>;

export interface ProjectPlacement {
  id: string;
  source: string;
  replicas: string[];
}

export interface ReplicaCheck {
  project: string;
  source: string;
  replica: string;
  /** The source's newest snapshot (short name), or null if it has none. */
  snapshot: string | null;
  /** The replica has a snapshot with that snapshot's guid. */
  hasSnapshot: boolean;
  /** ...and nothing newer. */
  newestOnReplica: boolean;
  mounted: boolean | null;
  sourceQuota: number | null;
  replicaQuota: number | null;
  /** Null when content was not compared for this replica (sampling). */
  contentEqual: boolean | null;
  /** Differences in `<kind> <path>` form, at most 20. */
  differences: string[];
  ok: boolean;
  problems: string[];
}

export interface ProjectsCheckResult extends CheckReport {
  replicas: ReplicaCheck[];
  /** Per project, whether the source's live files still equal its newest snapshot (when asked). */
  sourceHeads: Array<{ project: string; equal: boolean; differences: string[] }>;
}

export interface CheckOptions {
  /** Compare file contents for every replica ('all'), none, or a deterministic sample of this many projects plus `alwaysCompare`. */
  compareContent?: 'all' | 'none' | number;
  alwaysCompare?: string[];
  /** Require the replica's quota to equal the source's (the runbook must set it; plain send does not carry it). */
  requireQuota?: boolean;
  /** Also check the source's live files equal its newest snapshot (nothing left unreplicated). */
  compareSourceHead?: boolean;
}

interface DatasetFacts {
  mounted: boolean | null;
  quota: number | null;
  /** Snapshots oldest first: short name, guid. */
  snapshots: Array<{ name: string; guid: string; txg: number }>;
}

/** `zfs get -Hp -r -o name,property,value guid,createtxg,mounted,quota projects` → facts per dataset. */
async function readFacts(h: CheckHost): Promise<Map<string, DatasetFacts>> {
  const r = await h.exec(bash`zfs get -Hp -r -o name,property,value guid,createtxg,mounted,quota ${POOL}`, { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw new Error(`check: cannot list ZFS datasets on ${h.host}: ${r.stderr.trim()}`);
  const facts = new Map<string, DatasetFacts>();
  const snaps = new Map<string, { name: string; guid?: string; txg?: number }>();
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [name, prop, value] = line.split('\t');
    const at = name.indexOf('@');
    const ds = at < 0 ? name : name.slice(0, at);
    if (!facts.has(ds)) facts.set(ds, { mounted: null, quota: null, snapshots: [] });
    if (at >= 0) {
      const s = snaps.get(name) ?? { name: name.slice(at + 1) };
      if (prop === 'guid') s.guid = value;
      if (prop === 'createtxg') s.txg = Number(value);
      snaps.set(name, s);
    } else {
      const f = facts.get(ds) as DatasetFacts;
      if (prop === 'mounted') f.mounted = value === 'yes';
      if (prop === 'quota') f.quota = Number(value);
    }
  }
  for (const [full, s] of snaps) {
    const ds = full.slice(0, full.indexOf('@'));
    (facts.get(ds) as DatasetFacts).snapshots.push({ name: s.name, guid: s.guid ?? '', txg: s.txg ?? 0 });
  }
  for (const f of facts.values()) f.snapshots.sort((a, b) => a.txg - b.txg);
  return facts;
}

/**
 * Reads one target per line on stdin (kept on fd 3, so no command in the loop can eat it). For a
 * snapshot: clone it read-only under projects/lab-check, mount it in the host's private /run, print
 * its tree, unmount and destroy the clone (retrying while zfs-fuse says "dataset is busy", as it
 * does for a moment after an unmount). For a filesystem: print the tree of its mounted files. `tree`
 * prints one line per entry and one `h <sha256> <path>` per file, sorted. On exit, leftovers go.
 */
const TREES_SCRIPT = String.raw`set -u
exec 3<&0 </dev/null
err=$(mktemp); made=""
parent=projects/lab-check
tree() {
  (cd "$1" && {
    find . -mindepth 1 \( -type f -printf 'f %m %s %P\n' -o -type l -printf 'l %P -> %l\n' -o -type d -printf 'd %m %P\n' \)
    find . -type f -print0 | xargs -0 -r sha256sum | sed 's/^\([0-9a-f]*\)  \.\//h \1 /'
  } | LC_ALL=C sort)
}
drop() {
  zfs unmount "$1" 2>/dev/null
  for i in $(seq 100); do zfs destroy "$1" 2>/dev/null && break; sleep 0.1; done
  rmdir "$2" 2>/dev/null
  made=$(printf '%s\n' $made | grep -vxF -- "$1" | tr '\n' ' ')
}
cleanup() { for c in $made; do drop "$c" /nonexistent; done; zfs destroy "$parent" 2>/dev/null; rm -f "$err"; true; }
trap cleanup EXIT
zfs list -H -o name "$parent" >/dev/null 2>&1 || zfs create -o canmount=off -o mountpoint=none "$parent"
i=0
while IFS= read -r t <&3; do
  i=$((i + 1))
  echo "@@tree $t"
  case "$t" in
    *@*)
      clone="$parent/c$i"; mnt="/run/lab-check/c$i"
      if zfs clone -o readonly=on -o mountpoint="$mnt" "$t" "$clone" 2>"$err"; then
        made="$clone $made"
        if [ "$(zfs get -H -o value mounted "$clone")" = yes ]; then tree "$mnt"; else echo "@@error clone $clone is not mounted"; fi
        drop "$clone" "$mnt"
      else
        echo "@@error $(tr '\n' ' ' <"$err")"
      fi ;;
    *)
      if [ "$(zfs get -H -o value mounted "$t")" = yes ]; then tree "$(zfs get -H -o value mountpoint "$t")"; else echo "@@error $t is not mounted"; fi ;;
  esac
done
`;

/**
 * For each target (`pool/ds@snap`, or `pool/ds` for the live filesystem), the sorted list of
 * `f <mode> <size> <path>`, `l <path> -> <target>`, `d <mode> <path>` and `h <sha256> <path>` lines.
 * One script per host reading its targets from stdin (thousands of targets would not fit in one
 * command line); each clone is destroyed right after reading it, and on exit whatever is left.
 */
export async function readTrees(h: CheckHost, targets: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (targets.length === 0) return out;
  for (const t of targets) if (!/^[A-Za-z0-9_.:/@-]+$/.test(t)) throw new Error(`check: odd ZFS name ${JSON.stringify(t)}`);
  const script = TREES_SCRIPT;
  const r = await h.exec(script, { input: `${targets.join('\n')}\n`, timeoutMs: 30 * 60_000 });
  let current: string | null = null;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('@@tree ')) {
      current = line.slice('@@tree '.length);
      out.set(current, []);
    } else if (current !== null && line !== '') {
      (out.get(current) as string[]).push(line);
    }
  }
  for (const t of targets) if (!out.has(t)) throw new Error(`check: no tree for ${t} on ${h.host} (exit ${r.code}): ${r.stderr.trim().slice(-500)}`);
  return out;
}

function diffTrees(a: string[], b: string[], labels: [string, string] = ['source', 'replica']): string[] {
  const sa = new Set(a);
  const sb = new Set(b);
  return [...a.filter((l) => !sb.has(l)).map((l) => `only in ${labels[0]}: ${l}`), ...b.filter((l) => !sa.has(l)).map((l) => `only in ${labels[1]}: ${l}`)].slice(0, 20);
}

/** A stable pseudo-random order (by id hash) for sampling, so repeated checks look at the same projects. */
function sampleIds(ids: string[], n: number): Set<string> {
  const score = (s: string) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, 7);
  return new Set([...ids].sort((x, y) => score(x) - score(y)).slice(0, n));
}

/** Check every replica of the given projects against its source. */
export async function checkProjectReplicas(hosts: readonly CheckHost[], projects: readonly ProjectPlacement[], opts: CheckOptions = {}): Promise<ProjectsCheckResult> {
  const byName = new Map(hosts.map((h) => [h.host, h]));
  const needed = new Set(projects.flatMap((p) => [p.source, ...p.replicas]));
  for (const n of needed) if (!byName.has(n)) throw new Error(`check: no handle for host ${n}`);
  const facts = new Map(await Promise.all([...needed].map(async (n) => [n, await readFacts(byName.get(n) as CheckHost)] as const)));

  const mode = opts.compareContent ?? 'all';
  const compared =
    mode === 'all'
      ? new Set(projects.map((p) => p.id))
      : mode === 'none'
        ? new Set<string>()
        : new Set([
            ...sampleIds(
              projects.map((p) => p.id),
              mode,
            ),
            ...(opts.alwaysCompare ?? []),
          ]);

  const results: ReplicaCheck[] = [];
  const treeRequests = new Map<string, Set<string>>(); // host -> targets
  const want = (host: string, target: string) => {
    if (!treeRequests.has(host)) treeRequests.set(host, new Set());
    (treeRequests.get(host) as Set<string>).add(target);
  };
  for (const p of projects) {
    const ds = `${POOL}/${p.id}`;
    const src = facts.get(p.source)?.get(ds);
    const newest = src?.snapshots[src.snapshots.length - 1] ?? null;
    if (newest && compared.has(p.id)) want(p.source, `${ds}@${newest.name}`);
    if (newest && opts.compareSourceHead) {
      want(p.source, ds);
      want(p.source, `${ds}@${newest.name}`);
    }
    for (const replica of p.replicas) {
      const rep = facts.get(replica)?.get(ds);
      const problems: string[] = [];
      if (!src) problems.push(`source ${p.source} has no ${ds}`);
      else if (!newest) problems.push(`source ${p.source} has no snapshot of ${ds}`);
      if (!rep) problems.push(`replica ${replica} has no ${ds}`);
      const match = newest && rep ? rep.snapshots.find((s) => s.guid === newest.guid) : undefined;
      const newestOnReplica = !!match && rep?.snapshots[rep.snapshots.length - 1]?.guid === match.guid;
      if (newest && rep && !match)
        problems.push(`replica lacks @${newest.name} (guid ${newest.guid}); its newest is ${rep.snapshots.length ? `@${rep.snapshots[rep.snapshots.length - 1].name}` : 'none'}`);
      if (match && !newestOnReplica)
        problems.push(
          `replica has snapshots after @${newest?.name}: ${rep?.snapshots
            .slice(rep.snapshots.indexOf(match) + 1)
            .map((s) => `@${s.name}`)
            .join(', ')}`,
        );
      if (rep?.mounted) problems.push('replica is mounted');
      if (opts.requireQuota && src && rep && src.quota !== rep.quota) problems.push(`quota ${rep.quota} on the replica, ${src.quota} on the source`);
      if (match && compared.has(p.id)) want(replica, `${ds}@${match.name}`);
      results.push({
        project: p.id,
        source: p.source,
        replica,
        snapshot: newest?.name ?? null,
        hasSnapshot: !!match,
        newestOnReplica,
        mounted: rep?.mounted ?? null,
        sourceQuota: src?.quota ?? null,
        replicaQuota: rep?.quota ?? null,
        contentEqual: null,
        differences: [],
        ok: problems.length === 0,
        problems,
      });
    }
  }

  const trees = new Map<string, Map<string, string[]>>();
  await Promise.all(
    [...treeRequests].map(async ([host, targets]) => {
      trees.set(host, await readTrees(byName.get(host) as CheckHost, [...targets]));
    }),
  );
  for (const r of results) {
    if (!compared.has(r.project) || !r.hasSnapshot || r.snapshot === null) continue;
    const ds = `${POOL}/${r.project}`;
    const a = trees.get(r.source)?.get(`${ds}@${r.snapshot}`);
    const replicaFacts = facts.get(r.replica)?.get(ds);
    const srcGuid = facts
      .get(r.source)
      ?.get(ds)
      ?.snapshots.find((s) => s.name === r.snapshot)?.guid;
    const replicaSnap = replicaFacts?.snapshots.find((s) => s.guid === srcGuid);
    const b = replicaSnap ? trees.get(r.replica)?.get(`${ds}@${replicaSnap.name}`) : undefined;
    if (!a || !b) continue;
    const errors = [...a, ...b].filter((l) => l.startsWith('@@error'));
    r.differences = errors.length ? errors : diffTrees(a, b);
    r.contentEqual = r.differences.length === 0 && a.length > 0;
    if (!r.contentEqual) {
      r.ok = false;
      r.problems.push(
        errors.length ? `could not read the files: ${errors[0]}` : `files differ (${r.differences.length}${r.differences.length === 20 ? '+' : ''}): ${r.differences.slice(0, 3).join('; ')}`,
      );
    }
  }

  const sourceHeads: ProjectsCheckResult['sourceHeads'] = [];
  if (opts.compareSourceHead) {
    for (const p of projects) {
      const ds = `${POOL}/${p.id}`;
      const src = facts.get(p.source)?.get(ds);
      const newest = src?.snapshots[src.snapshots.length - 1];
      const t = trees.get(p.source);
      const head = t?.get(ds);
      const snap = newest ? t?.get(`${ds}@${newest.name}`) : undefined;
      if (!head || !snap) {
        sourceHeads.push({ project: p.id, equal: false, differences: ['no snapshot or not mounted'] });
        continue;
      }
      const differences = diffTrees(snap, head, [`@${newest?.name}`, 'the live source']);
      sourceHeads.push({ project: p.id, equal: differences.length === 0, differences });
    }
  }

  const checks = [
    ...results.map((r) => ({
      name: `${r.project} on ${r.replica}`,
      ok: r.ok,
      detail: r.ok ? `@${r.snapshot} by guid${r.contentEqual ? ', same files' : ''}, unmounted` : r.problems.join('; '),
    })),
    ...sourceHeads.map((s) => ({
      name: `${s.project} source head`,
      ok: s.equal,
      detail: s.equal ? 'no change since the newest snapshot' : `changed since the newest snapshot: ${s.differences.slice(0, 3).join('; ')}`,
    })),
  ];
  return { ok: checks.every((c) => c.ok), checks, replicas: results, sourceHeads };
}
