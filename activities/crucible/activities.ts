import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { StepOutput, VerifyOutcome } from '../../common/step';
import { crucibleCommands as c, runScript, type CreateSpec, type ServiceSpec } from './commands';
import { FALLBACK_BLOCK_SIZE } from '../../runbooks/seedRegions/schema';
import { parseDump, parseFilesystemOf, parseImageSectorSize, parsePoolHealth, type FilesystemFacts } from './parse';
import { paddedImageSha, readDirState, readListeners, readService, refuse, regionContentSha, type DirState, type PortState } from './read';

// The activities of runbook seedRegions (workflows/seedRegions.ts). Every act checks before it acts
// and gets absolute targets (directories, uuids, geometry) decided by the workflow, so running it
// again after a crash or a retry changes nothing that is already right.

export interface SeedTarget {
  dir: string;
  port: number;
  svdir: string;
}

export interface RegionFacts {
  dir: string;
  port: number;
  state: DirState;
  /** sha256 of the region's first ceil(image/block) blocks, when it is a readable region at least that big. */
  contentSha: string | null;
  filesystem: FilesystemFacts | null;
  filesystemError?: string;
  pool: { pool: string; health: string; freeBytes: number } | null;
  listener: PortState;
  repairListener: PortState;
  service: { supervised: boolean; state: string | null; pid: number | null; runScript: string };
}

export interface SeedFacts {
  tools: { crucibleDownstairs: string | null; runsv: string | null; sv: string | null; svlogd: string | null };
  /** sectorSize: the image's logical sector size from its GPT, null without one (absent in inspections recorded before it was read). */
  image: { path: string; bytes: number; sha256: string; paddedSha256: string; sectorSize?: number | null };
  regions: RegionFacts[];
}

function hostSession(host: string): HostSession {
  return new HostSession(sharedPool(), host);
}

/**
 * Step 1: everything the workflow decides from, read-only.
 * @param blockSize the input's; null: the image's sector size decides (as decideSeeding does)
 */
export async function inspectSeeding(host: string, image: string, blockSize: number | null | undefined, address: string, targets: SeedTarget[]): Promise<StepOutput<SeedFacts>> {
  const s = hostSession(host);
  const toolLines = (await s.check(c.tools())).stdout.split('\n').filter((l) => l.startsWith('/'));
  const find = (name: string) => toolLines.find((l) => l.endsWith(`/${name}`)) ?? null;
  const tools = { crucibleDownstairs: find('crucible-downstairs'), runsv: find('runsv'), sv: find('sv'), svlogd: find('svlogd') };
  const img = await s.run(c.imageFacts(image));
  if (img.record.exitCode !== 0) refuse(`the image ${image} cannot be read on ${host}: ${img.stderr.trim()}`, 'ImageMissing');
  const [size, shaLine] = img.stdout.trim().split('\n');
  const bytes = Number(size);
  const sha256 = shaLine.split(/\s+/)[0];
  if (!Number.isSafeInteger(bytes) || !/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`unexpected stat/sha256sum output: ${JSON.stringify(img.stdout.slice(0, 200))}`);
  if (bytes === 0) refuse(`the image ${image} is empty`, 'ImageEmpty');
  const sectorSize = parseImageSectorSize((await s.check(c.imageGptSignatures(image), { what: `reading ${image}'s GPT header` })).stdout);
  const paddedSha256 = await paddedImageSha(s, image, bytes, blockSize ?? sectorSize ?? FALLBACK_BLOCK_SIZE);
  const regions: RegionFacts[] = [];
  for (const t of targets) {
    const state = await readDirState(s, t.dir);
    let contentSha: string | null = null;
    if (state.kind === 'region' && state.def && state.meta) {
      const blocks = Math.ceil(bytes / state.def.block_size);
      if (blocks <= state.def.extent_count * state.def.extent_size.value) contentSha = await regionContentSha(s, t.dir, blocks);
    }
    let filesystem: FilesystemFacts | null = null;
    let filesystemError: string | undefined;
    let pool: RegionFacts['pool'] = null;
    const fs = await s.run(c.filesystemOf(t.dir));
    if (fs.record.exitCode === 0) {
      filesystem = parseFilesystemOf(fs.stdout);
      if (filesystem.fstype === 'zfs' || filesystem.fstype === 'fuse.zfs') {
        const p = await s.run(c.poolHealth(filesystem.source.split('/')[0]));
        if (p.record.exitCode === 0) pool = parsePoolHealth(p.stdout);
      }
    } else filesystemError = (fs.stderr || fs.stdout).trim().slice(-300);
    const svc = await readService(s, t.svdir);
    regions.push({
      dir: t.dir,
      port: t.port,
      state,
      contentSha,
      filesystem,
      ...(filesystemError ? { filesystemError } : {}),
      pool,
      ...(await readListeners(s, address, t.port)),
      service: { supervised: svc.supervised, state: svc.state, pid: svc.pid, runScript: svc.runScript },
    });
  }
  return s.output({ tools, image: { path: image, bytes, sha256, paddedSha256, sectorSize }, regions });
}

/** Before the undo is registered: the directories are still as inspected (nobody made a region there meanwhile). */
export async function confirmSeedTargets(host: string, expected: Array<{ dir: string; uuid: string; allowedUuids: string[] }>): Promise<StepOutput<string[]>> {
  const s = hostSession(host);
  for (const e of expected) {
    const st = await readDirState(s, e.dir);
    if (st.kind === 'region' && st.def && !e.allowedUuids.includes(st.def.uuid)) {
      refuse(`${e.dir} now holds region ${st.def.uuid}, which was not there when this run looked; nothing was changed. Run again to re-inspect.`, 'TargetChanged');
    }
  }
  return s.output(expected.map((e) => e.dir));
}

/** Approved replacement of what the workflow found in these directories (foreign regions or files). */
export async function removeForeignRegions(host: string, targets: Array<{ dir: string; foundUuid: string | null }>): Promise<StepOutput<string[]>> {
  const s = hostSession(host);
  const removed: string[] = [];
  for (const t of targets) {
    const st = await readDirState(s, t.dir);
    if (st.kind === 'absent' || st.kind === 'empty') continue;
    const uuid = st.kind === 'region' ? (st.def?.uuid ?? null) : null;
    if (uuid !== t.foundUuid)
      refuse(`${t.dir} changed since it was approved for replacement (found ${uuid ?? 'no region'}, approved ${t.foundUuid ?? 'no region'}); nothing more was removed`, 'TargetChanged');
    await s.check(c.removeDir(t.dir), { what: `removing ${t.dir}` });
    removed.push(t.dir);
  }
  return s.output(removed);
}

export interface CreateOutcome {
  dir: string;
  uuid: string;
  action: 'created' | 'recreated-partial' | 'kept';
  output: string;
}

/**
 * Step "create-regions": each region made from the image, idempotently. A complete region with this
 * run's uuid and the image's content is kept; one with this run's uuid that no upstairs ever wrote
 * (gen 0) but is unfinished or wrong (a failed import) is removed and made again; anything else in
 * the directory is refused (the workflow's approval step handles foreign regions before this).
 */
export async function createRegions(host: string, specs: CreateSpec[], imageBytes: number, paddedSha256: string): Promise<StepOutput<CreateOutcome[]>> {
  const s = hostSession(host);
  const out: CreateOutcome[] = [];
  for (const spec of specs) {
    const st = await readDirState(s, spec.dir);
    let action: CreateOutcome['action'] = 'created';
    if (st.kind === 'region') {
      if (!st.def) refuse(`${spec.dir} has a region.json this run cannot read (${st.defError}); not touching it`, 'ForeignRegion');
      if (st.def.uuid !== spec.uuid) refuse(`${spec.dir} holds region ${st.def.uuid}, not this run's ${spec.uuid}; not touching it`, 'ForeignRegion');
      const blocks = Math.ceil(imageBytes / spec.blockSize);
      const geometryOk = st.def.block_size === spec.blockSize && st.def.extent_size.value === spec.extentSize && st.def.extent_count === spec.extentCount;
      const clean = st.meta && !st.meta.anyDirty && !st.meta.anyUnflushed;
      if (geometryOk && clean && (await regionContentSha(s, spec.dir, blocks)) === paddedSha256) {
        out.push({ dir: spec.dir, uuid: spec.uuid, action: 'kept', output: "complete region with this uuid, geometry and the image's content" });
        continue;
      }
      if (st.meta && st.meta.maxGen > 0) {
        refuse(`${spec.dir} holds this run's region ${spec.uuid} but an upstairs has written to it (max gen ${st.meta.maxGen}); it is not a failed import, so it is not replaced`, 'RegionInUse');
      }
      await s.check(c.removeDir(spec.dir), { what: `removing the unfinished region in ${spec.dir}` });
      action = 'recreated-partial';
    } else if (st.kind === 'files' || st.kind === 'not-a-directory') {
      refuse(`${spec.dir} holds something that is not a region (${st.kind === 'files' ? st.names.join(', ') : 'not a directory'}); not touching it`, 'ForeignRegion');
    }
    const r = await s.check(c.create(spec), { what: `creating region ${spec.uuid} in ${spec.dir}`, timeoutMs: 60 * 60_000 });
    out.push({ dir: spec.dir, uuid: spec.uuid, action, output: r.stdout.trim() });
  }
  return s.output(out);
}

export interface VerifiedRegions {
  block_size: number;
  blocks_per_extent: number;
  extent_count: number;
  maxGen: number;
  maxFlush: number;
  regions: Array<{ dir: string; uuid: string; contentSha: string }>;
  dump: string;
}

/** Step "verify-regions": each region's export equals the padded image; dump of the three agrees; geometry read back from region.json. */
export async function verifyRegions(host: string, regions: Array<{ dir: string; uuid: string }>, imageBytes: number, paddedSha256: string): Promise<StepOutput<VerifiedRegions>> {
  const s = hostSession(host);
  const checked: VerifiedRegions['regions'] = [];
  let geometry: { block_size: number; blocks_per_extent: number; extent_count: number } | null = null;
  for (const r of regions) {
    const st = await readDirState(s, r.dir);
    if (st.kind !== 'region' || !st.def) refuse(`${r.dir} holds no readable region after create`, 'VerifyFailed');
    if (st.def.uuid !== r.uuid) refuse(`${r.dir} holds region ${st.def.uuid}, expected ${r.uuid}`, 'VerifyFailed');
    const g = { block_size: st.def.block_size, blocks_per_extent: st.def.extent_size.value, extent_count: st.def.extent_count };
    if (geometry && JSON.stringify(g) !== JSON.stringify(geometry)) refuse(`the regions differ in geometry: ${JSON.stringify(geometry)} vs ${JSON.stringify(g)} in ${r.dir}`, 'VerifyFailed');
    geometry = g;
    const sha = await regionContentSha(s, r.dir, Math.ceil(imageBytes / g.block_size));
    if (sha !== paddedSha256) refuse(`${r.dir}: export of the image's blocks has sha256 ${sha}, the image zero-padded to a block ${paddedSha256}`, 'VerifyFailed');
    checked.push({ dir: r.dir, uuid: r.uuid, contentSha: sha });
  }
  const d = await s.run(c.dump(regions.map((r) => r.dir)));
  if (d.record.exitCode !== 0) refuse(`dump of the three regions shows differences: ${(d.stderr || d.stdout).trim().slice(-500)}`, 'VerifyFailed');
  const table = parseDump(d.stdout, regions.length);
  return s.output({ ...geometry!, maxGen: table.maxGen, maxFlush: table.maxFlush, regions: checked, dump: d.stdout });
}

export interface SupervisedService {
  svdir: string;
  port: number;
  pid: number;
  /** This run installed or changed the service (the undo removes only those). */
  changed: boolean;
}

async function waitServing(s: HostSession, address: string, port: number, uuid: string, timeoutMs: number): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const p = (await readListeners(s, address, port)).listener;
    if (p.state === 'serving' && p.info.region.uuid === uuid) return null;
    last = p.state === 'serving' ? `serves region ${p.info.region.uuid}` : p.state === 'free' ? 'nothing listens' : p.detail;
    if (Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Step "start-downstairs": one runit service per region (run script: `crucible-downstairs run`),
 * supervised by runsv, which starts it again whenever it dies. Idempotent: a service already
 * running this region is left alone; a changed run script is rewritten and the service restarted.
 */
export async function superviseDownstairs(host: string, dsBin: string, services: ServiceSpec[], timeoutSeconds: number): Promise<StepOutput<SupervisedService[]>> {
  const s = hostSession(host);
  const out: SupervisedService[] = [];
  for (const svc of services) {
    const want = `${runScript(dsBin, svc).join('\n')}\n`;
    const before = await readService(s, svc.svdir);
    let changed = false;
    if (before.runScript !== want) {
      await s.check(c.installService(svc.svdir, runScript(dsBin, svc)), { what: `writing the service ${svc.svdir}` });
      changed = true;
    }
    await s.check(c.startSupervisor(svc.svdir), { what: `starting runsv for ${svc.svdir}` });
    // runsv needs a moment to create supervise/; sv up fails until then.
    for (let i = 0; ; i++) {
      const up = await s.run(c.svUp(svc.svdir));
      if (up.record.exitCode === 0) break;
      if (i > 50) throw new Error(`sv up ${svc.svdir} keeps failing: ${(up.stderr || up.stdout).trim()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (changed && before.supervised && before.state === 'run') await s.check(c.svRestart(svc.svdir), { what: `restarting ${svc.svdir} with its new run script` });
    const problem = await waitServing(s, svc.address, svc.port, svc.uuid, timeoutSeconds * 1000);
    if (problem) throw new Error(`the downstairs of ${svc.dir} does not answer on ${svc.address}:${svc.port} within ${timeoutSeconds}s (${problem}); its log: ${svc.svdir}/log/main/current`);
    const after = await readService(s, svc.svdir);
    out.push({ svdir: svc.svdir, port: svc.port, pid: after.pid ?? -1, changed });
  }
  return s.output(out);
}

/** The start step's verify: each port takes connections and its repair server names its region's uuid, under a running service. */
export async function checkDownstairs(host: string, services: ServiceSpec[]): Promise<StepOutput<VerifyOutcome>> {
  const s = hostSession(host);
  const problems: string[] = [];
  for (const svc of services) {
    const st = await readService(s, svc.svdir);
    if (st.state !== 'run') problems.push(`${svc.svdir} is ${st.supervised ? st.state : 'not supervised'}`);
    const p = (await readListeners(s, svc.address, svc.port)).listener;
    if (p.state !== 'serving' || p.info.region.uuid !== svc.uuid) problems.push(`${svc.address}:${svc.port} ${p.state === 'serving' ? `serves ${p.info.region.uuid}` : p.state}`);
  }
  return s.output({ ok: problems.length === 0, detail: problems.length ? problems.join('; ') : `${services.length} downstairs serve their regions under runsv` });
}

/** Undo of the start step: stop and remove the services this run installed. */
export async function removeDownstairsServices(host: string, svdirs: string[]): Promise<StepOutput<string[]>> {
  const s = hostSession(host);
  for (const d of svdirs) await s.check(c.removeService(d), { what: `stopping and removing ${d}`, timeoutMs: 120_000 });
  return s.output(svdirs);
}

/**
 * Undo registered before the create (a create can leave a partial directory): remove each
 * directory this run was to make, but only while it holds this run's region (its uuid) or an
 * unfinished one without region.json; anything else there is someone else's and stays.
 */
export async function removeSeededRegions(host: string, regions: Array<{ dir: string; uuid: string }>): Promise<StepOutput<string[]>> {
  const s = hostSession(host);
  const removed: string[] = [];
  for (const r of regions) {
    const st = await readDirState(s, r.dir);
    if (st.kind === 'absent') continue;
    const ours = (st.kind === 'region' && st.def?.uuid === r.uuid) || st.kind === 'empty';
    if (!ours) continue;
    await s.check(c.removeDir(r.dir), { what: `removing ${r.dir}` });
    removed.push(r.dir);
  }
  return s.output(removed);
}
