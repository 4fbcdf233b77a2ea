import { z } from 'zod';
import type { LvInfo, PvInfo, VgInfo } from './types';

// Parsers for LVM's and the filesystems' output (shared/reference/domain-apis.md D1, D3). Pure:
// workflows and tests import them too.

const reportSchema = z.object({
  report: z.array(z.record(z.string(), z.array(z.record(z.string(), z.string())))).min(1),
});

/** `--reportformat json`: report[0][key] is a list of rows whose values are all strings. */
export function parseLvmReport(tool: string, key: 'pv' | 'vg' | 'lv', text: string): Array<Record<string, string>> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${tool} printed something that is not JSON: ${(err as Error).message}: ${text.slice(0, 200)}`);
  }
  const parsed = reportSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`unexpected ${tool} report: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data.report[0][key] ?? [];
}

function num(row: Record<string, string>, field: string, tool: string): number {
  const v = row[field];
  // --units b --nosuffix prints whole bytes; anything else means the command line changed.
  if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${tool}: field ${field} is ${JSON.stringify(v)}, not a whole number (run with --units b --nosuffix)`);
  return Number(v);
}

export function parsePvs(text: string): PvInfo[] {
  return parseLvmReport('pvs', 'pv', text).map((r) => ({
    device: r.pv_name,
    vg: r.vg_name ?? '',
    attr: r.pv_attr,
    allocatable: r.pv_attr?.[0] === 'a',
    peStartBytes: num(r, 'pe_start', 'pvs'),
    pvSizeBytes: num(r, 'pv_size', 'pvs'),
    devSizeBytes: num(r, 'dev_size', 'pvs'),
    peCount: num(r, 'pv_pe_count', 'pvs'),
    peAllocCount: num(r, 'pv_pe_alloc_count', 'pvs'),
  }));
}

export function parseVgs(text: string): VgInfo[] {
  return parseLvmReport('vgs', 'vg', text).map((r) => ({
    name: r.vg_name,
    extentBytes: num(r, 'vg_extent_size', 'vgs'),
    extentCount: num(r, 'vg_extent_count', 'vgs'),
    freeExtents: num(r, 'vg_free_count', 'vgs'),
    pvCount: num(r, 'pv_count', 'vgs'),
    seqno: num(r, 'vg_seqno', 'vgs'),
  }));
}

export function parseLvs(text: string): LvInfo[] {
  return parseLvmReport('lvs', 'lv', text).map((r) => ({
    name: r.lv_name,
    vg: r.vg_name,
    sizeBytes: num(r, 'lv_size', 'lvs'),
    attr: r.lv_attr,
    dmPath: r.lv_dm_path ?? '',
    movePv: r.move_pv ?? '',
  }));
}

/** D3: `  /dev/sdb: Moved: 42.19%` (one line each -i seconds, the last one 100.00%). */
export interface PvmoveProgress {
  pv: string;
  percent: number;
}

const PVMOVE_LINE = /^\s*(\S+): Moved: (\d{1,3}(?:\.\d+)?)%\s*$/;

export function parsePvmoveProgress(line: string): PvmoveProgress | null {
  const m = PVMOVE_LINE.exec(line);
  return m ? { pv: m[1], percent: Number(m[2]) } : null;
}

/** Feeds stdout chunks in, calls back once per complete progress line (chunks split lines anywhere). */
export class PvmoveProgressReader {
  private pending = '';
  last: PvmoveProgress | null = null;

  constructor(private readonly onProgress: (p: PvmoveProgress) => void) {}

  feed(chunk: Buffer | string): void {
    const lines = (this.pending + chunk.toString()).split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) {
      const p = parsePvmoveProgress(line);
      if (p) {
        this.last = p;
        this.onProgress(p);
      }
    }
  }
}

/** `xfs_info <mount>`: the data section's block size and count (the log is inside them). */
export function parseXfsInfoBytes(text: string): number {
  const m = /^data\s+=.*?bsize=(\d+)\s+blocks=(\d+)/m.exec(text);
  if (!m) throw new Error(`xfs_info printed no data section: ${text.slice(0, 200)}`);
  return Number(m[1]) * Number(m[2]);
}

/** `dumpe2fs -h <device>`: Block count x Block size. */
export function parseDumpe2fsBytes(text: string): number {
  const count = /^Block count:\s+(\d+)/m.exec(text);
  const size = /^Block size:\s+(\d+)/m.exec(text);
  if (!count || !size) throw new Error(`dumpe2fs -h printed no block count/size: ${text.slice(0, 200)}`);
  return Number(count[1]) * Number(size[1]);
}

export interface ImageFile {
  path: string;
  sizeBytes: number;
  /** The file's identity: device (major:minor of its filesystem) and inode. */
  dev: string;
  ino: number;
}

/** glibc's gnu_dev_major/minor, for find's %D (st_dev as a decimal number). */
function majMin(stDev: number): string {
  const dev = BigInt(stDev);
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** `find <dir> -maxdepth 1 -type f -name '*.img' -printf '%p\t%s\t%D\t%i\n'`. */
export function parseImageListing(text: string): ImageFile[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [p, size, dev, ino] = l.split('\t');
      if (!p || ![size, dev, ino].every((n) => /^\d+$/.test(n ?? ''))) throw new Error(`unexpected image listing line: ${l}`);
      return { path: p, sizeBytes: Number(size), dev: majMin(Number(dev)), ino: Number(ino) };
    })
    .sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}

const losetupSchema = z.object({
  loopdevices: z.array(z.object({ name: z.string(), 'back-file': z.string().nullable(), 'back-ino': z.union([z.number(), z.string()]).nullable(), 'back-maj:min': z.string().nullable() }).loose()),
});

export interface LoopBacking {
  name: string;
  backingFile: string | null;
  dev: string | null;
  ino: number | null;
}

/**
 * `losetup -J -l -O NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN`. Loop devices are the kernel's, not a
 * mount namespace's: the back-file path is as the attaching process saw it, so two containers can
 * each have a /media/disk0.img. Only the backing file's device and inode tell them apart.
 */
export function parseLoopBackings(text: string): LoopBacking[] {
  if (text.trim() === '') return [];
  const parsed = losetupSchema.parse(JSON.parse(text));
  return parsed.loopdevices.map((d) => ({
    name: d.name,
    backingFile: d['back-file']?.replace(/ \(deleted\)$/, '') ?? null,
    dev: d['back-maj:min']?.trim() || null,
    ino: d['back-ino'] === null || d['back-ino'] === '' ? null : Number(d['back-ino']),
  }));
}
