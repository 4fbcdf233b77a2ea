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

const regionInfoSchema = z.object({
  ok: z.literal(true),
  region: z.object({ block_size: z.number().int(), blocks_per_extent: z.number().int(), extent_count: z.number().int(), uuid: z.string() }),
  max_stored_gen: z.number().int(),
  max_flush: z.number().int(),
});
export type RegionInfo = z.infer<typeof regionInfoSchema>;

/** The answer of a downstairs, or why there is none: free (nothing listens), or not-downstairs (something else does). */
export function parseRegionInfo(code: number, stdout: string): { state: 'free' } | { state: 'serving'; info: RegionInfo } | { state: 'not-downstairs'; detail: string } {
  if (code === 7) return { state: 'free' };
  const line = stdout.trim().split('\n')[0] ?? '';
  try {
    return { state: 'serving', info: regionInfoSchema.parse(JSON.parse(line)) };
  } catch {
    return { state: 'not-downstairs', detail: `exit ${code}, answered ${JSON.stringify(line.slice(0, 120))}` };
  }
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
