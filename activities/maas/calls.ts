// MAAS calls as the plan and the audit show them: method, path under /MAAS/api/2.0/, form fields.
// Pure: workflows import these to show a plan's exact calls (the key never appears: it is a header).

export interface MaasCallSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  params?: Record<string, string>;
}

export function displayCall(endpoint: string, c: MaasCallSpec): string {
  const fields = Object.entries(c.params ?? {}).map(([k, v]) => `${k}=${k === 'script' ? `<script, ${v.length} bytes>` : v}`);
  return [`maas[${endpoint}]`, c.method, `/MAAS/api/2.0/${c.path}`, ...fields].join(' ');
}

export const calls = {
  readMachine: (sid: string): MaasCallSpec => ({ method: 'GET', path: `machines/${sid}/` }),
  uploadScript: (name: string, script: string, exists: boolean): MaasCallSpec =>
    exists ? { method: 'PUT', path: `scripts/${name}`, params: { script } } : { method: 'POST', path: 'scripts/', params: { script } },
  release: (sid: string, comment: string): MaasCallSpec => ({ method: 'POST', path: `machines/${sid}/`, params: { op: 'release', comment } }),
  commission: (sid: string, script: string): MaasCallSpec => ({ method: 'POST', path: `machines/${sid}/`, params: { op: 'commission', commissioning_scripts: script, testing_scripts: 'none' } }),
  deploy: (sid: string, distro: string): MaasCallSpec => ({ method: 'POST', path: `machines/${sid}/`, params: { op: 'deploy', distro_series: distro } }),
  abort: (sid: string, comment: string): MaasCallSpec => ({ method: 'POST', path: `machines/${sid}/`, params: { op: 'abort', comment } }),
  markBroken: (sid: string, comment: string): MaasCallSpec => ({ method: 'POST', path: `machines/${sid}/`, params: { op: 'mark_broken', comment } }),
  /** Claim a Ready machine (owner = the caller): the way to keep it out of the pool before mark_broken, which only its owner may do. */
  allocate: (sid: string, comment: string): MaasCallSpec => ({ method: 'POST', path: 'machines/', params: { op: 'allocate', system_id: sid, comment } }),
  deleteScript: (name: string): MaasCallSpec => ({ method: 'DELETE', path: `scripts/${name}` }),
};
