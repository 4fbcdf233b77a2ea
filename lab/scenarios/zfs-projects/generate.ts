import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { relateReplica } from '../../../activities/zfs/common-snapshot';
import { parseZfsGet, snapshotsOf } from '../../../activities/zfs/get';
import { replicationSnapshotShortName } from '../../../activities/zfs/names';
import { bash, shq } from '../../../activities/ssh/command';
import { POOL, POOL_MOUNTPOINT, zfsHostPaths } from '../../zfs/daemon';
import type { ScenarioContext } from '../types';
import { projectsManifestSchema, type ProjectManifest, type ProjectsManifest, type ReplicaState } from './manifest';
import { applyOps, planProjects, type FileOp, type GenerateOptions, type PlannedProject } from './plan';

// Creates N projects `projects/<uuid>` spread over the lab's hosts, each already replicated to its
// replicas by "a previous replication" (full stream of the first snapshot, for some an increment to
// a second one; replicas received with -u and left canmount=noauto), then puts them in the states a
// replication runbook meets: sources changed since, sources unchanged, replicas diverged by a write
// or by a foreign snapshot, replicas that lost their base. Fast by construction: every phase is ONE
// script per host (hosts in parallel, each has its own zfs-fuse daemon), file contents are written by
// one perl process per host, and streams pass through files in the source host's state folder,
// which every lab host sees at the same path (ctx.exec returns text, a stream is binary).

export type ProjectHost = Pick<ScenarioContext, 'host' | 'hostDir' | 'exec'>;
export type { GenerateOptions } from './plan';

/**
 * Reads `W|A path bytes`, `L path target`, `R path` lines (tab-separated) from stdin: write or append
 * random bytes, make a symlink, remove a file. One process for thousands of files instead of one
 * `head -c` per file.
 */
const FILE_WRITER = String.raw`
use strict; use warnings;
use File::Path qw(make_path); use File::Basename qw(dirname);
open(my $rnd, '<:raw', '/dev/urandom') or die "urandom: $!";
my $buf;
while (my $line = <STDIN>) {
  chomp $line;
  my ($op, $path, $arg) = split /\t/, $line, 3;
  if ($op eq 'W' || $op eq 'A') {
    make_path(dirname($path));
    open(my $fh, $op eq 'W' ? '>:raw' : '>>:raw', $path) or die "$path: $!";
    my $left = $arg;
    while ($left > 0) {
      my $n = $left > 1048576 ? 1048576 : $left;
      read($rnd, $buf, $n) == $n or die "short read from /dev/urandom";
      print $fh $buf or die "$path: $!";
      $left -= $n;
    }
    close($fh) or die "$path: $!";
  } elsif ($op eq 'L') {
    make_path(dirname($path)); unlink $path; symlink($arg, $path) or die "symlink $path: $!";
  } elsif ($op eq 'R') {
    unlink($path) or die "remove $path: $!";
  } else { die "unknown op $op"; }
}
`;

function opLines(project: PlannedProject, ops: readonly FileOp[]): string {
  const root = `${POOL_MOUNTPOINT}/${project.id}`;
  return ops
    .map((o) => {
      const p = `${root}/${o.path}`;
      switch (o.op) {
        case 'write':
          return `W\t${p}\t${o.bytes}`;
        case 'append':
          return `A\t${p}\t${o.bytes}`;
        case 'symlink':
          return `L\t${p}\t${o.target}`;
        case 'remove':
          return `R\t${p}`;
      }
    })
    .map((l) => `${l}\n`)
    .join('');
}

let scriptCounter = 0;

/**
 * Run a batch script on a host. A batch for hundreds of projects is larger than the 128 KiB one
 * command-line argument may hold (E2BIG), so it goes into a file in the host's state folder, which
 * the host sees at the same path, and bash reads it from there; stdin stays free for `input`.
 */
async function runOn(h: ProjectHost, what: string, script: string, input?: string): Promise<string> {
  const dir = path.join(zfsHostPaths(h.hostDir).root, 'generator-scripts');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${process.pid}-${++scriptCounter}.sh`);
  writeFileSync(file, `set -euo pipefail\n${script}\n`);
  try {
    // Big batches on zfs-fuse can take minutes at full size.
    const r = await h.exec(bash`bash ${file}`, { input, timeoutMs: 60 * 60_000 });
    if (r.code !== 0) throw new Error(`generateProjects: ${what} on ${h.host} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
    return r.stdout;
  } finally {
    rmSync(file, { force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A replication snapshot name for "now" that differs from `previous` (names have one-second resolution). */
async function freshSnapshotName(previous: string | null): Promise<string> {
  for (;;) {
    const name = replicationSnapshotShortName(new Date());
    if (name !== previous) return name;
    await sleep(1000 - (Date.now() % 1000) + 5);
  }
}

/** Snapshot each dataset separately (zfs-fuse takes one snapshot per `zfs snapshot`). */
function snapshotEach(datasets: readonly string[], snap: string): string {
  return datasets.map((d) => bash`zfs snapshot ${`${d}@${snap}`}`).join('\n');
}

export async function generateProjects(hosts: readonly ProjectHost[], opts: GenerateOptions): Promise<ProjectsManifest> {
  const t0 = Date.now();
  const timingsMs: Record<string, number> = {};
  let mark = Date.now();
  const lap = (name: string) => {
    timingsMs[name] = Date.now() - mark;
    mark = Date.now();
  };
  const byName = new Map(hosts.map((h) => [h.host, h]));
  const plan = planProjects(
    hosts.map((h) => h.host),
    opts,
  );
  const sourcedOn = (h: string) => plan.filter((p) => p.source === h);
  const replicatedTo = (h: string) => plan.filter((p) => p.replicas.some((r) => r.host === h));
  const streamDir = (h: ProjectHost) => path.join(zfsHostPaths(h.hostDir).root, 'generator-streams');

  // 0. Refuse to touch a pool that already holds any of these projects: same seed, same UUIDs.
  await Promise.all(
    hosts.map(async (h) => {
      const names = new Set((await runOn(h, 'listing datasets', bash`zfs list -H -o name -t filesystem -r ${POOL}`)).split('\n'));
      const clash = plan.filter((p) => names.has(p.dataset));
      if (clash.length) throw new Error(`generateProjects: ${h.host} already has ${clash.length} of these projects (e.g. ${clash[0].dataset}); use another seed or rebuild the lab`);
    }),
  );
  lap('check');

  // 1. Sources: datasets with quotas, files, first snapshot. On a pool holding nothing but these new
  //    projects, one `zfs snapshot -r` (one txg) replaces hundreds of snapshots; the pool root's own
  //    snapshot is destroyed right after. Anywhere else (replicas already there) one by one.
  const first = await freshSnapshotName(null);
  await Promise.all(
    hosts.map(async (h) => {
      const mine = sourcedOn(h.host);
      if (mine.length === 0) return;
      const creates = mine.map((p) => bash`zfs create -o quota=${p.quotaBytes} ${p.dataset} </dev/null`).join('\n');
      const datasets = mine.map((p) => p.dataset);
      await runOn(
        h,
        'creating projects',
        `${creates}\n` +
          bash`perl -e ${FILE_WRITER}
if [ "$(zfs list -H -o name -t filesystem -r ${POOL} | wc -l)" -eq ${mine.length + 1} ]; then
  zfs snapshot -r ${`${POOL}@${first}`} && zfs destroy ${`${POOL}@${first}`}
else
` +
          `${snapshotEach(datasets, first)}\nfi\n`,
        mine.map((p) => opLines(p, p.initialFiles)).join(''),
      );
    }),
  );
  lap('createSources');

  // Send a set of increments (or full streams) through files, then receive them on every replica.
  const replicate = async (projects: readonly PlannedProject[], from: string | null, to: string, phase: string) => {
    await Promise.all(
      hosts.map(async (h) => {
        const mine = projects.filter((p) => p.source === h.host);
        if (mine.length === 0) return;
        const dir = streamDir(h);
        const sends = mine.map((p) => {
          const file = path.join(dir, `${p.id}@${to}.zstream`);
          return from === null ? bash`zfs send ${`${p.dataset}@${to}`} >${file}` : bash`zfs send -i ${`@${from}`} ${`${p.dataset}@${to}`} >${file}`;
        });
        await runOn(h, `${phase}: sending`, `mkdir -p ${shq(dir)}\n${sends.join('\n')}`);
      }),
    );
    await Promise.all(
      hosts.map(async (h) => {
        const incoming = projects.filter((p) => p.replicas.some((r) => r.host === h.host));
        if (incoming.length === 0) return;
        const recvs = incoming.map((p) => {
          const file = path.join(streamDir(byName.get(p.source) as ProjectHost), `${p.id}@${to}.zstream`);
          // A replica is kept unmounted: recv -u now, canmount=noauto so no later `zfs mount -a` or
          // daemon restart mounts it (zfs-fuse has no `recv -o`).
          return from === null ? bash`zfs recv -u ${p.dataset} <${file}\nzfs set canmount=noauto ${p.dataset}` : bash`zfs recv -u ${p.dataset} <${file}`;
        });
        await runOn(h, `${phase}: receiving`, recvs.join('\n'));
      }),
    );
    await Promise.all(hosts.map((h) => runOn(h, `${phase}: removing streams`, bash`rm -rf ${streamDir(h)}`)));
  };
  await replicate(plan, null, first, 'first replication');
  lap('firstReplication');

  // 2. History: a change and a second snapshot on some projects, sent as increments.
  const withHistory = plan.filter((p) => p.generations === 2);
  let second: string | null = null;
  if (withHistory.length > 0) {
    second = await freshSnapshotName(first);
    const snap = second;
    await Promise.all(
      hosts.map(async (h) => {
        const mine = withHistory.filter((p) => p.source === h.host);
        if (mine.length === 0) return;
        await runOn(
          h,
          'second generation',
          `${bash`perl -e ${FILE_WRITER}`}\n${snapshotEach(
            mine.map((p) => p.dataset),
            snap,
          )}`,
          mine.map((p) => opLines(p, p.secondGeneration)).join(''),
        );
      }),
    );
    await replicate(withHistory, first, snap, 'second replication');
  }
  lap('secondReplication');

  // 3. After the last replication: sources that changed, and the broken replicas.
  const detailOf = new Map<string, string>();
  await Promise.all(
    hosts.map(async (h) => {
      const changed = sourcedOn(h.host).filter((p) => p.afterReplication.length > 0);
      const breaks: string[] = [];
      for (const p of replicatedTo(h.host)) {
        const r = p.replicas.find((x) => x.host === h.host);
        if (!r || r.state === 'in-sync') continue;
        const last = p.generations === 2 ? (second as string) : first;
        const key = `${p.id}@${h.host}`;
        switch (r.state) {
          case 'diverged-write':
            // As an operator would: mount the replica, write into it, unmount it again.
            breaks.push(bash`zfs mount ${p.dataset}\nprintf 'edited on the replica\\n' >${`${POOL_MOUNTPOINT}/${p.id}/written-on-replica.txt`}\nzfs unmount ${p.dataset}`);
            detailOf.set(key, `mounted, wrote written-on-replica.txt, unmounted (after receiving @${last})`);
            break;
          case 'diverged-snapshot':
            breaks.push(bash`zfs snapshot ${`${p.dataset}@manual-on-replica`}`);
            detailOf.set(key, `snapshot @manual-on-replica taken on the replica after @${last}`);
            break;
          case 'missing-base-older-common':
            breaks.push(bash`zfs destroy ${`${p.dataset}@${last}`}`);
            detailOf.set(key, `@${last} destroyed on the replica; @${first} is still common`);
            break;
          case 'missing-base-no-common':
            breaks.push(bash`zfs destroy ${`${p.dataset}@${last}`}`);
            detailOf.set(key, `@${last}, its only snapshot, destroyed on the replica; its data stays`);
            break;
        }
      }
      const script = [changed.length > 0 ? bash`perl -e ${FILE_WRITER}` : '', ...breaks].filter(Boolean).join('\n');
      if (script) await runOn(h, 'changes after replication', script, changed.map((p) => opLines(p, p.afterReplication)).join(''));
    }),
  );
  lap('afterReplication');

  // 4. Read back what exists, by guid, for the manifest.
  const objectsByHost = new Map(
    await Promise.all(hosts.map(async (h) => [h.host, parseZfsGet(await runOn(h, 'reading snapshots', bash`zfs get -Hp -r -o name,property,value,source guid,createtxg ${POOL}`))] as const)),
  );
  lap('readBack');

  const projects: ProjectManifest[] = plan.map((p) => {
    const srcSnaps = snapshotsOf(objectsByHost.get(p.source) ?? [], p.dataset);
    const lastReplicated = p.generations === 2 ? (second as string) : first;
    let files = applyOps(new Set(), p.initialFiles);
    if (p.generations === 2) files = applyOps(files, p.secondGeneration);
    const lastOp = new Map<string, FileOp>();
    for (const o of [...p.initialFiles, ...(p.generations === 2 ? p.secondGeneration : [])]) lastOp.set(o.path, o);
    return {
      id: p.id,
      dataset: p.dataset,
      source: p.source,
      quotaBytes: p.quotaBytes,
      sourceState: p.afterReplication.length > 0 ? 'changed' : 'unchanged',
      lastReplicated,
      sourceSnapshots: srcSnaps.map((s) => ({ name: s.shortName, guid: s.guid, createtxg: s.createtxg })),
      files: [...files].sort().map((f) => {
        const o = lastOp.get(f);
        return o?.op === 'symlink' ? { path: f, kind: 'symlink' as const, target: o.target } : { path: f, kind: 'file' as const };
      }),
      changes: p.afterReplication.map((o) => ({ path: o.path, change: o.op === 'remove' ? ('removed' as const) : o.op === 'append' ? ('modified' as const) : ('added' as const) })),
      replicas: p.replicas.map((r) => {
        const snaps = snapshotsOf(objectsByHost.get(r.host) ?? [], p.dataset);
        const rel = relateReplica(srcSnaps, snaps);
        return {
          host: r.host,
          state: r.state as ReplicaState,
          snapshots: snaps.map((s) => ({ name: s.shortName, guid: s.guid, createtxg: s.createtxg })),
          newestCommon: 'base' in rel ? rel.base.source.shortName : null,
          detail: detailOf.get(`${p.id}@${r.host}`) ?? `received @${lastReplicated} with -u; canmount=noauto`,
        };
      }),
    };
  });
  timingsMs.total = Date.now() - t0;
  return projectsManifestSchema.parse({
    version: 1,
    seed: opts.seed,
    generatedAt: new Date().toISOString(),
    pool: POOL,
    hosts: hosts.map((h) => h.host),
    replicationFactor: opts.replicationFactor ?? 2,
    fullSize: opts.fullSize ?? false,
    snapshotNames: second ? [first, second] : [first],
    projects,
    timingsMs,
  });
}
