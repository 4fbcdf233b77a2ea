import { sharedPool } from '../ssh/shared-pool';

// The object service is judged the way its clients see it: HTTP from the worker to the host's
// inventory address. (Addresses stay on the worker; workflows name hosts.)

/** How results and errors name the service: by host name (addresses stay on the worker, like keys). */
export function serviceLabel(host: string, port: number, path: string): string {
  return `http://${host}:${port}${path}`;
}

export function serviceUrl(host: string, port: number, path: string): string {
  const address = sharedPool().inventory.host(host).address;
  const hostPart = address.includes(':') ? `[${address}]` : address;
  return `http://${hostPart}:${port}${path}`;
}

/** One request: did the service answer (any status below 500) within the timeout? */
export async function answers(url: string, timeoutMs: number): Promise<{ ok: boolean; status?: number; error?: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { connection: 'close' } });
    await res.body?.cancel();
    return res.status < 500 ? { ok: true, status: res.status } : { ok: false, status: res.status };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { ok: false, error: e.cause?.code ?? e.name ?? e.message };
  }
}
