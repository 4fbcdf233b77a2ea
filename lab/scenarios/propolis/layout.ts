import path from 'node:path';

// The propolis scenario's two sled hosts (seed 004's "source" and "destination" propolis servers),
// each with a propolis-server emulator on 12400 at its own address.

export const SOURCE_SLED = { name: 'sled-a', address: '127.0.0.51' };
export const DESTINATION_SLED = { name: 'sled-b', address: '127.0.0.52' };
export const PROPOLIS_SLEDS = [SOURCE_SLED, DESTINATION_SLED];
export const PROPOLIS_PORT = 12400;

/** The emulator's faults file, as this machine sees it (tests write it; see lab/emulators/propolis/README.md). */
export function propolisFaultsPath(hostDir: string): string {
  return path.join(hostDir, 'propolis', 'faults.json');
}

export function propolisLogPath(hostDir: string): string {
  return path.join(hostDir, 'propolis', 'server.log');
}
