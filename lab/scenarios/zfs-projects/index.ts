import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scenarioContext } from '../../scenario-context';
import { bash } from '../../../activities/ssh/command';
import { POOL, startZfsFuse, stopZfsFuse, zfsHostPaths, zfsHostStatus } from '../../zfs/daemon';
import type { CheckReport, LabScenario, ScenarioContext, ScenarioOptions } from '../types';
import { checkProjectReplicas } from './check';
import { generateProjects } from './generate';
import { projectsManifestSchema, type ProjectsManifest } from './manifest';

// Seed 001's ZFS plan in the lab: compute hosts, each with its OWN pool `projects` (a sparse file
// served by the host's own zfs-fuse daemon), holding projects `projects/<uuid>` with replicas on the
// other hosts, "already brought up to date by a previous replication", then left in the states a
// replication sweep meets (see generate.ts). The check says whether every project served by a host
// is replicated: each replica has the source's newest snapshot by guid and nothing after it, the
// same files byte for byte, is unmounted and has the source's quota, and the source has nothing
// unreplicated. Right after lab up the check FAILS on purpose (changed sources, diverged replicas,
// missing bases, no quotas on replicas); a replication runbook is judged by making it pass.

export const ZFS_PROJECTS_HOSTS = [
  { name: 'compute1', address: '127.0.0.31' },
  { name: 'compute2', address: '127.0.0.32' },
  { name: 'compute3', address: '127.0.0.33' },
];

export interface ZfsProjectsScenarioOptions {
  name?: string;
  hosts?: Array<{ name: string; address: string }>;
  /** Projects made at build time (after the last host's pool exists); null for empty pools. */
  projects?: { count: number; fullSizeCount: number; seed: string } | null;
  /** Sparse pool image sizes (apparent). */
  poolBytes?: number;
  fullSizePoolBytes?: number;
}

const GiB = 2 ** 30;

/** The manifest generateProjects wrote for this host's lab, or null when none was generated. */
export function readProjectsManifest(hostDir: string): ProjectsManifest | null {
  const file = path.join(zfsHostPaths(hostDir).root, 'projects-manifest.json');
  if (!existsSync(file)) return null;
  return projectsManifestSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

export function writeProjectsManifest(hostDir: string, manifest: ProjectsManifest): void {
  const file = path.join(zfsHostPaths(hostDir).root, 'projects-manifest.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

async function projectCount(ctx: Pick<ScenarioContext, 'exec' | 'host'>): Promise<number> {
  const r = await ctx.exec(bash`zfs list -H -o name -t filesystem -d 1 ${POOL}`);
  if (r.code !== 0) throw new Error(`cannot list ${POOL} on ${ctx.host}: ${r.stderr.trim()}`);
  return r.stdout.split('\n').filter((n) => /^projects\/[0-9a-f-]{36}$/.test(n)).length;
}

export function createZfsProjectsScenario(o: ZfsProjectsScenarioOptions = {}): LabScenario {
  const hosts = o.hosts ?? ZFS_PROJECTS_HOSTS;
  const envCount = Number(process.env.RUNBOOK_LAB_ZFS_PROJECTS);
  const projects =
    o.projects === undefined ? { count: Number.isInteger(envCount) && envCount >= 0 && process.env.RUNBOOK_LAB_ZFS_PROJECTS ? envCount : 24, fullSizeCount: 1000, seed: 'zfs-projects' } : o.projects;
  return {
    name: o.name ?? 'zfs-projects',
    description: `${hosts.map((h) => h.name).join(', ')}: one zfs-fuse pool "projects" each, projects/<uuid> with replicas on the other hosts, some changed, one replica diverged, one missing its base, quotas on sources only`,
    hosts,
    async build(ctx: ScenarioContext, opts: ScenarioOptions) {
      const t = Date.now();
      const started = await startZfsFuse(ctx, { poolBytes: opts.fullSize ? (o.fullSizePoolBytes ?? 64 * GiB) : (o.poolBytes ?? 8 * GiB) });
      ctx.log(`zfs ready in ${Date.now() - t} ms (daemon ${started.timings.daemonMs} ms, pool ${started.timings.poolMs} ms)`);
      // Projects span hosts, so they are made once, when the last host's pool exists.
      if (!projects || ctx.host !== hosts[hosts.length - 1].name) return;
      const handles = hosts.map((h) => (h.name === ctx.host ? ctx : scenarioContext(h.name, (line) => ctx.log(line))));
      const existing = await Promise.all(handles.map(projectCount));
      if (existing.some((n) => n > 0)) {
        ctx.log(
          `projects already exist (${existing.join('/')} on ${hosts.map((h) => h.name).join('/')}); not generating. For a fresh set: runbook lab up --rebuild --scenario ${o.name ?? 'zfs-projects'}`,
        );
        return;
      }
      const count = opts.fullSize ? projects.fullSizeCount : projects.count;
      const manifest = await generateProjects(handles, { count, seed: projects.seed, fullSize: opts.fullSize });
      for (const h of handles) writeProjectsManifest(h.hostDir, manifest);
      ctx.log(`generated ${count} projects in ${manifest.timingsMs.total} ms (${JSON.stringify(manifest.timingsMs)})`);
    },
    async check(ctx: ScenarioContext, opts: ScenarioOptions): Promise<CheckReport> {
      const checks: CheckReport['checks'] = [];
      const status = await zfsHostStatus(ctx);
      checks.push({ name: 'zfs-fuse daemon', ok: status.daemonPid !== null, detail: status.daemonPid !== null ? `pid ${status.daemonPid} in the host` : 'not running' });
      const ownImage = status.imagePath !== null && status.imagePath.startsWith(`${ctx.hostDir}/`);
      checks.push({
        name: `pool ${POOL}`,
        ok: status.poolHealth === 'ONLINE' && ownImage,
        detail: `health ${status.poolHealth ?? 'none'}, on ${status.imagePath ?? 'nothing'}${ownImage ? '' : " (not this host's own image)"}`,
      });
      const manifest = readProjectsManifest(ctx.hostDir);
      if (manifest && status.daemonPid !== null) {
        const mine = manifest.projects.filter((p) => p.source === ctx.host);
        const handles = manifest.hosts.map((h) => (h === ctx.host ? ctx : scenarioContext(h, (line) => ctx.log(line))));
        const special = mine.filter((p) => p.replicas.some((r) => r.state !== 'in-sync')).map((p) => p.id);
        const result = await checkProjectReplicas(
          handles,
          mine.map((p) => ({ id: p.id, source: p.source, replicas: p.replicas.map((r) => r.host) })),
          { compareContent: opts.fullSize ? 25 : 'all', alwaysCompare: special, requireQuota: true, compareSourceHead: true },
        );
        checks.push(...result.checks);
      }
      return { ok: checks.every((c) => c.ok), checks };
    },
    async teardown(ctx: ScenarioContext) {
      await stopZfsFuse(ctx);
    },
  };
}

/** The registered scenario: compute1-3 on 127.0.0.31-33, 24 projects (1000 at full size; env RUNBOOK_LAB_ZFS_PROJECTS overrides the fast count). */
export const zfsProjectsScenario = createZfsProjectsScenario();
export { checkProjectReplicas } from './check';
export { generateProjects } from './generate';
export type { ProjectsManifest, ProjectManifest, ReplicaState } from './manifest';
