import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseZfsGet } from '../activities/zfs/get';
import { replicationSnapshotShortName } from '../activities/zfs/names';
import { LEDGER } from '../activities/zfs-replication/ledger';
import { POOL, zfsHostPaths } from '../lab/zfs/daemon';
import type { ScenarioContext } from '../lab/scenarios/types';
import { must } from './zfs-lab';

// For the no-change sweep benchmark at scale: N empty projects already in the state a successful
// replicateProjects leaves them (every replica holds the source's snapshot by guid, unmounted,
// read-only, with the source's quota and a current ledger), made without a first sweep of N
// children. The replica's properties travel in the stream: each source is created with them
// (`zfs create -o`, one command), snapshotted with the pool's `zfs snapshot -r` (one txg), given its
// snapshot's guid, sent with -p (so every replica receives them as `received` values, which the
// ledger reads like local ones) and then marked role=source. Every per-dataset command runs in
// parallel lanes per host (xargs -P), hosts at once. Sources are never mounted (canmount=noauto):
// zfs-fuse mounts at most 1,000 filesystems per daemon, and mounted copies read no slower
// (bench/zfs-mounted-read.ts).

const LANES = 6;

async function lanes(h: Pick<ScenarioContext, 'exec' | 'host' | 'hostDir'>, what: string, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  const dir = path.join(zfsHostPaths(h.hostDir).root, 'inline-generator');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${what.replace(/\W+/g, '-')}-${randomUUID().slice(0, 8)}.txt`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  // One bash per line, LANES at once; any failure fails the whole phase (xargs exits 123).
  await must(h as ScenarioContext, `xargs -P ${LANES} -d '\\n' -n 1 bash -c <${file} && rm -f ${file}`);
}

export interface InlineProject {
  id: string;
  source: string;
  replicas: string[];
}

export async function generateInlineProjects(
  hosts: ReadonlyArray<Pick<ScenarioContext, 'exec' | 'host' | 'hostDir'>>,
  count: number,
): Promise<{ projects: InlineProject[]; timingsMs: Record<string, number> }> {
  const timingsMs: Record<string, number> = {};
  let mark = Date.now();
  const lap = (name: string) => {
    timingsMs[name] = Date.now() - mark;
    mark = Date.now();
  };
  const names = hosts.map((h) => h.host);
  const projects: InlineProject[] = Array.from({ length: count }, (_, i) => {
    const source = names[i % names.length];
    return { id: randomUUID(), source, replicas: names.filter((n) => n !== source).slice(0, 2) };
  });
  const snap = replicationSnapshotShortName(new Date());
  const at = new Date().toISOString();
  const quota = 512 * 2 ** 20;
  const sourcedOn = (h: string) => projects.filter((p) => p.source === h);

  // 1. Sources, with the properties their replicas must end up with (sent along with -p).
  await Promise.all(
    hosts.map((h) =>
      lanes(
        h,
        'create',
        sourcedOn(h.host).map(
          (p) =>
            `zfs create -o canmount=noauto -o readonly=on -o quota=${quota} -o ${LEDGER.role}=replica -o ${LEDGER.lastSnapshot}=${snap} -o ${LEDGER.receivedAt}=${at} -o ${LEDGER.receivedFrom}=${h.host} ${POOL}/${p.id}`,
        ),
      ),
    ),
  );
  lap('create');
  // 2. One snapshot for all of a host's sources (its pool holds nothing else yet), then each one's guid.
  const guids = new Map<string, string>();
  await Promise.all(
    hosts.map(async (h) => {
      await must(h as ScenarioContext, `zfs snapshot -r ${POOL}@${snap} && zfs destroy ${POOL}@${snap}`);
      for (const o of parseZfsGet(await must(h as ScenarioContext, `zfs get -Hp -r -o name,property,value,source guid ${POOL}`))) if (o.kind === 'snapshot' && o.guid) guids.set(o.dataset, o.guid);
    }),
  );
  lap('snapshot');
  const streams = (h: Pick<ScenarioContext, 'hostDir'>) => path.join(zfsHostPaths(h.hostDir).root, 'inline-streams');
  await Promise.all(
    hosts.map(async (h) => {
      mkdirSync(streams(h), { recursive: true });
      await lanes(
        h,
        'send',
        sourcedOn(h.host).map((p) => {
          const ds = `${POOL}/${p.id}`;
          const guid = guids.get(ds);
          if (!guid) throw new Error(`no guid for ${ds}@${snap} on ${h.host}`);
          return `zfs set ${LEDGER.lastGuid}=${guid} ${ds} && zfs send -p ${ds}@${snap} >${streams(h)}/${p.id} && zfs set ${LEDGER.role}=source ${ds}`;
        }),
      );
    }),
  );
  lap('send');
  const byName = new Map(hosts.map((h) => [h.host, h]));
  await Promise.all(
    hosts.map((h) =>
      lanes(
        h,
        'receive',
        projects.filter((p) => p.replicas.includes(h.host)).map((p) => `zfs recv -u ${POOL}/${p.id} <${streams(byName.get(p.source) as ScenarioContext)}/${p.id}`),
      ),
    ),
  );
  lap('receive');
  await Promise.all(hosts.map((h) => must(h as ScenarioContext, `rm -rf ${streams(h)}`)));
  return { projects, timingsMs };
}
