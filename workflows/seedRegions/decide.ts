import type { RegionFacts, SeedFacts } from '../../activities/crucible/activities';
import type { SeedRegionsInput } from '../../runbooks/seedRegions/schema';
import { extentFileTooBig, FALLBACK_BLOCK_SIZE, OMICRON_EXTENT_BYTES } from '../../runbooks/seedRegions/schema';

// Pure decisions of seedRegions from one inspection: the geometry, what to do with each directory,
// and what blocks the run. No I/O: the workflow calls it, tests can too.

export interface Geometry {
  blockSize: number;
  extentSize: number;
  /** The count create is given: the input's, or what the image needs (import would grow it anyway). */
  extentCount: number;
  imageBlocks: number;
}

export type RegionAction =
  /** Absent or empty: create it. */
  | { kind: 'create' }
  /** This run's uuid, never written by an upstairs (gen 0), unfinished or not the image: a failed import; remove and create. */
  | { kind: 'recreate-partial' }
  /** A complete region with the uuid, geometry and the image's content: keep. */
  | { kind: 'keep' }
  /** Someone else's region or files: replacing it destroys data, so it needs approval. */
  | { kind: 'replace-foreign'; foundUuid: string | null; why: string };

export interface RegionDecision {
  dir: string;
  port: number;
  uuid: string;
  action: RegionAction;
}

export interface SeedDecision {
  geometry: Geometry;
  regions: RegionDecision[];
  blockers: string[];
}

/** @param imageSectorSize the image's logical sector size from its GPT (absent: none, or an inspection from before it was read) */
export function geometryFor(input: SeedRegionsInput, imageBytes: number, imageSectorSize?: number | null): Geometry {
  const blockSize = input.blockSize ?? imageSectorSize ?? FALLBACK_BLOCK_SIZE;
  const extentSize = input.extentSize ?? OMICRON_EXTENT_BYTES / blockSize;
  const imageBlocks = Math.ceil(imageBytes / blockSize);
  const needed = Math.max(1, Math.ceil(imageBlocks / extentSize));
  return { blockSize, extentSize, extentCount: Math.max(input.extentCount ?? needed, needed), imageBlocks };
}

function matchesImage(f: RegionFacts, g: Geometry, paddedSha: string): boolean {
  const st = f.state;
  if (st.kind !== 'region' || !st.def || !st.meta) return false;
  return (
    st.def.block_size === g.blockSize && st.def.extent_size.value === g.extentSize && st.def.extent_count === g.extentCount && !st.meta.anyDirty && !st.meta.anyUnflushed && f.contentSha === paddedSha
  );
}

/** Bytes a region takes on its pool: the image's blocks with their context slots, plus a margin. */
export function regionBytesNeeded(g: Geometry): number {
  return g.imageBlocks * (g.blockSize + 48) + 16 * 1024 * 1024;
}

/**
 * @param newUuid a fresh uuid for regions without one in the input (the workflow's deterministic uuid4)
 */
export function decideSeeding(input: SeedRegionsInput, facts: SeedFacts, newUuid: () => string): SeedDecision {
  const g = geometryFor(input, facts.image.bytes, facts.image.sectorSize);
  const blockers: string[] = [];
  const tooBig = extentFileTooBig(input.extentSize, g.blockSize);
  if (tooBig) blockers.push(`${tooBig} (the block size ${g.blockSize} is the image's sector size): give a smaller extentSize, or a blockSize`);
  const host = input.host;
  if (!facts.tools.crucibleDownstairs) blockers.push(`crucible-downstairs is not on the PATH of ${host}: install it (seed 003: cargo build --release -p crucible-downstairs) before seeding`);
  if (!facts.tools.runsv || !facts.tools.sv || !facts.tools.svlogd) blockers.push(`runit (runsv, sv, svlogd) is not installed on ${host}: the downstairs are supervised by it (apt-get install runit)`);
  if (input.image.sha256 && input.image.sha256 !== facts.image.sha256) {
    blockers.push(`the image ${facts.image.path} has sha256 ${facts.image.sha256}, not the expected ${input.image.sha256}: nothing was made from it`);
  }
  const regions = facts.regions.map((f, n): RegionDecision => {
    const given = input.regions[n].uuid;
    const st = f.state;
    const found = st.kind === 'region' ? (st.def?.uuid ?? null) : null;
    const matches = matchesImage(f, g, facts.image.paddedSha256);
    const uuid = given ?? (matches && found ? found : undefined) ?? newUuid();
    let action: RegionAction;
    if (st.kind === 'absent' || st.kind === 'empty') action = { kind: 'create' };
    else if (st.kind === 'region' && found === uuid && matches) action = { kind: 'keep' };
    else if (st.kind === 'region' && found === uuid && (st.meta === null || st.meta.maxGen === 0)) action = { kind: 'recreate-partial' };
    else if (st.kind === 'region' && found === uuid) {
      blockers.push(
        `${f.dir} holds this run's region ${uuid}, but an upstairs has written to it (max gen ${st.meta?.maxGen}) and it no longer matches the image: seeding again would destroy that data; use another directory or remove it by hand`,
      );
      action = { kind: 'keep' };
    } else {
      const why =
        st.kind === 'region'
          ? `it holds region ${found ?? '(unreadable region.json)'}${st.def ? `, ${st.def.block_size}-byte blocks × ${st.def.extent_size.value} × ${st.def.extent_count} extents` : ''}, not ${matches ? "this run's uuid" : 'the image with this geometry'}`
          : st.kind === 'files'
            ? `it holds files that are not a region (${st.names.join(', ')})`
            : 'it is not a directory';
      action = { kind: 'replace-foreign', foundUuid: found, why };
      if (st.kind === 'not-a-directory') blockers.push(`${f.dir} exists and is not a directory; remove it by hand`);
    }
    if (action.kind !== 'keep') {
      if (!f.filesystem) blockers.push(`cannot tell which filesystem would hold ${f.dir}: ${f.filesystemError ?? 'unknown'}`);
      else {
        if (f.pool && f.pool.health !== 'ONLINE') blockers.push(`pool ${f.pool.pool} (holding ${f.dir}) is ${f.pool.health}, not ONLINE`);
        const need = regionBytesNeeded(g);
        if (f.filesystem.availBytes < need) blockers.push(`${f.filesystem.mount} (holding ${f.dir}) has ${f.filesystem.availBytes} bytes free, the region needs about ${need}`);
      }
    }
    // The port: free, or already serving exactly this region (a rerun).
    for (const [port, l] of [
      [f.port, f.listener],
      [f.port + 4000, f.repairListener],
    ] as const) {
      if (l.state === 'not-downstairs') blockers.push(`port ${port} on ${input.address} is taken by something that is not a downstairs (${l.detail})`);
      else if (l.state === 'serving' && l.info.region.uuid !== uuid) {
        const ours = f.service.runScript.includes(` -d ${f.dir} `) && f.service.runScript.includes(` -p ${f.port} `);
        if (!ours) blockers.push(`port ${port} on ${input.address} serves region ${l.info.region.uuid}, not ${f.dir}'s; stop that downstairs first`);
      } else if (l.state === 'serving' && !f.service.supervised) {
        blockers.push(`port ${port} serves this region from a downstairs no supervisor runs (started by hand?); stop it so runit can run it`);
      }
    }
    return { dir: f.dir, port: f.port, uuid, action };
  });
  const sameFs = regions.flatMap((r, n) =>
    regions.slice(n + 1).flatMap((o, m) => {
      const a = facts.regions[n].filesystem;
      const b = facts.regions[n + 1 + m].filesystem;
      return a && b && a.source === b.source ? [`${r.dir} and ${o.dir} are on the same filesystem ${a.source}: one disk would hold two of the three copies`] : [];
    }),
  );
  blockers.push(...sameFs);
  return { geometry: g, regions, blockers };
}
