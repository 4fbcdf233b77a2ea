import { z } from 'zod';
import { bash } from '../../../activities/ssh/command';
import type { CheckReport, ScenarioContext, ScenarioOptions } from '../types';
import { paths } from './layout';
import { FILL_TEST, PYTHON } from './scripts';
import { HOST, LV_NAME, MiB, MOUNT_POINT, OBJECT_SERVICE_PORT, PV_COUNT, readonlyDataSizes, VG_NAME } from './sizes';

// The scenario's own judgement of the host, written from the incident's test-storage.sh (seed 002)
// and not from any runbook: each check asks the host's own tools (findmnt, the LVM commands,
// sha256sum, curl) and says what it saw. The fill test is the seed's "simulating object creation
// to trigger disk growth": it can only pass while something grows /data as it fills.

type Check = CheckReport['checks'][number];

export interface FillTestOptions {
  /** Write rate in MB/s (10^6 bytes); default 0: back to back, at the disk's full speed. */
  rateMBps?: number;
  /** Size of each file; default 1/40 of the target size (100 MiB at full size, as the seed's test-storage.sh). */
  fileBytes?: number;
  /**
   * Keep writing past the goal until a write fails, and pass only if it fails with ENOSPC once the
   * VG has no free extent left (the guard grew the volume as far as it could): the writer at disk
   * speed from the start to the end of the space.
   */
  untilVgFull?: boolean;
  /** Give up (and fail) after this long; default a minute plus the goal's bytes at 20 MB/s (or the rate). */
  timeoutMs?: number;
}

export interface FillTestResult {
  ok: boolean;
  /** Files written by this run. */
  files: number;
  /** Filesystem size at the end, and the size it had to reach (1.5 x target). */
  finalSizeBytes: number;
  goalBytes: number;
  seconds: number;
  /** Bytes written and the writer's average rate (MB/s, 10^6 bytes) over the whole test. */
  writtenBytes: number;
  writeMBps: number;
  /** The write that failed, if one did (with untilVgFull, the expected last one). */
  failure: { file: string; errno: string; error: string; usedPct: number; sizeBytes: number } | null;
  /** One line per file: size and usage after it, like the seed's "100M file created: /data/test/1 ( 18% disk used)". */
  log: string[];
  detail: string;
}

export interface CheckOptions extends ScenarioOptions {
  /** Run the fill test (default true); it runs only when every other check passed. */
  fillTest?: boolean | FillTestOptions;
}

const fillEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('file'), file: z.string(), usedPct: z.number(), sizeBytes: z.number(), t: z.number() }),
  z.object({ event: z.literal('done'), files: z.number(), sizeBytes: z.number(), usedPct: z.number(), seconds: z.number(), writtenBytes: z.number() }),
  z.object({ event: z.literal('gave-up'), files: z.number(), sizeBytes: z.number(), usedPct: z.number(), reason: z.string() }),
  z.object({ event: z.literal('write-failed'), file: z.string(), errno: z.string(), error: z.string(), sizeBytes: z.number(), usedPct: z.number(), seconds: z.number(), writtenBytes: z.number() }),
]);

async function vgFreeExtents(ctx: ScenarioContext): Promise<number | string> {
  const rows = await lvmJson(ctx, bash`vgs --reportformat json -o vg_name,vg_free_count ${VG_NAME}`, 'vg');
  return typeof rows === 'string' ? rows : Number(rows[0]?.vg_free_count ?? NaN);
}

/**
 * Write files of 100 MB (scaled: 1/40 of the target size) into /data/test back to back, at the
 * disk's full speed, until the filesystem has grown to 1.5 times the target size (or, with
 * untilVgFull, until the VG is out of space). Not one write may fail before that: an auto-grow guard
 * must keep ahead of the writes.
 */
export async function fillTest(ctx: ScenarioContext, opts: ScenarioOptions, fill: FillTestOptions = {}): Promise<FillTestResult> {
  const sizes = readonlyDataSizes(opts);
  const rate = fill.rateMBps ?? sizes.fillRateMBps;
  const fileBytes = fill.fileBytes ?? sizes.fillFileBytes;
  const goal = sizes.fillGoalBytes;
  const vgBytes = PV_COUNT * sizes.diskBytes;
  const maxFiles = Math.ceil((fill.untilVgFull ? vgBytes : goal) / fileBytes) * 2 + 10;
  const timeoutMs = fill.timeoutMs ?? Math.ceil(((fill.untilVgFull ? vgBytes : goal) / ((rate || 20) * 1e6)) * 1000) + 60_000;
  const began = Date.now();
  const r = await ctx.exec(bash`${PYTHON} -c ${FILL_TEST} ${`${MOUNT_POINT}/test`} ${MOUNT_POINT} ${fileBytes} ${fill.untilVgFull ? 0 : goal} ${rate} ${maxFiles}`, { timeoutMs });
  const events = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => fillEventSchema.parse(JSON.parse(l)));
  const log: string[] = [];
  let failure: FillTestResult['failure'] = null;
  let finalSize = 0;
  let files = 0;
  let detail = '';
  let written = 0;
  let seconds = (Date.now() - began) / 1000;
  let ok = false;
  for (const e of events) {
    if (e.event === 'file') {
      files++;
      finalSize = e.sizeBytes;
      log.push(`${Math.round(fileBytes / MiB)}M file created: ${e.file} (${String(e.usedPct).padStart(3)}% disk used, filesystem ${Math.round(e.sizeBytes / MiB)} MiB, t=${e.t}s)`);
    } else if (e.event === 'write-failed') {
      failure = { file: e.file, errno: e.errno, error: e.error, usedPct: e.usedPct, sizeBytes: e.sizeBytes };
      finalSize = e.sizeBytes;
      written = e.writtenBytes;
      seconds = e.seconds;
      detail = `writing ${e.file} failed with ${e.errno} (${e.error}) at ${e.usedPct}% of a ${Math.round(e.sizeBytes / MiB)} MiB filesystem`;
      if (fill.untilVgFull) {
        const free = await vgFreeExtents(ctx);
        ok = e.errno === 'ENOSPC' && free === 0;
        detail = ok
          ? `${files} files (${Math.round(written / MiB)} MiB) written back to back in ${e.seconds}s; the first failed write (ENOSPC) came only once ${VG_NAME} was out of space, /data grown to ${Math.round(e.sizeBytes / MiB)} MiB`
          : `${detail}, while ${VG_NAME} still had ${free} free extents: the guard fell behind`;
      }
    } else if (e.event === 'gave-up') {
      finalSize = e.sizeBytes;
      detail = `${e.reason}; the filesystem is ${Math.round(e.sizeBytes / MiB)} MiB`;
    } else {
      finalSize = e.sizeBytes;
      written = e.writtenBytes;
      seconds = e.seconds;
      ok = r.code === 0;
      detail = `${e.files} files (${Math.round(written / MiB)} MiB) written back to back in ${e.seconds}s; /data grew to ${Math.round(e.sizeBytes / MiB)} MiB (goal ${Math.round(goal / MiB)} MiB) without a failed write`;
    }
  }
  const writeMBps = seconds > 0 ? Math.round(written / 1e6 / seconds) : 0;
  if (!detail) detail = `the fill test exited ${r.code}: ${r.stderr.trim().slice(-500) || 'no output'}`;
  else if (written) detail += ` (${writeMBps} MB/s)`;
  return { ok, files, finalSizeBytes: finalSize, goalBytes: goal, seconds, writtenBytes: written, writeMBps, failure, log, detail };
}

const findmntSchema = z.object({
  filesystems: z.array(z.object({ target: z.string(), source: z.string(), fstype: z.string(), options: z.string() })),
});

/** `<cmd> --reportformat json` of the LVM tools: report[0][key] is a list of string-valued rows. */
function lvmReport<K extends string>(key: K, stdout: string): Array<Record<string, string>> {
  const schema = z.object({ report: z.array(z.record(z.string(), z.array(z.record(z.string(), z.string())))) });
  const parsed = schema.parse(JSON.parse(stdout));
  return parsed.report[0]?.[key] ?? [];
}

async function checkWritable(ctx: ScenarioContext): Promise<Check> {
  const name = `${MOUNT_POINT} is mounted read-write and a write succeeds`;
  const r = await ctx.exec(bash`findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS ${MOUNT_POINT}`);
  if (r.code !== 0) return { name, ok: false, detail: `${MOUNT_POINT} is not mounted (findmnt exit ${r.code})` };
  const fs = findmntSchema.parse(JSON.parse(r.stdout)).filesystems[0];
  const mode = fs.options.split(',')[0];
  const probe = await ctx.exec(bash`f=${MOUNT_POINT}/.readonly-data-check.$$; echo probe > "$f" && sync "$f" && rm -f "$f"`);
  const ok = mode === 'rw' && probe.code === 0;
  return {
    name,
    ok,
    detail: `${fs.source} on ${fs.target} (${fs.fstype}, ${fs.options.split(',').slice(0, 2).join(',')}); write probe ${probe.code === 0 ? 'succeeded' : `failed: ${probe.stderr.trim()}`}`,
  };
}

async function lvmJson(ctx: ScenarioContext, script: string, key: string): Promise<Array<Record<string, string>> | string> {
  const r = await ctx.exec(script);
  if (r.code !== 0) return `${script.split(' ')[0]} exited ${r.code}: ${r.stderr.trim()}`;
  return lvmReport(key, r.stdout);
}

async function checkPvs(ctx: ScenarioContext, opts: ScenarioOptions): Promise<Check[]> {
  const sizes = readonlyDataSizes(opts);
  const countName = `${VG_NAME} has ${PV_COUNT} PVs`;
  const sizeName = `every PV of ${VG_NAME} spans a whole ${Math.round(sizes.diskBytes / MiB)} MiB disk`;
  const rows = await lvmJson(ctx, bash`pvs --reportformat json -o pv_name,vg_name,pv_size,dev_size,pe_start --units b --nosuffix`, 'pv');
  if (typeof rows === 'string')
    return [
      { name: countName, ok: false, detail: rows },
      { name: sizeName, ok: false, detail: rows },
    ];
  const mine = rows.filter((r) => r.vg_name === VG_NAME);
  const problems: string[] = [];
  const seen: string[] = [];
  for (const pv of mine) {
    const dev = Number(pv.dev_size);
    const size = Number(pv.pv_size);
    const peStart = Number(pv.pe_start);
    seen.push(`${pv.pv_name} ${Math.round(size / MiB)}/${Math.round(dev / MiB)} MiB`);
    if (Math.abs(dev - sizes.diskBytes) > MiB) problems.push(`${pv.pv_name} is a ${Math.round(dev / MiB)} MiB device, not a ${Math.round(sizes.diskBytes / MiB)} MiB disk`);
    // A PV spanning its device loses only its data offset (1 MiB normally) and the rounding to extents.
    if (dev - size >= 2 * sizes.extentBytes) {
      problems.push(`${pv.pv_name} uses ${Math.round(size / MiB)} MiB of its ${Math.round(dev / MiB)} MiB (data offset ${Math.round(peStart / MiB)} MiB)`);
    }
  }
  return [
    { name: countName, ok: mine.length === PV_COUNT, detail: `${mine.length} PVs: ${mine.map((p) => p.pv_name).join(', ') || 'none'}` },
    { name: sizeName, ok: mine.length > 0 && problems.length === 0, detail: problems.length ? problems.join('; ') : seen.join(', ') },
  ];
}

async function checkLv(ctx: ScenarioContext, opts: ScenarioOptions): Promise<Check[]> {
  const sizes = readonlyDataSizes(opts);
  const lvName = `${VG_NAME}/${LV_NAME} is at least ${sizes.targetSize}`;
  const fsName = `the filesystem on ${MOUNT_POINT} fills ${VG_NAME}/${LV_NAME}`;
  const rows = await lvmJson(ctx, bash`lvs --reportformat json -o lv_name,vg_name,lv_size --units b --nosuffix ${`${VG_NAME}/${LV_NAME}`}`, 'lv');
  if (typeof rows === 'string' || rows.length === 0) {
    const detail = typeof rows === 'string' ? rows : 'no such LV';
    return [
      { name: lvName, ok: false, detail },
      { name: fsName, ok: false, detail },
    ];
  }
  const lvBytes = Number(rows[0].lv_size);
  const fsBytes = await filesystemBytes(ctx);
  return [
    { name: lvName, ok: lvBytes >= sizes.targetBytes, detail: `${LV_NAME} is ${lvBytes / MiB} MiB (target ${sizes.targetBytes / MiB} MiB)` },
    {
      // The filesystem's own block count, not df's size (which leaves out its log and metadata):
      // an LV extended without resizing its filesystem shows here.
      name: fsName,
      ok: typeof fsBytes === 'number' && fsBytes >= lvBytes - sizes.extentBytes,
      detail: typeof fsBytes === 'number' ? `filesystem of ${Math.round(fsBytes / MiB)} MiB on a ${lvBytes / MiB} MiB LV` : fsBytes,
    },
  ];
}

/** Size of the filesystem mounted at /data by its own count of blocks: xfs_info for xfs, dumpe2fs for ext*. */
async function filesystemBytes(ctx: ScenarioContext): Promise<number | string> {
  const m = await ctx.exec(bash`findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS ${MOUNT_POINT}`);
  if (m.code !== 0) return `${MOUNT_POINT} is not mounted`;
  const fs = findmntSchema.parse(JSON.parse(m.stdout)).filesystems[0];
  if (fs.fstype === 'xfs') {
    const r = await ctx.exec(bash`xfs_info ${MOUNT_POINT}`);
    const data = /^data\s+=.*?bsize=(\d+)\s+blocks=(\d+)/m.exec(r.stdout);
    return data ? Number(data[1]) * Number(data[2]) : `xfs_info ${MOUNT_POINT} exited ${r.code}: ${r.stderr.trim()}`;
  }
  if (fs.fstype.startsWith('ext')) {
    const r = await ctx.exec(bash`dumpe2fs -h ${fs.source} 2>/dev/null`);
    const count = /^Block count:\s+(\d+)/m.exec(r.stdout);
    const size = /^Block size:\s+(\d+)/m.exec(r.stdout);
    return count && size ? Number(count[1]) * Number(size[1]) : `dumpe2fs -h ${fs.source} exited ${r.code}`;
  }
  return `cannot size a ${fs.fstype} filesystem`;
}

async function checkObjects(ctx: ScenarioContext): Promise<Check> {
  const name = `every object in ${MOUNT_POINT}/objects matches its checksum`;
  const manifest = paths(ctx.hostDir).objectsManifest;
  const r = await ctx.exec(bash`cd ${`${MOUNT_POINT}/objects`} && sha256sum --quiet --strict -c ${manifest}; echo "exit=$?"; wc -l < ${manifest}`, { timeoutMs: 600_000 });
  const lines = r.stdout.trim().split('\n');
  const total = Number(lines.pop());
  const exit = lines.pop();
  const bad = lines.filter((l) => /: FAILED/.test(l));
  const ok = exit === 'exit=0' && bad.length === 0 && total > 0;
  return { name, ok, detail: ok ? `${total} objects verified` : `${bad.length} of ${total} objects fail (${exit}): ${[...bad, r.stderr.trim()].filter(Boolean).slice(0, 5).join('; ')}` };
}

async function checkService(ctx: ScenarioContext): Promise<Check> {
  const url = `http://${HOST.address}:${OBJECT_SERVICE_PORT}/`;
  const r = await ctx.exec(bash`curl -s -o /dev/null -w '%{http_code}' --max-time 3 ${url}`);
  const code = r.stdout.trim();
  return { name: `the object service answers ${url}`, ok: code === '200', detail: code === '200' ? 'HTTP 200' : `HTTP ${code || 'none'} (curl exit ${r.code})` };
}

export async function checkReadonlyData(ctx: ScenarioContext, opts: CheckOptions): Promise<CheckReport> {
  const checks: Check[] = [await checkWritable(ctx), ...(await checkPvs(ctx, opts)), ...(await checkLv(ctx, opts)), await checkObjects(ctx), await checkService(ctx)];
  const fill = opts.fillTest ?? true;
  if (fill !== false) {
    const name = `fill test: a writer at disk speed fills ${MOUNT_POINT}, which grows to ${Math.round(readonlyDataSizes(opts).fillGoalBytes / MiB)} MiB with no failed write`;
    if (checks.every((c) => c.ok)) {
      const result = await fillTest(ctx, opts, fill === true ? {} : fill);
      checks.push({ name, ok: result.ok, detail: result.detail });
    } else {
      checks.push({ name, ok: false, detail: 'not run: the checks above must pass first' });
    }
  }
  return { ok: checks.every((c) => c.ok), checks };
}
