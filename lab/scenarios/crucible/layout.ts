import path from 'node:path';
import type { ZfsPoolLayout } from '../../zfs/daemon';

// Where things are on the crucible scenario's storage host, as seed 003 lays them out: one zpool
// per "disk" (cru0..cru2 at /pool/disk0..2), a `region` directory on each, and dsc's naming of the
// three regions and ports (<region-dir>/<port>, 8810/8820/8830).

export const CRUCIBLE_HOST = { name: 'cru-sled', address: '127.0.0.41' };

export const DISKS = [0, 1, 2] as const;
export const PORTS = [8810, 8820, 8830] as const;

export const POOL_LAYOUT: ZfsPoolLayout = {
  mountRoot: '/pool',
  pools: DISKS.map((i) => ({ name: `cru${i}`, mountpoint: `/pool/disk${i}` })),
};

/** The seed's `mkdir /pool/diskN/region`. */
export const REGION_PARENTS = DISKS.map((i) => `/pool/disk${i}/region`);
/** The three regions the check judges (dsc's layout: <region-dir>/<port>). */
export const REGION_DIRS = DISKS.map((i) => `${REGION_PARENTS[i]}/${PORTS[i]}`);

/** The OS image, inside the host (/root is the host's own folder). */
export const IMAGE_PATH = '/root/images/os.raw';
export const IMAGE_RECORD = 'crucible/image.json';

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
/** The default image is small so a lab builds in seconds; --full-size makes one the size of a small cloud image. */
export const IMAGE_BYTES = { fast: 24 * MiB, full: 2 * GiB } as const;
export const POOL_BYTES = { fast: 2 * GiB, full: 16 * GiB } as const;

export function imageRecordPath(hostDir: string): string {
  return path.join(hostDir, IMAGE_RECORD);
}

/** Where the image lives as this machine sees it (the host's /root is <hostDir>/root). */
export function imageOnMachine(hostDir: string): string {
  return path.join(hostDir, 'root', 'images', 'os.raw');
}

export function faultsPath(hostDir: string): string {
  return path.join(hostDir, 'crucible', 'faults.json');
}

/** Every `crucible-downstairs create` and `run` on the host, one line each (CRUCIBLE_EMU_LOG). */
export function commandLogPath(hostDir: string): string {
  return path.join(hostDir, 'crucible', 'commands.log');
}
