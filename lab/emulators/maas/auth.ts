import type { UserState } from './state';

// OAuth 1.0 PLAINTEXT as MAAS checks it (domain-apis.md C1). A MAAS API key is
// consumer_key:token_key:token_secret; the consumer secret is empty, so the signature is
// "&<token_secret>", sent percent-encoded by oauthlib ("%26TS", quoted values) or literally by the
// docs' curl example (unquoted values). Both forms are accepted.

export type AuthOutcome = { ok: true; user: UserState } | { ok: false; status: 400 | 401; body: string };

const REQUIRED = ['oauth_consumer_key', 'oauth_token', 'oauth_signature'] as const;

/** Parse `OAuth k="v", k2=v2`: a value may be quoted or bare; keys and values are percent-decoded. */
export function parseOAuthHeader(header: string): Map<string, string> | null {
  const m = /^\s*OAuth\s+(.*)$/i.exec(header);
  if (!m) return null;
  const params = new Map<string, string>();
  for (const part of m[1].split(',')) {
    const kv = /^\s*([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([^\s]*))\s*$/.exec(part);
    if (!kv) continue;
    const rawValue = kv[2] ?? kv[3] ?? '';
    let value = rawValue;
    try {
      value = decodeURIComponent(rawValue);
    } catch {
      // a bare '%' that is not an escape: keep it as sent
    }
    params.set(kv[1], value);
  }
  return params;
}

export function authenticate(header: string | undefined, users: UserState[]): AuthOutcome {
  if (!header) return { ok: false, status: 401, body: 'Authorization Error: Not authenticated.' };
  const params = parseOAuthHeader(header);
  if (!params) return { ok: false, status: 401, body: 'Authorization Error: Not authenticated.' };
  const missing = REQUIRED.filter((k) => !params.has(k));
  if (missing.length) return { ok: false, status: 400, body: `Missing OAuth parameter(s): ${missing.join(', ')}` };
  const method = params.get('oauth_signature_method');
  if (method !== undefined && method !== 'PLAINTEXT') return { ok: false, status: 400, body: `Unsupported signature method: ${method}` };
  const user = users.find((u) => {
    const [ck, tk, ts] = u.apiKey.split(':');
    return ck === params.get('oauth_consumer_key') && tk === params.get('oauth_token') && params.get('oauth_signature') === `&${ts}`;
  });
  if (!user) return { ok: false, status: 401, body: 'Authorization Error: Invalid API key.' };
  return { ok: true, user };
}
