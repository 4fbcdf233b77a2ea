import type { MaasRepartitionInput } from './schema';

// The layout JSON computed from the real disk size (maas-runbook.md §1): decimal M/G/T sizes that
// MAAS rounds down to 4 MiB, a table that costs 4 MiB at the start and 1 MiB at the end (plus 1 MiB
// bios_grub on amd64 GPT without UEFI, which also takes partition number 1), and no "rest of disk"
// value, so the spare partitions get explicit sizes. Pure: the workflow computes it, the plan shows it.

const MiB = 1024 * 1024;
const UNIT: Record<string, number> = { M: 1e6, G: 1e9, T: 1e12 };

export function sizeBytes(size: string): number {
  return Number(size.slice(0, -1)) * UNIT[size.slice(-1)];
}

export function roundDown4MiB(n: number): number {
  return Math.floor(n / (4 * MiB)) * 4 * MiB;
}

export interface PlannedPartition {
  /** The MAAS partition number: `<disk>-part<index>`. */
  index: number;
  role: 'boot' | 'root' | 'spare';
  /** What the layout JSON says (decimal). */
  layoutSize: string;
  /** What MAAS will make of it (rounded down to 4 MiB). */
  bytes: number;
  fs: string | null;
  mount: string | null;
  /** For spares: the pool that goes on it. */
  pool?: string;
}

export interface ComputedLayout {
  json: { layout: Record<string, unknown>; mounts: Record<string, { device: string; options?: string }> };
  partitions: PlannedPartition[];
  diskBytes: number;
  usableBytes: number;
}

export interface DiskFacts {
  name: string;
  size: number;
  biosBootMethod: string;
  architecture: string;
}

/** The layout, or the problems that keep it from fitting (every one, for the operator). */
export function computeLayout(i: Pick<MaasRepartitionInput, 'disk' | 'partitions' | 'pools'>, disk: DiskFacts): { layout?: ComputedLayout; problems: string[] } {
  const problems: string[] = [];
  const biosGrub = disk.biosBootMethod !== 'uefi' && disk.architecture.startsWith('amd64');
  const usable = disk.size - 5 * MiB - (biosGrub ? MiB : 0);
  const boot = roundDown4MiB(sizeBytes(i.partitions.boot));
  const root = roundDown4MiB(sizeBytes(i.partitions.root));
  const n = i.pools.length;
  let spareSize: string;
  let spare: number;
  if (i.partitions.spare === 'rest-evenly') {
    spare = Math.max(0, roundDown4MiB(Math.floor((usable - boot - root) / n)));
    spareSize = `${Math.ceil(spare / 1e6)}M`;
  } else {
    spareSize = i.partitions.spare;
    spare = roundDown4MiB(sizeBytes(spareSize));
  }
  const total = boot + root + n * spare;
  if (spare < 64 * MiB)
    problems.push(`partitions: each of the ${n} spare partitions would get ${Math.max(0, spare)} bytes; ZFS needs at least 64 MiB (disk ${disk.name} is ${disk.size} bytes, ${usable} usable)`);
  if (total > usable)
    problems.push(
      `partitions: boot ${i.partitions.boot} + root ${i.partitions.root} + ${n} x ${spareSize} = ${total} bytes after MAAS's rounding, but disk ${disk.name} has ${usable} usable bytes (${disk.size} minus the partition table${biosGrub ? ' and bios_grub' : ''})`,
    );
  if (problems.length) return { problems };
  const first = biosGrub ? 2 : 1;
  const d = i.disk;
  const partitions: PlannedPartition[] = [
    { index: first, role: 'boot', layoutSize: i.partitions.boot, bytes: boot, fs: 'fat32', mount: '/boot/efi' },
    { index: first + 1, role: 'root', layoutSize: i.partitions.root, bytes: root, fs: i.partitions.rootFs, mount: '/' },
    ...i.pools.map((p, k): PlannedPartition => ({ index: first + 2 + k, role: 'spare', layoutSize: spareSize, bytes: spare, fs: null, mount: null, pool: p.name })),
  ];
  // The names in the JSON are discarded by MAAS (it numbers partitions itself); they only tie mounts to partitions.
  const jsonName = (p: PlannedPartition) => `${d}${p.index}`;
  const json = {
    layout: {
      [d]: {
        type: 'disk',
        ptable: 'gpt',
        boot: true,
        partitions: partitions.map((p) => ({ name: jsonName(p), size: p.layoutSize, ...(p.fs ? { fs: p.fs } : {}), ...(p.role === 'boot' ? { bootable: true } : {}) })),
      },
    },
    mounts: {
      '/': { device: jsonName(partitions[1]), options: 'noatime' },
      '/boot/efi': { device: jsonName(partitions[0]) },
    },
  };
  return { layout: { json, partitions, diskBytes: disk.size, usableBytes: usable }, problems };
}

/**
 * The commissioning script: embedded metadata that makes it run before 50-maas-01-commissioning
 * (41-49, parallel disabled, hardware_type node) and only when named (noauto). It refuses to write
 * a layout computed for another disk size (the machine's resources file says what it really has).
 */
export function layoutScript(scriptName: string, disk: string, diskBytes: number, json: unknown): string {
  return `#!/bin/bash
# --- Start MAAS 1.0 script metadata ---
# name: ${scriptName}
# title: maasRepartition custom storage layout
# description: Writes the custom storage layout computed by the maasRepartition runbook.
# script_type: commissioning
# hardware_type: node
# parallel: disabled
# timeout: 60
# tags: [noauto, maasRepartition]
# --- End MAAS 1.0 script metadata ---
set -euo pipefail
size=$(python3 -c 'import json,os,sys
d=json.load(open(os.environ["MAAS_RESOURCES_FILE"]))
r=d.get("resources",d)
print(next((x["size"] for x in r["storage"]["disks"] if x["id"]==sys.argv[1]),-1))' ${disk})
if [ "$size" != ${diskBytes} ]; then
  echo "disk ${disk} is $size bytes here; this layout was computed for ${diskBytes} bytes: not writing it" >&2
  exit 3
fi
cat > "$MAAS_STORAGE_CONFIG_FILE" <<'MAAS_REPARTITION_LAYOUT'
${JSON.stringify(json, null, 1)}
MAAS_REPARTITION_LAYOUT
echo "custom storage layout written for ${disk} (${diskBytes} bytes)"
`;
}
