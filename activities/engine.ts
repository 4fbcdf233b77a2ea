import type { StepOutput } from '../common/step';
import { sharedPool } from './ssh/shared-pool';

export interface HostDescription {
  name: string;
  site?: string;
}

/**
 * Resolve host names through the worker's inventory: unknown hosts fail here, before anything
 * changes, and hosts that belong to a site get their activities routed to that site's workers.
 * Addresses and keys stay on the worker.
 */
export async function describeHosts(names: string[]): Promise<StepOutput<HostDescription[]>> {
  const value = names.map((name) => {
    const host = sharedPool().inventory.host(name);
    return host.site ? { name, site: host.site } : { name };
  });
  return { value, commands: [] };
}
