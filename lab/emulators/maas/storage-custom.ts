import { randomUUID } from 'node:crypto';
import type { DiskState, FilesystemState, MachineState, PartitionState } from './state';

// MAAS's custom storage layout (domain-apis.md C6, maas-runbook.md §1-2): the schema check and the
// semantic checks that make commissioning FAIL (ConfigError), and the apply step whose failure
// leaves the machine Ready with no layout at all (CannotApply, logged as one event).

export class ConfigError extends Error {}
export class CannotApply extends Error {}

const NAME = /^[a-zA-Z][a-zA-Z0-9_-]*$/;
export const FS_TYPES = ['ext2', 'ext4', 'xfs', 'fat32', 'vfat', 'swap', 'btrfs', 'zfsroot', 'tmpfs', 'ramfs', 'vmfs6', 'lvm-pv', 'raid', 'raid-spare', 'bcache-cache', 'bcache-backing'];
const DEVICE_KEYS: Record<string, string[]> = {
  disk: ['type', 'ptable', 'boot', 'partitions', 'fs'],
  lvm: ['type', 'members', 'volumes'],
  raid: ['type', 'level', 'members', 'spares', 'fs'],
  bcache: ['type', 'backing-device', 'cache-device', 'cache-mode', 'fs'],
  special: ['type', 'fs'],
};
const MiB = 1024 * 1024;
const MULTIPLIER: Record<string, number> = { M: 1000 ** 2, G: 1000 ** 3, T: 1000 ** 4 };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const pyRepr = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

function at(where: string, msg: string): never {
  throw new ConfigError(`Invalid config at ${where || 'top level'}: ${msg}`);
}

function onlyKeys(where: string, obj: Obj, allowed: string[]): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length) at(where, `Additional properties are not allowed (${extra.map(pyRepr).join(', ')} ${extra.length === 1 ? 'was' : 'were'} unexpected)`);
}

function required(where: string, obj: Obj, keys: string[]): void {
  for (const k of keys) if (!(k in obj)) at(where, `${pyRepr(k)} is a required property`);
}

function fsEnum(where: string, v: unknown): void {
  if (!FS_TYPES.includes(v as string)) at(where, `${pyRepr(v)} is not one of [${FS_TYPES.map(pyRepr).join(', ')}]`);
}

/** "500M" → bytes (decimal units, as MAAS: plain numbers and binary units are invalid). */
export function parseSize(v: unknown): number {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)([MGT])$/.exec(v) : null;
  if (!m) throw new ConfigError(`Invalid size ${pyRepr(v)}`);
  return Math.floor(Number(m[1]) * MULTIPLIER[m[2]]);
}

export interface CustomLayout {
  layout: Record<string, Obj>;
  mounts: Record<string, { device: string; options?: string }>;
}

/** Schema first (jsonschema-style messages), then the semantic checks of storage_custom. */
export function validateLayout(config: unknown): CustomLayout {
  if (!isObj(config)) at('', `${JSON.stringify(config)} is not of type 'object'`);
  onlyKeys('', config, ['layout', 'mounts']);
  required('', config, ['layout', 'mounts']);
  const { layout, mounts } = config;
  if (!isObj(layout)) at('layout', `${JSON.stringify(layout)} is not of type 'object'`);
  if (!isObj(mounts)) at('mounts', `${JSON.stringify(mounts)} is not of type 'object'`);
  for (const [name, dev] of Object.entries(layout)) {
    if (!NAME.test(name)) at('layout', `${pyRepr(name)} does not match any of the regexes: '^[a-zA-Z][a-zA-Z0-9_-]*$'`);
    const where = `layout/${name}`;
    if (!isObj(dev)) at(where, `${JSON.stringify(dev)} is not of type 'object'`);
    required(where, dev, ['type']);
    const keys = DEVICE_KEYS[dev.type as string];
    if (!keys) at(`${where}/type`, `${pyRepr(dev.type)} is not one of ['disk', 'lvm', 'raid', 'bcache', 'special']`);
    onlyKeys(where, dev, keys);
    if ('fs' in dev) fsEnum(`${where}/fs`, dev.fs);
    if (dev.type === 'disk') {
      if ('ptable' in dev && !['gpt', 'mbr'].includes(dev.ptable as string)) at(`${where}/ptable`, `${pyRepr(dev.ptable)} is not one of ['gpt', 'mbr']`);
      if ('boot' in dev && typeof dev.boot !== 'boolean') at(`${where}/boot`, `${JSON.stringify(dev.boot)} is not of type 'boolean'`);
      if ('partitions' in dev) {
        if (!Array.isArray(dev.partitions)) at(`${where}/partitions`, `${JSON.stringify(dev.partitions)} is not of type 'array'`);
        (dev.partitions as unknown[]).forEach((p, i) => {
          const pw = `${where}/partitions/${i}`;
          if (!isObj(p)) at(pw, `${JSON.stringify(p)} is not of type 'object'`);
          onlyKeys(pw, p, ['name', 'size', 'bootable', 'fs']);
          required(pw, p, ['name']);
          if (typeof p.name !== 'string' || !NAME.test(p.name)) at(`${pw}/name`, `${pyRepr(p.name)} does not match '^[a-zA-Z][a-zA-Z0-9_-]*$'`);
          if ('fs' in p) fsEnum(`${pw}/fs`, p.fs);
          if ('bootable' in p && typeof p.bootable !== 'boolean') at(`${pw}/bootable`, `${JSON.stringify(p.bootable)} is not of type 'boolean'`);
        });
      }
    }
  }
  for (const [point, m] of Object.entries(mounts)) {
    if (!point.startsWith('/')) at('mounts', `${pyRepr(point)} does not match any of the regexes: '^/.*$'`);
    if (!isObj(m)) at(`mounts/${point}`, `${JSON.stringify(m)} is not of type 'object'`);
    onlyKeys(`mounts/${point}`, m, ['device', 'options']);
    required(`mounts/${point}`, m, ['device']);
  }
  // Semantics (storage_custom): sizes, ptable for partitions, mounts that name a known device.
  const names = new Set<string>();
  for (const [name, dev] of Object.entries(layout as Record<string, Obj>)) {
    names.add(name);
    const parts = (dev.partitions as Obj[] | undefined) ?? [];
    if (parts.length && !dev.ptable) throw new ConfigError(`Partitions require a partition table: 'ptable' is not set for ${pyRepr(name)}`);
    for (const p of parts) {
      if (!('size' in p)) throw new ConfigError(`Missing required key 'size' for ${pyRepr(p.name)}`);
      parseSize(p.size);
      names.add(p.name as string);
    }
    for (const v of (dev.volumes as Obj[] | undefined) ?? []) {
      if (!('size' in v)) throw new ConfigError(`Missing required key 'size' for ${pyRepr(v.name)}`);
      parseSize(v.size);
      names.add(v.name as string);
    }
  }
  for (const [point, m] of Object.entries(mounts as Record<string, Obj>)) {
    if (!names.has(m.device as string)) throw new ConfigError(`Mount ${pyRepr(point)}: unknown device ${pyRepr(m.device)}`);
  }
  return config as unknown as CustomLayout;
}

/** Table overhead MAAS reserves: 4 MiB before the first partition, 1 MiB after the last, plus a 1 MiB bios_grub on amd64 GPT without UEFI. */
export function needsBiosGrub(machine: MachineState, ptable: 'GPT' | 'MBR'): boolean {
  return ptable === 'GPT' && machine.bios_boot_method !== 'uefi' && machine.architecture.startsWith('amd64');
}

export function usableBytes(machine: MachineState, disk: DiskState, ptable: 'GPT' | 'MBR'): number {
  return disk.size - 4 * MiB - 1 * MiB - (needsBiosGrub(machine, ptable) ? MiB : 0);
}

export function roundDown4MiB(n: number): number {
  return Math.floor(n / (4 * MiB)) * (4 * MiB);
}

function filesystem(fstype: string | undefined, mount: { point: string; options?: string } | undefined): FilesystemState | null {
  if (!fstype) return null;
  return { fstype, label: null, uuid: randomUUID(), mount_point: mount?.point ?? null, mount_options: mount?.options ?? null };
}

/**
 * Apply a validated layout to the machine model, all or nothing. Partition names in the JSON are
 * discarded: each partition gets the next index (starting at 2 when bios_grub takes 1; on MBR the
 * fourth becomes the fifth), so the API names it <disk>-part<index>.
 */
export function applyLayout(machine: MachineState, config: CustomLayout, nextPartitionId: () => number): void {
  const referenced = new Set<string>();
  for (const [name, dev] of Object.entries(config.layout)) {
    if (dev.type === 'disk') referenced.add(name);
    for (const key of ['members', 'spares']) for (const m of (dev[key] as string[] | undefined) ?? []) referenced.add(m);
    for (const key of ['backing-device', 'cache-device']) if (typeof dev[key] === 'string') referenced.add(dev[key] as string);
  }
  const declaredOther = new Set(Object.values(config.layout).flatMap((d) => ((d.partitions as Obj[] | undefined) ?? []).map((p) => p.name as string)));
  const diskNames = [...referenced].filter((n) => !declaredOther.has(n) && (config.layout[n]?.type ?? 'disk') === 'disk');
  const unknown = diskNames.filter((n) => !machine.disks.some((d) => d.name === n)).sort();
  if (unknown.length) throw new CannotApply(`Unknown machine disk(s): ${unknown.join(', ')}`);
  const other = Object.entries(config.layout).filter(([, d]) => d.type !== 'disk');
  if (other.length) throw new CannotApply(`this lab emulator applies only disk layouts, not ${other.map(([n, d]) => `${n} (${String(d.type)})`).join(', ')}`);
  const mountOf = (device: string) => {
    const hit = Object.entries(config.mounts).find(([, m]) => m.device === device);
    return hit ? { point: hit[0], options: hit[1].options } : undefined;
  };
  const planned = new Map<string, { ptable: 'GPT' | 'MBR' | null; fs: FilesystemState | null; partitions: PartitionState[] }>();
  for (const name of diskNames) {
    const disk = machine.disks.find((d) => d.name === name)!;
    const dev = config.layout[name] ?? { type: 'disk' };
    const parts = (dev.partitions as Obj[] | undefined) ?? [];
    const ptable = dev.ptable === 'mbr' ? 'MBR' : dev.ptable === 'gpt' ? 'GPT' : null;
    const out: PartitionState[] = [];
    if (ptable) {
      let index = needsBiosGrub(machine, ptable) ? 2 : 1;
      let used = 0;
      for (const p of parts) {
        const size = roundDown4MiB(parseSize(p.size));
        used += size;
        if (used > usableBytes(machine, disk, ptable)) throw new CannotApply(`{'size': ['Partition cannot be saved; not enough free space on the block device.']}`);
        if (ptable === 'MBR' && index === 4) index = 5;
        out.push({
          id: nextPartitionId(),
          index,
          size,
          bootable: p.bootable === true,
          uuid: randomUUID(),
          filesystem: filesystem(p.fs as string | undefined, mountOf(p.name as string)),
          layoutName: p.name as string,
        });
        index++;
      }
    }
    planned.set(name, { ptable, fs: ptable ? null : filesystem(dev.fs as string | undefined, mountOf(name)), partitions: out });
  }
  for (const disk of machine.disks) {
    const p = planned.get(disk.name);
    if (!p) continue;
    disk.partition_table_type = p.ptable;
    disk.filesystem = p.fs;
    disk.partitions = p.partitions;
  }
}

/** MAAS's flat layout (what it applies when no custom file arrives): EFI 512 MB on UEFI, root on the rest. */
export function flatLayout(machine: MachineState): CustomLayout {
  const disk = machine.disks[0];
  const efi = machine.bios_boot_method === 'uefi';
  const rest = roundDown4MiB(usableBytes(machine, disk, 'GPT') - (efi ? roundDown4MiB(512e6) : 0));
  const parts: Obj[] = [];
  if (efi) parts.push({ name: `${disk.name}1`, size: '512M', fs: 'fat32', bootable: true });
  parts.push({ name: `${disk.name}${efi ? 2 : 1}`, size: `${Math.floor(rest / 1e6)}M`, fs: 'ext4' });
  const mounts: CustomLayout['mounts'] = { '/': { device: `${disk.name}${efi ? 2 : 1}` } };
  if (efi) mounts['/boot/efi'] = { device: `${disk.name}1` };
  return { layout: { [disk.name]: { type: 'disk', ptable: 'gpt', boot: true, partitions: parts } }, mounts };
}
