import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { absolutePathSchema, devicePathSchema, hostNameSchema, lvmNameSchema, stepNameSchema, uuidSchema, zfsDatasetSchema } from '../common/identifiers';
import { durationSchema } from '../common/input';
import { catalog, type CatalogEntry } from '../runbooks/catalog';

// The input table in each runbook's README, generated from its zod schema: field names, types,
// defaults and the schema's own .describe() texts, so the docs cannot drift from what the runbook
// accepts. `npx tsx scripts/docs.ts` rewrites the block between the markers below (adding it before
// the README's first section when it has none); test/docs.test.ts fails when a table is stale.

export const START = '<!-- input:start -->';
export const END = '<!-- input:end -->';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
}

const toJson = (schema: z.ZodType): JsonSchema => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;

/** Identifier patterns by the name an operator knows them by. */
const NAMED_PATTERNS = new Map<string, string>(
  (
    [
      [hostNameSchema, 'host name'],
      [absolutePathSchema, 'absolute path'],
      [devicePathSchema, 'device path'],
      [lvmNameSchema, 'LVM name'],
      [zfsDatasetSchema, 'ZFS dataset'],
      [uuidSchema, 'UUID'],
      [stepNameSchema, 'step name'],
      [durationSchema, 'duration (90s, 30m, 24h)'],
    ] as Array<[z.ZodType, string]>
  ).map(([s, name]) => [toJson(s).pattern ?? '', name]),
);

const LARGEST = Number.MAX_SAFE_INTEGER;

function range(lo?: number, hi?: number): string {
  if (lo === undefined && (hi === undefined || hi >= LARGEST)) return '';
  if (hi === undefined || hi >= LARGEST) return ` ≥ ${lo}`;
  if (lo === undefined) return ` ≤ ${hi}`;
  return ` ${lo}–${hi}`;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' | ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  switch (s.type) {
    case 'string':
      return (s.pattern && NAMED_PATTERNS.get(s.pattern)) || 'string';
    case 'integer':
    case 'number':
      return `${s.type}${range(s.minimum, s.maximum)}`;
    case 'boolean':
      return 'boolean';
    case 'array': {
      const n = s.minItems !== undefined || s.maxItems !== undefined ? ` (${range(s.minItems, s.maxItems).trim() || 'any'} items)` : '';
      return `list of ${s.items ? typeOf(s.items) : 'values'}${n}`;
    }
    case 'object':
      return s.properties ? 'object' : 'map';
    default:
      return Array.isArray(s.type) ? s.type.join(' or ') : 'any';
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(props: Record<string, JsonSchema>, required: string[], prefix: string): string[] {
  const out: string[] = [];
  for (const [name, s] of Object.entries(props)) {
    const dflt = s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : required.includes(name) ? '**required**' : '—';
    // A group of settings with a default (service, probe, guard) gets a row per setting too.
    const expand = s.type === 'object' && s.properties && s.default !== undefined;
    out.push(`| \`${prefix}${name}\` | ${cell(typeOf(s))} | ${cell(expand ? '(see below)' : dflt)} | ${cell(s.description ?? '')} |`);
    if (expand) out.push(...rows(s.properties!, s.required ?? [], `${prefix}${name}.`));
  }
  return out;
}

/** The markdown input table of one runbook. */
export function inputTable(entry: Pick<CatalogEntry, 'name' | 'schema'>): string {
  const js = toJson(entry.schema);
  return [
    `Generated from \`runbooks/${entry.name}/schema.ts\` by \`npx tsx scripts/docs.ts\`; every input also accepts \`mode\`, \`approve\`, \`approvalTimeout\` and \`resultAudit\` (listed last).`,
    '',
    '| field | type | default | what |',
    '|---|---|---|---|',
    ...rows(js.properties ?? {}, js.required ?? [], ''),
  ].join('\n');
}

export function readmePath(name: string): string {
  return path.join(__dirname, '..', 'runbooks', name, 'README.md');
}

/** The README with its input block holding `table` (the block added before the first section if missing). */
export function withInputTable(readme: string, table: string): string {
  const block = `${START}\n${table}\n${END}`;
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start >= 0 && end > start) return readme.slice(0, start) + block + readme.slice(end + END.length);
  const firstSection = readme.search(/^## /m);
  const section = `## Input\n\n${block}\n\n`;
  return firstSection >= 0 ? readme.slice(0, firstSection) + section + readme.slice(firstSection) : `${readme.trimEnd()}\n\n${section}`;
}

export interface ReadmeState {
  name: string;
  file: string;
  current: string | null;
  wanted: string;
}

/** Every runbook in the catalog: its README as it is and as the generator would write it. */
export function readmeStates(): ReadmeState[] {
  return catalog.map((entry) => {
    const file = readmePath(entry.name);
    const current = existsSync(file) ? readFileSync(file, 'utf8') : null;
    return { name: entry.name, file, current, wanted: withInputTable(current ?? `# ${entry.name}\n\n${entry.summary}\n`, inputTable(entry)) };
  });
}
