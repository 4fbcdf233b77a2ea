import { z } from 'zod';

// Parsers for the machine-readable output of standard Linux tools. Pure functions, shared by every
// runbook's inspect steps; formats are those of util-linux 2.38 and coreutils 9.1 (Debian 12).

function parseJson(tool: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${tool} printed something that is not JSON: ${(err as Error).message}: ${text.slice(0, 200)}`);
  }
}

function zparse<T>(tool: string, schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(`unexpected ${tool} output: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

// ---- df -B1 --output=source,fstype,size,used,avail,pcent,target
export const DF_COMMAND_FIELDS = 'source,fstype,itotal,iused,size,used,avail,target';

export interface DfEntry {
  source: string;
  fstype: string;
  inodes: number;
  inodesUsed: number;
  sizeBytes: number;
  usedBytes: number;
  availBytes: number;
  /** Use% as df computes it: ceil(used / (used + avail)). */
  usePercent: number;
  target: string;
}

/** `df -B1 --output=source,fstype,itotal,iused,size,used,avail,target`; targets may contain spaces (last column). */
export function parseDf(text: string): DfEntry[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift() ?? '';
  if (!/^Filesystem\s+Type\s+Inodes\s+IUsed\s+1B-blocks\s+Used\s+Avail\s+Mounted on$/.test(header.trim())) {
    throw new Error(`unexpected df header: ${header}`);
  }
  return lines.map((line) => {
    const m = /^(\S+)\s+(\S+)\s+(\d+|-)\s+(\d+|-)\s+(\d+)\s+(\d+)\s+(\d+)\s+(.+)$/.exec(line);
    if (!m) throw new Error(`unexpected df line: ${line}`);
    const used = Number(m[6]);
    const avail = Number(m[7]);
    return {
      source: m[1],
      fstype: m[2],
      inodes: m[3] === '-' ? 0 : Number(m[3]),
      inodesUsed: m[4] === '-' ? 0 : Number(m[4]),
      sizeBytes: Number(m[5]),
      usedBytes: used,
      availBytes: avail,
      usePercent: used + avail === 0 ? 0 : Math.ceil((used * 100) / (used + avail)),
      target: m[8],
    };
  });
}

// ---- findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS (tree, or list with -l)
export interface Mount {
  target: string;
  source: string;
  fstype: string;
  options: string[];
  readOnly: boolean;
}

interface FindmntNode {
  target: string;
  source: string;
  fstype: string;
  options: string;
  children?: FindmntNode[];
}
const findmntNode: z.ZodType<FindmntNode> = z.lazy(() => z.object({ target: z.string(), source: z.string(), fstype: z.string(), options: z.string(), children: z.array(findmntNode).optional() }));
const findmntSchema = z.object({ filesystems: z.array(findmntNode) });

/** Flattens findmnt's tree into a list in mount order. */
export function parseFindmnt(text: string): Mount[] {
  const data = zparse('findmnt', findmntSchema, parseJson('findmnt', text));
  const out: Mount[] = [];
  const walk = (nodes: FindmntNode[]) => {
    for (const n of nodes) {
      const options = n.options.split(',');
      out.push({ target: n.target, source: n.source, fstype: n.fstype, options, readOnly: options.includes('ro') });
      if (n.children) walk(n.children);
    }
  };
  walk(data.filesystems);
  return out;
}

// ---- lsblk -J -b -o NAME,PATH,TYPE,SIZE,RO,MOUNTPOINTS,FSTYPE
export interface BlockDevice {
  name: string;
  path: string;
  type: string;
  sizeBytes: number;
  readOnly: boolean;
  fstype: string | null;
  mountpoints: string[];
  children: BlockDevice[];
}
interface LsblkNode {
  name: string;
  path: string;
  type: string;
  size: number | string;
  ro: boolean | string;
  fstype?: string | null;
  mountpoints?: Array<string | null>;
  children?: LsblkNode[];
}
const lsblkNode: z.ZodType<LsblkNode> = z.lazy(() =>
  z.object({
    name: z.string(),
    path: z.string(),
    type: z.string(),
    size: z.union([z.number(), z.string()]),
    ro: z.union([z.boolean(), z.string()]),
    fstype: z.string().nullable().optional(),
    mountpoints: z.array(z.string().nullable()).optional(),
    children: z.array(lsblkNode).optional(),
  }),
);
const lsblkSchema = z.object({ blockdevices: z.array(lsblkNode) });

export function parseLsblk(text: string): BlockDevice[] {
  const data = zparse('lsblk', lsblkSchema, parseJson('lsblk', text));
  const convert = (n: LsblkNode): BlockDevice => ({
    name: n.name,
    path: n.path,
    type: n.type,
    sizeBytes: Number(n.size),
    readOnly: n.ro === true || n.ro === '1',
    fstype: n.fstype ?? null,
    mountpoints: (n.mountpoints ?? []).filter((m): m is string => m !== null),
    children: (n.children ?? []).map(convert),
  });
  return data.blockdevices.map(convert);
}

// ---- losetup -J -l -b -O NAME,BACK-FILE,SIZELIMIT,OFFSET,RO
export interface LoopDevice {
  name: string;
  backingFile: string | null;
  readOnly: boolean;
}
const losetupSchema = z.object({
  loopdevices: z.array(z.object({ name: z.string(), 'back-file': z.string().nullable(), ro: z.union([z.boolean(), z.string()]) }).loose()),
});

/** losetup prints nothing at all when there are no loop devices. */
export function parseLosetup(text: string): LoopDevice[] {
  if (text.trim() === '') return [];
  const data = zparse('losetup', losetupSchema, parseJson('losetup', text));
  return data.loopdevices.map((d) => ({
    name: d.name,
    backingFile: d['back-file']?.replace(/ \(deleted\)$/, '') ?? null,
    readOnly: d.ro === true || d.ro === '1',
  }));
}
