import { HARDWARE_TYPE, PARALLEL, SCRIPT_TYPE } from './enums';

// Embedded script metadata (domain-apis.md C5): YAML between the "Start/End MAAS 1.0 script metadata"
// marker lines, each line commented with '#' (the text after the first '#' is YAML). Only the YAML
// MAAS scripts use in practice is understood: `key: scalar`, `key: [a, b]` and `- item` lists.

const MARKER = /^\s*#\s*-+\s*(Start|End) MAAS (\d+\.\d+) script metadata\s+-+\s*$/;

export class MetadataError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export type Metadata = Record<string, string | string[]>;

function scalar(v: string): string {
  const t = v.trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1);
  return t;
}

export function parseEmbeddedMetadata(script: string): Metadata {
  const lines = script.split('\n');
  const start = lines.findIndex((l) => MARKER.exec(l)?.[1] === 'Start');
  if (start < 0) return {};
  const version = MARKER.exec(lines[start])![2];
  if (version !== '1.0') throw new MetadataError('script', `Unknown script metadata version ${version}`);
  const yaml: string[] = [];
  let ended = false;
  for (const line of lines.slice(start + 1)) {
    if (MARKER.exec(line)?.[1] === 'End') {
      ended = true;
      break;
    }
    const hash = line.indexOf('#');
    if (hash < 0) throw new MetadataError('script', 'Embedded YAML lines must be commented out with #');
    yaml.push(line.slice(hash + 1));
  }
  if (!ended) throw new MetadataError('script', 'Embedded script metadata has no end marker');
  const out: Metadata = {};
  let listKey: string | null = null;
  for (const raw of yaml) {
    if (!raw.trim()) continue;
    const item = /^\s*-\s+(.*)$/.exec(raw);
    if (item && listKey) {
      (out[listKey] as string[]).push(scalar(item[1]));
      continue;
    }
    const kv = /^\s*([A-Za-z_]+)\s*:\s*(.*)$/.exec(raw);
    if (!kv) throw new MetadataError('script', `Invalid embedded YAML: ${raw.trim()}`);
    const [, key, value] = kv;
    if (value.trim() === '') {
      out[key] = [];
      listKey = key;
    } else if (/^\[.*\]$/.test(value.trim())) {
      out[key] = value.trim().slice(1, -1).split(',').map(scalar).filter(Boolean);
      listKey = null;
    } else {
      out[key] = scalar(value);
      listKey = null;
    }
  }
  return out;
}

/** "60", "00:05:00" or "5:00" → seconds. */
export function parseTimeout(v: string): number {
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const parts = t.split(':').map(Number);
  if (parts.some((p) => !Number.isInteger(p) || p < 0) || parts.length > 3) throw new MetadataError('timeout', `Enter a valid duration: ${v}`);
  return parts.reduce((acc, p) => acc * 60 + p, 0);
}

export function formatTimeout(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

function lookup(table: Record<string, number>, field: string, v: string): number {
  const t = v.trim().toLowerCase();
  if (/^\d+$/.test(t)) return Number(t);
  const n = table[t];
  if (n === undefined) throw new MetadataError(field, `Select a valid choice. ${v} is not one of the available choices.`);
  return n;
}

export const normalise = {
  type: (v: string) => lookup(SCRIPT_TYPE, 'type', v),
  hardware_type: (v: string) => lookup(HARDWARE_TYPE, 'hardware_type', v),
  parallel: (v: string) => lookup(PARALLEL, 'parallel', v),
  timeout: parseTimeout,
  tags: (v: string | string[]) =>
    (Array.isArray(v) ? v : v.split(','))
      .map((t) => t.trim())
      .filter(Boolean)
      .sort(),
  bool: (v: string) => ['true', '1', 'yes', 'on'].includes(v.trim().toLowerCase()),
};
