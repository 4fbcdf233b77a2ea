import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { StepOutput } from '../../common/step';
import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import {
  cloudInitWaitCommand,
  createFilePoolCommand,
  createPoolCommand,
  destroyFilePoolCommand,
  destroyOwnedPoolCommand,
  listPoolsCommand,
  poolVdevCommand,
  resolvePartitionCommand,
  verifyPoolCommand,
  type PoolSpec,
} from './commands';

// maasRepartition's work on the deployed machine over SSH: cloud-init, stable partition paths, and
// the pools (created once, verified, destroyed only when this run made them).

const poolLine = z.tuple([z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]*$/), z.string()]);

export async function hostPools(host: string): Promise<StepOutput<Array<{ name: string; health: string }>>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.check(listPoolsCommand());
  return s.output(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => poolLine.parse(l.split('\t')))
      .map(([name, health]) => ({ name, health })),
  );
}

export async function cloudInitWait(host: string, timeoutMs: number): Promise<StepOutput<string>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.run(cloudInitWaitCommand(), { timeoutMs });
  const status = /status: (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
  if (status !== 'done')
    throw ApplicationFailure.create({
      message: `cloud-init on ${host} ended with status ${status} (exit ${r.record.exitCode}); the machine is Deployed in MAAS but not usable`,
      type: 'CloudInitNotDone',
      nonRetryable: true,
      details: [r.record],
    });
  return s.output(status);
}

const resolvedSchema = z.object({ device: z.string().regex(/^\/dev\/[A-Za-z0-9]+$/), size: z.coerce.number().int().positive(), stable: z.string().regex(/^\/dev\/disk\/by-partuuid\/[0-9a-f-]+$/) });
export type ResolvedPartition = z.infer<typeof resolvedSchema> & { dname: string };

/** Each MAAS partition path (by-dname, which OpenZFS does not search) to its by-partuuid link. */
export async function resolvePartitions(host: string, dnamePaths: string[]): Promise<StepOutput<ResolvedPartition[]>> {
  const s = new HostSession(sharedPool(), host);
  const out: ResolvedPartition[] = [];
  for (const dname of dnamePaths) {
    const r = await s.check(resolvePartitionCommand(dname), { what: `resolving ${dname}` });
    const [device, size, stable] = r.stdout.trim().split(' ');
    out.push({ dname, ...resolvedSchema.parse({ device, size, stable }) });
  }
  return s.output(out);
}

export interface PoolCreated {
  pool: string;
  /** True when this run created it (now or in an earlier attempt): only then does the undo destroy it. */
  ours: boolean;
  vdev: string;
}

/** zpool create once; a pool that exists must be on the intended vdev, else the operator decides. */
export async function createPool(host: string, spec: PoolSpec, runId: string, kind: 'partition' | 'file', fileBytes = 0): Promise<StepOutput<PoolCreated>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.check(kind === 'file' ? createFilePoolCommand(spec, fileBytes, runId) : createPoolCommand(spec, runId), { what: `creating pool ${spec.pool}`, okExitCodes: [0, 5] });
  if (r.record.exitCode === 5) {
    // A file this run did not make is in the way: retrying cannot help, the operator decides.
    throw ApplicationFailure.create({
      message: `${r.stderr.trim() || `${spec.vdev} exists and this run did not make it`} (on ${host}); move it away or pick another loopFiles.dir, then run again`,
      type: 'VdevFileNotOurs',
      nonRetryable: true,
      details: s.commands,
    });
  }
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (line === 'created') return s.output({ pool: spec.pool, ours: true, vdev: spec.vdev });
  const owner = line.replace(/^exists /, '');
  const vdev = (await s.check(poolVdevCommand(spec.pool))).stdout.trim();
  // zpool status names a vdev relative to /dev (disk/by-partuuid/…), or by its last component.
  const same = [spec.vdev, spec.vdev.replace(/^\/dev\//, ''), spec.vdev.split('/').pop()!].includes(vdev);
  if (!same) {
    throw ApplicationFailure.create({
      message: `pool ${spec.pool} already exists on ${host} on ${vdev}, not on ${spec.vdev}; destroy or rename it if it is not needed, then run again`,
      type: 'PoolExistsElsewhere',
      nonRetryable: true,
      details: s.commands,
    });
  }
  return s.output({ pool: spec.pool, ours: owner === runId, vdev: spec.vdev });
}

export async function destroyPool(host: string, pool: string, runId: string, file?: string): Promise<StepOutput<string>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.check(file ? destroyFilePoolCommand(pool, file, runId) : destroyOwnedPoolCommand(pool, runId));
  return s.output(r.stdout.trim().replace(/\n/g, ', '));
}

const verifySchema = z.object({ health: z.string(), available: z.coerce.number(), used: z.coerce.number(), mountpoint: z.string(), mounted: z.string(), atime: z.string() });
export type PoolFacts = z.infer<typeof verifySchema>;

export async function verifyPool(host: string, pool: string): Promise<StepOutput<PoolFacts>> {
  const s = new HostSession(sharedPool(), host);
  const r = await s.check(verifyPoolCommand(pool));
  const [health, available, used, mountpoint, mounted, atime] = r.stdout.trim().split('|');
  return s.output(verifySchema.parse({ health, available, used, mountpoint, mounted, atime }));
}
