// Output tails go into audit records and histories, which outlive the run: strip anything that
// looks like a credential before it leaves the worker.

const PATTERNS: Array<[RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '-----BEGIN PRIVATE KEY----- *** (redacted)'],
  [/\b(password|passwd|pass|secret|token|api[_-]?key|apikey|access[_-]?key)(\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi, '$1$2***'],
  [/\b(Authorization:\s*(Bearer|Basic|OAuth))\s+\S+/gi, '$1 ***'],
  // MAAS API keys are consumer:token:secret triples of base62 runs.
  [/\b[A-Za-z0-9]{18,}:[A-Za-z0-9]{18,}:[A-Za-z0-9]{18,}\b/g, '***'],
];

export function redact(text: string, extraSecrets: readonly string[] = []): string {
  let out = text;
  for (const s of extraSecrets) if (s.length >= 4) out = out.split(s).join('***');
  for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
  return out;
}

/** The last `max` characters, cut at a line start when possible, marked when cut. */
export function tail(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  let cut = text.slice(text.length - max);
  const nl = cut.indexOf('\n');
  if (nl >= 0 && nl < 200) cut = cut.slice(nl + 1);
  return { text: cut, truncated: true };
}
