import { ApplicationFailure } from '@temporalio/activity';
import type { HostSession } from '../ssh/session';
import { crucibleCommands as c } from './commands';
import { listenerState, parseDump, parseRegionJson, parseRepairRegionInfo, parseSvStatus, type PortState, type RegionDefFile, type SvStatus } from './parse';
import { REPAIR_PORT_OFFSET } from '../../runbooks/seedRegions/schema';

// Reads shared by the seedRegions activities: what a region directory holds, a region's content
// hash over the image's blocks, what listens on a port, what runit says about a service.

export type DirState =
  | { kind: 'absent' }
  | { kind: 'empty' }
  | { kind: 'not-a-directory' }
  | { kind: 'files'; names: string[] }
  | {
      kind: 'region';
      /** null when region.json cannot be read as a region definition. */
      def: RegionDefFile | null;
      defError?: string;
      /** Extent metadata from `dump`; null when dump fails (extent files missing or short: a create cut short). */
      meta: { maxGen: number; maxFlush: number; anyDirty: boolean; anyUnflushed: boolean } | null;
      metaError?: string;
    };

export function refuse(message: string, type = 'PreconditionFailed'): never {
  throw ApplicationFailure.nonRetryable(message, type);
}

export async function readDirState(session: HostSession, dir: string): Promise<DirState> {
  const r = await session.check(c.dirState(dir), { what: `looking at ${dir}` });
  const [first, ...rest] = r.stdout.split('\n');
  switch (first) {
    case 'absent':
    case 'empty':
    case 'not-a-directory':
      return { kind: first };
    case 'files':
      return { kind: 'files', names: rest.filter((l) => l !== '') };
    case 'region': {
      let def: RegionDefFile | null = null;
      let defError: string | undefined;
      try {
        def = parseRegionJson(rest.join('\n'));
      } catch (err) {
        defError = (err as Error).message;
      }
      if (!def) return { kind: 'region', def, defError, meta: null, metaError: 'region.json unreadable' };
      const d = await session.run(c.dump([dir]));
      if (d.record.exitCode !== 0) return { kind: 'region', def, meta: null, metaError: (d.stderr || d.stdout).trim().slice(-300) };
      const t = parseDump(d.stdout, 1);
      const complete = t.rows.length === def.extent_count;
      return {
        kind: 'region',
        def,
        meta: { maxGen: t.maxGen, maxFlush: t.maxFlush, anyDirty: t.rows.some((x) => x.dirty[0]), anyUnflushed: !complete || t.rows.some((x) => x.flush[0] === 0) },
        ...(complete ? {} : { metaError: `dump shows ${t.rows.length} of ${def.extent_count} extents` }),
      };
    }
    default:
      throw new Error(`unexpected answer looking at ${dir}: ${JSON.stringify(r.stdout.slice(0, 200))}`);
  }
}

/** sha256 of the first `blocks` blocks of the region. */
export async function regionContentSha(session: HostSession, dir: string, blocks: number): Promise<string> {
  const r = await session.check(c.exportSha(dir, blocks), { what: `exporting ${blocks} blocks of ${dir}`, timeoutMs: 30 * 60_000 });
  const sha = r.stdout.trim().split(/\s+/)[0];
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`sha256sum printed ${JSON.stringify(r.stdout.slice(0, 100))}`);
  return sha;
}

export async function paddedImageSha(session: HostSession, image: string, bytes: number, blockSize: number): Promise<string> {
  const pad = Math.ceil(bytes / blockSize) * blockSize - bytes;
  const r = await session.check(c.paddedImageSha(image, pad), { what: `hashing ${image} padded to ${blockSize}-byte blocks`, timeoutMs: 30 * 60_000 });
  const sha = r.stdout.trim().split(/\s+/)[0];
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`sha256sum printed ${JSON.stringify(r.stdout.slice(0, 100))}`);
  return sha;
}

export type { PortState };

/** What answers on a downstairs port and on its repair port (port + 4000), as Crucible's own tools would ask. */
export async function readListeners(session: HostSession, address: string, port: number): Promise<{ listener: PortState; repairListener: PortState }> {
  const repairPort = port + REPAIR_PORT_OFFSET;
  const info = await session.run(c.repairRegionInfo(address, repairPort));
  const repairListener = parseRepairRegionInfo(info.record.exitCode ?? -1, info.stdout);
  const tcp = await session.run(c.tcpAccepts(address, port));
  return { listener: listenerState(tcp.record.exitCode ?? -1, repairPort, repairListener), repairListener };
}

export async function readService(session: HostSession, svdir: string): Promise<SvStatus & { runScript: string }> {
  const script = (await session.check(c.readRunScript(svdir))).stdout;
  const st = await session.run(c.svStatus(svdir));
  return { ...parseSvStatus(st.stdout), runScript: script };
}
