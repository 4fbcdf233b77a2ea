import { badRequest, notFound } from './errors';
import { first, type Params } from './form';
import { MetadataError, normalise, parseEmbeddedMetadata, type Metadata } from './script-metadata';
import type { RegionState, ScriptState } from './state';

// POST /scripts/ and PUT /scripts/{name} (domain-apis.md C5): the script must start with a shebang;
// its embedded YAML sets the fields; a form value that differs from the YAML is refused.

const FIELDS = ['name', 'title', 'description', 'tags', 'type', 'hardware_type', 'parallel', 'timeout', 'destructive', 'may_reboot', 'recommission', 'for_hardware'] as const;
type Field = (typeof FIELDS)[number];
const YAML_KEY: Record<Field, string> = {
  name: 'name',
  title: 'title',
  description: 'description',
  tags: 'tags',
  type: 'script_type',
  hardware_type: 'hardware_type',
  parallel: 'parallel',
  timeout: 'timeout',
  destructive: 'destructive',
  may_reboot: 'may_reboot',
  recommission: 'recommission',
  for_hardware: 'for_hardware',
};

function norm(field: Field, v: string | string[]): unknown {
  const s = Array.isArray(v) ? v.join(',') : v;
  switch (field) {
    case 'type':
      return normalise.type(s);
    case 'hardware_type':
      return normalise.hardware_type(s);
    case 'parallel':
      return normalise.parallel(s);
    case 'timeout':
      return normalise.timeout(s);
    case 'tags':
    case 'for_hardware':
      return normalise.tags(v);
    case 'destructive':
    case 'may_reboot':
    case 'recommission':
      return normalise.bool(s);
    default:
      return s;
  }
}

function scriptText(params: Params): { text: string; fileField?: string } | null {
  const script = params.get('script')?.[0];
  if (script) return { text: script.value };
  for (const [key, fields] of params) {
    const f = fields.find((x) => x.filename !== undefined);
    if (f) return { text: f.value, fileField: key };
  }
  return null;
}

export function upsertScript(state: RegionState, params: Params, existing?: ScriptState): ScriptState {
  const found = scriptText(params);
  if (!found && !existing) throw badRequest('script', 'This field is required.');
  const text = found?.text ?? existing!.script;
  if (!text.startsWith('#!/')) throw badRequest('script', 'Must start with shebang.');
  let meta: Metadata;
  try {
    meta = parseEmbeddedMetadata(text);
  } catch (err) {
    if (err instanceof MetadataError) throw badRequest(err.field, err.message);
    throw err;
  }
  const values: Partial<Record<Field, unknown>> = {};
  const embedded: string[] = [];
  try {
    for (const f of FIELDS) {
      const y = meta[YAML_KEY[f]];
      if (y !== undefined) {
        values[f] = norm(f, y);
        embedded.push(f);
      }
    }
    for (const f of FIELDS) {
      const formValue = first(params, f);
      if (formValue === undefined) continue;
      const n = norm(f, formValue);
      if (embedded.includes(f) && JSON.stringify(n) !== JSON.stringify(values[f])) throw badRequest('__all__', 'May not override values defined in embedded YAML.');
      values[f] = n;
    }
  } catch (err) {
    if (err instanceof MetadataError) throw badRequest(err.field, err.message);
    throw err;
  }
  // A lone file part's field name becomes the name.
  const name = (values.name as string | undefined) ?? existing?.name ?? found?.fileField;
  if (!name) throw badRequest('name', 'This field is required.');
  if (!existing && state.scripts.some((s) => s.name === name)) throw badRequest('name', 'Script with this Name already exists.');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw badRequest('name', `'${name}' is not a valid script name.`);
  const created = new Date().toISOString();
  const s: ScriptState = existing ?? {
    id: state.nextId.script++,
    name,
    title: '',
    description: '',
    tags: [],
    type: 2,
    hardware_type: 0,
    parallel: 0,
    timeout: 0,
    destructive: false,
    may_reboot: false,
    recommission: false,
    for_hardware: [],
    script: text,
    embeddedKeys: [],
    default: false,
    history: [],
  };
  Object.assign(s, {
    name,
    title: (values.title as string | undefined) ?? s.title,
    description: (values.description as string | undefined) ?? s.description,
    tags: (values.tags as string[] | undefined) ?? s.tags,
    type: (values.type as number | undefined) ?? s.type,
    hardware_type: (values.hardware_type as number | undefined) ?? s.hardware_type,
    parallel: (values.parallel as number | undefined) ?? s.parallel,
    timeout: (values.timeout as number | undefined) ?? s.timeout,
    destructive: (values.destructive as boolean | undefined) ?? s.destructive,
    may_reboot: (values.may_reboot as boolean | undefined) ?? s.may_reboot,
    recommission: (values.recommission as boolean | undefined) ?? s.recommission,
    for_hardware: (values.for_hardware as string[] | undefined) ?? s.for_hardware,
    script: text,
    embeddedKeys: embedded,
  });
  s.history.unshift({ id: state.nextId.script++, comment: first(params, 'comment') ?? '', created });
  if (!existing) state.scripts.push(s);
  return s;
}

export function findScript(state: RegionState, nameOrId: string): ScriptState {
  const s = state.scripts.find((x) => x.name === nameOrId || String(x.id) === nameOrId);
  if (!s) throw notFound('Script');
  return s;
}
