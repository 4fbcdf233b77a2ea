import http from 'node:http';

// HTTP to a propolis-server, from the worker. node:http rather than fetch: state-monitor is a GET
// with a JSON body, which fetch refuses to send. Every request carries the API version this
// client was written against (the server refuses requests without it).

export const PROPOLIS_API_VERSION = '5.0.0';
export const PROPOLIS_PORT = 12400;

export interface PropolisResponse {
  status: number;
  /** The parsed JSON body, or null when there is none. */
  body: unknown;
  text: string;
}

export class PropolisUnreachable extends Error {}

export function propolisRequest(
  base: { address: string; port: number },
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body?: unknown,
  opts: { timeoutMs?: number; signal?: AbortSignal; apiVersion?: string | null } = {},
): Promise<PropolisResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.apiVersion !== null) headers['api-version'] = opts.apiVersion ?? PROPOLIS_API_VERSION;
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: base.address, port: base.port, method, path, headers, signal: opts.signal, agent: false });
    const timer = setTimeout(
      () => req.destroy(new PropolisUnreachable(`propolis-server ${base.address}:${base.port} did not answer ${method} ${path} within ${opts.timeoutMs} ms`)),
      opts.timeoutMs ?? 10_000,
    );
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = null;
        if (text) {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = null;
          }
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e instanceof PropolisUnreachable ? e : new PropolisUnreachable(`cannot reach propolis-server ${base.address}:${base.port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
    req.end(payload);
  });
}
