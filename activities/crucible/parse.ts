import { z } from 'zod';

// Parsers for what the storage host prints: region.json, dump's table, findmnt's JSON, a
// downstairs' region-info answer, runit's `sv status`. Each validates with zod; anything else is
// an error that names what was expected.

export const regionDefSchema = z.object({
  block_size: z.number().int().positive(),
  extent_size: z.object({ value: z.number().int().positive(), shift: z.number().int() }),
  extent_count: z.number().int().positive(),
  uuid: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  encrypted: z.boolean(),
  database_read_version: z.number().int(),
  database_write_version: z.number().int(),
});
export type RegionDefFile = z.infer<typeof regionDefSchema>;

export function parseRegionJson(text: string): RegionDefFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`region.json is not JSON: ${(err as Error).message}`);
  }
  return regionDefSchema.parse(raw);
}

export interface ExtentMetaRow {
  extent: number;
  /** One entry per region dumped. */
  gen: number[];
  flush: number[];
  dirty: boolean[];
}

export interface DumpTable {
  rows: ExtentMetaRow[];
  maxGen: number;
  maxFlush: number;
}

/** `dump --no-color` of one to three regions (domain-apis.md B2). */
export function parseDump(text: string, regions: number): DumpTable {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const last = lines.pop() ?? '';
  const m = /^Max gen: (\d+),  Max flush: (\d+)$/.exec(last);
  if (!m) throw new Error(`dump output does not end with "Max gen: G,  Max flush: F": ${JSON.stringify(last.slice(0, 120))}`);
  const rows: ExtentMetaRow[] = [];
  for (const line of lines) {
    if (/^\s*EXT\s+BLOCKS/.test(line)) continue;
    const words = line.trim().split(/\s+/);
    // EXT, BLOCKS, GEN×n, FL×n, D×n, optional <---
    if (words.length < 2 + 3 * regions || !/^\d+$/.test(words[0]) || !/^\d+-\d+$/.test(words[1])) throw new Error(`unexpected dump line: ${JSON.stringify(line)}`);
    const nums = (from: number) =>
      words.slice(from, from + regions).map((w) => {
        if (!/^\d+$/.test(w)) throw new Error(`unexpected dump line: ${JSON.stringify(line)}`);
        return Number(w);
      });
    const dirty = words.slice(2 + 2 * regions, 2 + 3 * regions).map((w) => {
      if (w !== 'T' && w !== 'F') throw new Error(`unexpected dump line: ${JSON.stringify(line)}`);
      return w === 'T';
    });
    rows.push({ extent: Number(words[0]), gen: nums(2), flush: nums(2 + regions), dirty });
  }
  return { rows, maxGen: Number(m[1]), maxFlush: Number(m[2]) };
}

const findmntSchema = z.object({
  filesystems: z.array(z.object({ target: z.string(), source: z.string(), fstype: z.string() })).min(1),
});

export interface FilesystemFacts {
  mount: string;
  source: string;
  fstype: string;
  availBytes: number;
}

export function parseFilesystemOf(stdout: string): FilesystemFacts {
  const cut = stdout.lastIndexOf('}');
  // Mounts stacked on one target are listed bottom first, and a path resolves to the top one: a pool
  // that zfs mounted over a bind mount of the same directory (proper-raptor's /crucible1) is the last.
  const fs = findmntSchema.parse(JSON.parse(stdout.slice(0, cut + 1))).filesystems.at(-1)!;
  const avail = stdout.slice(cut + 1).trim();
  if (!/^\d+$/.test(avail)) throw new Error(`df printed ${JSON.stringify(avail)}, not a byte count`);
  return { mount: fs.target, source: fs.source, fstype: fs.fstype, availBytes: Number(avail) };
}

export function parsePoolHealth(stdout: string): { pool: string; health: string; freeBytes: number } {
  const [pool, health, free] = stdout.trim().split('\t');
  if (!pool || !health || !/^\d+$/.test(free ?? '')) throw new Error(`unexpected zpool list output: ${JSON.stringify(stdout.slice(0, 200))}`);
  return { pool, health, freeBytes: Number(free) };
}

/** "EFI PART", the GPT header's signature, as od -An -tx1 prints it without spaces. */
const GPT_SIGNATURE_HEX = '4546492050415254';

/** imageGptSignatures' output → the image's logical sector size (where its GPT header is), or null without a GPT. */
export function parseImageSectorSize(stdout: string): number | null {
  for (const line of stdout.split('\n')) {
    const [at, hex] = line.trim().split(' ');
    if (hex === GPT_SIGNATURE_HEX && /^\d+$/.test(at)) return Number(at);
  }
  return null;
}

/** What a port tells of the region it serves (from the repair server's RegionDefinition). */
export interface RegionInfo {
  region: { block_size: number; blocks_per_extent: number; extent_count: number; uuid: string };
}
export type PortState = { state: 'free' } | { state: 'serving'; info: RegionInfo } | { state: 'not-downstairs'; detail: string };

/** `curl -sS -w '\n%{http_code}\n' http://ADDR:PORT+4000/region-info`: a downstairs, nothing (curl 7), or something else. */
export function parseRepairRegionInfo(code: number, stdout: string): PortState {
  if (code === 7) return { state: 'free' };
  const lines = stdout.trimEnd().split('\n');
  const status = lines.pop() ?? '';
  const body = lines.join('\n');
  const what = `curl exit ${code}, HTTP ${status || 'none'}, answered ${JSON.stringify(body.slice(0, 120))}`;
  if (code !== 0 || status !== '200') return { state: 'not-downstairs', detail: what };
  try {
    const def = regionDefSchema.parse(JSON.parse(body));
    return { state: 'serving', info: { region: { block_size: def.block_size, blocks_per_extent: def.extent_size.value, extent_count: def.extent_count, uuid: def.uuid } } };
  } catch {
    return { state: 'not-downstairs', detail: what };
  }
}

/**
 * The upstairs' port: nothing (7), or whatever accepts there judged by its repair server: a
 * downstairs answers region-info on port + 4000; a port that takes connections without one is
 * somebody else's.
 */
export function listenerState(tcpExit: number, repairPort: number, repair: PortState): PortState {
  if (tcpExit === 7) return { state: 'free' };
  if (tcpExit !== 0) return { state: 'not-downstairs', detail: `connecting timed out or failed (exit ${tcpExit})` };
  if (repair.state === 'serving') return repair;
  return { state: 'not-downstairs', detail: `takes connections, but nothing answers GET /region-info on port ${repairPort}` };
}

export interface SvStatus {
  /** runsv supervises the service. */
  supervised: boolean;
  /** run: the process is up; down: stopped; null: not supervised. */
  state: 'run' | 'down' | 'finish' | null;
  pid: number | null;
  seconds: number | null;
}

/** `sv status DIR`: "run: /etc/sv/x: (pid 123) 45s; run: log: (pid 124) 45s", "down: ...", "fail: ...: runsv not running". */
export function parseSvStatus(stdout: string): SvStatus {
  const line = stdout.trim().split('\n')[0] ?? '';
  const m = /^(run|down|finish): [^:]+: (?:\(pid (\d+)\) )?(\d+)s/.exec(line);
  if (m) return { supervised: true, state: m[1] as SvStatus['state'], pid: m[2] ? Number(m[2]) : null, seconds: Number(m[3]) };
  return { supervised: false, state: null, pid: null, seconds: null };
}
