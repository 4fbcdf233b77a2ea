import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { loadInventory, type MaasEndpoint } from '../ssh/inventory';

// The MAAS API from a worker: the endpoint is named in the inventory, its API key is read here from
// the file or environment variable the inventory names, and the OAuth 1.0 PLAINTEXT header is built
// here. Neither the key nor the header ever leaves this module (results carry status and body only).

export const MISSING_MAAS_CREDENTIALS = 'MissingMaasCredentials';
export const MAAS_HTTP_ERROR = 'MaasHttpError';

export interface MaasCallRecord {
  method: string;
  /** Path under /MAAS/api/2.0/, with the query string (never a secret). */
  path: string;
  /** Form parameters sent (no secrets: the key is only ever in a header). */
  params?: Record<string, string>;
  status: number;
  durationMs: number;
}

export interface MaasResponse {
  status: number;
  text: string;
  record: MaasCallRecord;
}

export function resolveEndpoint(name: string): MaasEndpoint {
  const inv = loadInventory();
  const ep = inv.maas?.[name];
  if (!ep)
    throw ApplicationFailure.nonRetryable(
      `there is no MAAS endpoint "${name}" in the inventory (known: ${Object.keys(inv.maas ?? {}).join(', ') || 'none'}); add it under "maas" or run \`runbook lab up --scenario maas\``,
      'UnknownMaasEndpoint',
    );
  return ep;
}

function readKey(name: string, ep: MaasEndpoint): string {
  let key: string | undefined;
  if ('file' in ep.key) {
    try {
      key = readFileSync(ep.key.file, 'utf8').trim();
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`cannot read the MAAS API key for ${name} from ${ep.key.file}: ${(err as Error).message}`, MISSING_MAAS_CREDENTIALS);
    }
  } else {
    key = process.env[ep.key.env]?.trim();
    if (!key) throw ApplicationFailure.nonRetryable(`the MAAS API key for ${name} is expected in $${ep.key.env}, which is not set on this worker`, MISSING_MAAS_CREDENTIALS);
  }
  if (key.split(':').length !== 3) throw ApplicationFailure.nonRetryable(`the MAAS API key for ${name} is not consumer:token:secret`, MISSING_MAAS_CREDENTIALS);
  return key;
}

/** OAuth 1.0 PLAINTEXT as oauthlib writes it (quoted values, signature "%26<token secret>"). */
export function oauthHeader(apiKey: string): string {
  const [consumer, token, secret] = apiKey.split(':');
  const nonce = randomBytes(8).toString('hex');
  const ts = Math.floor(Date.now() / 1000);
  return `OAuth oauth_nonce="${nonce}", oauth_timestamp="${ts}", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="${consumer}", oauth_token="${token}", oauth_signature="%26${encodeURIComponent(secret)}"`;
}

/** One call with an explicit key (tests, the lab); activities use maasCall with an endpoint name. */
export async function maasRequest(
  baseUrl: string,
  apiKey: string | null,
  method: string,
  path: string,
  params?: Record<string, string>,
  opts: { multipart?: boolean; timeoutMs?: number } = {},
): Promise<MaasResponse> {
  const url = `${baseUrl.replace(/\/$/, '')}/api/2.0/${path}`;
  const headers: Record<string, string> = {};
  if (apiKey) headers.authorization = oauthHeader(apiKey);
  let body: string | FormData | undefined;
  if (params && method !== 'GET') {
    if (opts.multipart) {
      const fd = new FormData();
      for (const [k, v] of Object.entries(params)) {
        if (k === 'script') fd.set(k, new Blob([v]), k);
        else fd.set(k, v);
      }
      body = fd;
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(params).toString();
    }
  }
  const t0 = Date.now();
  const r = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
  const text = await r.text();
  const shown = params ? Object.fromEntries(Object.entries(params).map(([k, v]) => [k, k === 'script' || k === 'user_data' ? `<${v.length} bytes>` : v])) : undefined;
  return { status: r.status, text, record: { method, path, ...(shown ? { params: shown } : {}), status: r.status, durationMs: Date.now() - t0 } };
}

/** A call through the inventory's endpoint: 5xx and connection failures are retryable, 4xx are answers. */
export async function maasCall(endpoint: string, method: string, path: string, params?: Record<string, string>, opts: { multipart?: boolean } = {}): Promise<MaasResponse> {
  const ep = resolveEndpoint(endpoint);
  const key = readKey(endpoint, ep);
  let r: MaasResponse;
  try {
    r = await maasRequest(ep.url, key, method, path, params, opts);
  } catch (err) {
    throw ApplicationFailure.retryable(`MAAS ${endpoint} unreachable for ${method} ${path}: ${(err as Error).message}`, 'MaasUnreachable');
  }
  if (r.status >= 500) throw ApplicationFailure.retryable(`MAAS ${endpoint} answered ${r.status} to ${method} ${path}: ${r.text.slice(0, 500)}`, MAAS_HTTP_ERROR);
  if (r.status === 401) throw ApplicationFailure.nonRetryable(`MAAS ${endpoint} refused the API key (401 ${r.text.slice(0, 200)}); check the key file the inventory names`, MISSING_MAAS_CREDENTIALS);
  return r;
}

/** The JSON of a 2xx answer; anything else fails with MAAS's own words. */
export function expectJson<T>(r: MaasResponse, what: string): T {
  if (r.status < 200 || r.status >= 300) throw ApplicationFailure.nonRetryable(`${what}: MAAS answered ${r.status}: ${r.text.slice(0, 1000)}`, MAAS_HTTP_ERROR);
  return JSON.parse(r.text) as T;
}
