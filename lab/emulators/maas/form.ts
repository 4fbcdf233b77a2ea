// Request parameters as MAAS reads them: the query string plus a form body, urlencoded or multipart
// (python-libmaas and the maas CLI send multipart; curl examples send urlencoded). Repeated keys keep
// every value. A file part keeps its content as the value (and its filename separately).

export interface FormField {
  value: string;
  filename?: string;
}

export type Params = Map<string, FormField[]>;

export function addParam(params: Params, key: string, field: FormField): void {
  const list = params.get(key) ?? [];
  list.push(field);
  params.set(key, list);
}

export function first(params: Params, key: string): string | undefined {
  return params.get(key)?.[0]?.value;
}

export function parseQuery(search: string, params: Params = new Map()): Params {
  for (const [k, v] of new URLSearchParams(search)) addParam(params, k, { value: v });
  return params;
}

export function parseBody(contentType: string | undefined, body: Buffer, params: Params): void {
  if (!body.length) return;
  const ct = contentType ?? '';
  if (ct.startsWith('multipart/form-data')) {
    const boundary = /boundary="?([^";]+)"?/i.exec(ct)?.[1];
    if (!boundary) throw new Error('multipart body without a boundary');
    parseMultipart(body.toString('utf8'), boundary, params);
    return;
  }
  if (ct.startsWith('application/json')) {
    const obj = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) addParam(params, k, { value: typeof v === 'string' ? v : JSON.stringify(v) });
    return;
  }
  parseQuery(body.toString('utf8'), params);
}

function parseMultipart(text: string, boundary: string, params: Params): void {
  const delimiter = `--${boundary}`;
  for (const chunk of text.split(delimiter).slice(1)) {
    if (chunk.startsWith('--')) break;
    const part = chunk.replace(/^\r?\n/, '');
    const headerEnd = part.search(/\r?\n\r?\n/);
    if (headerEnd < 0) continue;
    const headers = part.slice(0, headerEnd);
    const sep = /\r?\n\r?\n/.exec(part.slice(headerEnd))![0].length;
    const content = part.slice(headerEnd + sep).replace(/\r?\n$/, '');
    const disposition = /content-disposition:[^\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined) continue;
    addParam(params, name, { value: content, ...(filename !== undefined ? { filename } : {}) });
  }
}
