import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bash } from '../../../activities/ssh/command';
import { startZfsFuse } from '../../zfs/daemon';
import type { ScenarioContext } from '../types';

// proper-raptor as seed 000 found it: one SSD `sda` (a sparse image on a loop device, scaled down)
// with a real GPT, EFI System 512 MiB + one big Linux root, deployed by MAAS (the by-dname and
// by-partuuid links curtin and udev would have made, in a private /dev/disk of the host), cloud-init
// done, and zfs-fuse running with no pools yet.

export const GiB = 2 ** 30;
export const SEED_DISK_BYTES = 128035676160;
/** Pool mount points the seed plans (/crucible1..3): bound to private folders in the host. */
export const CRUCIBLE_MOUNTS = ['/crucible1', '/crucible2', '/crucible3'];
/** Where loop-file pools go (the seed's /var/lib/crucible-pool-N.img), private to the host. */
export const LOOP_FILE_DIR = '/var/lib/crucible-pools';

export interface MachineDisk {
  device: string;
  image: string;
  size: number;
  partitions: Array<{ index: number; start: number; size: number; partuuid: string; type: string }>;
}

export function machineDiskFile(hostDir: string): string {
  return path.join(hostDir, 'maas-disk.json');
}

/** The fake `cloud-init status [--wait]` reads this (written by the region on deploy). */
export function cloudInitTool(statusFile: string): string {
  return `#!/bin/bash
# lab stand-in for cloud-init: "status" and "status --wait", from the state the MAAS emulator writes
[ "$1" = status ] || { echo "lab cloud-init: only 'status [--wait] [--long]' is emulated" >&2; exit 2; }
wait=no; for a in "$@"; do [ "$a" = --wait ] && wait=yes; done
state() { cat ${statusFile} 2>/dev/null || echo running; }
if [ $wait = yes ]; then
  while [ "$(state)" = running ]; do printf .; sleep 0.2; done; echo
fi
s=$(state)
echo "status: $s"
case $s in done) exit 0;; running) exit 0;; *) exit 1;; esac
`;
}

export async function buildMachine(ctx: ScenarioContext, fullSize: boolean): Promise<MachineDisk> {
  const diskDir = path.join(ctx.hostDir, 'disks');
  const image = path.join(diskDir, 'sda.img');
  const size = fullSize ? SEED_DISK_BYTES : 4 * GiB;
  const statusFile = path.join(ctx.hostDir, 'cloud-init', 'status');
  const devDisk = path.join(ctx.hostDir, 'dev-disk');
  writeFileSync(path.join(ctx.hostDir, 'bin', 'cloud-init'), cloudInitTool(statusFile), { mode: 0o755 });
  const binds = [...CRUCIBLE_MOUNTS, LOOP_FILE_DIR].map((m) => ({ target: m, source: path.join(ctx.hostDir, 'private', m.replace(/\//g, '_')) }));
  ctx.recordLoopBackingFile(image);
  const r = await ctx.exec(
    `set -euo pipefail
same_file() { [ "$(stat -c %d:%i "$1" 2>/dev/null)" = "$(stat -c %d:%i "$2" 2>/dev/null)" ]; }
` +
      bash`mkdir -p ${diskDir} ${path.dirname(statusFile)} ${devDisk} /dev/disk
rm -f ${image}; truncate -s ${size} ${image}
dev=$(losetup -f --show ${image})
partx -d "$dev" 2>/dev/null || true  # partitions an earlier user of this device number left in the kernel
same_file ${devDisk} /dev/disk || mount --bind ${devDisk} /dev/disk
` +
      seedTableScript(statusFile) +
      binds.map((b) => bash`mkdir -p ${b.source} ${b.target}; same_file ${b.source} ${b.target} || mount --bind ${b.source} ${b.target}`).join('\n') +
      reportScript,
    { timeoutMs: 120_000 },
  );
  if (r.code !== 0) throw new Error(`building proper-raptor's disk failed (exit ${r.code}): ${r.stderr.trim()}`);
  const disk = recordDisk(ctx, image, size, r.stdout);
  const z = await startZfsFuse(ctx, { poolBytes: 0, pool: false });
  ctx.log(`sda = ${disk.device} (${Math.round(size / GiB)} GiB sparse, EFI + root); zfs-fuse ready in ${z.timings.daemonMs} ms`);
  return disk;
}

/** With $dev the disk: the seed's table (EFI 512 MiB + one big root), its partition devices and links, cloud-init done. */
function seedTableScript(statusFile: string): string {
  return (
    `printf 'label: gpt\\nstart=2048, size=1048576, type=U\\ntype=L\\n' | sfdisk -q "$dev"
partx -a "$dev" 2>/dev/null || partx -u "$dev"
mkdir -p /dev/disk/by-dname /dev/disk/by-partuuid
ln -sfn "$dev" /dev/disk/by-dname/sda
for n in 1 2; do
  for i in $(seq 50); do [ -b "\${dev}p$n" ] && break; sleep 0.1; done
  pu=$(sfdisk --part-uuid "$dev" $n | tr 'A-Z' 'a-z')
  ln -sfn "\${dev}p$n" /dev/disk/by-dname/sda-part$n
  ln -sfn "\${dev}p$n" /dev/disk/by-partuuid/$pu
done
` +
    bash`echo done > ${statusFile}
`
  );
}

const reportScript = `\necho "$dev"; sfdisk -J "$dev"; for n in 1 2; do echo "PARTUUID $n $(sfdisk --part-uuid "$dev" $n | tr 'A-Z' 'a-z')"; done`;

function recordDisk(ctx: ScenarioContext, image: string, size: number, stdout: string): MachineDisk {
  const lines = stdout.split('\n');
  const device = lines[0].trim();
  const jsonText = stdout.slice(stdout.indexOf('{'), stdout.lastIndexOf('}') + 1);
  const table = JSON.parse(jsonText) as { partitiontable: { partitions: Array<{ node: string; start: number; size: number; type: string }> } };
  const uuids = Object.fromEntries(lines.filter((l) => l.startsWith('PARTUUID ')).map((l) => l.split(' ').slice(1)));
  const disk: MachineDisk = {
    device,
    image,
    size,
    partitions: table.partitiontable.partitions.map((p, i) => ({ index: i + 1, start: p.start, size: p.size * 512, partuuid: uuids[String(i + 1)], type: p.type })),
  };
  writeFileSync(machineDiskFile(ctx.hostDir), JSON.stringify(disk, null, 1));
  return disk;
}

/**
 * proper-raptor back as seed 000 found it, in about a second instead of a lab rebuild (for tests that
 * run the runbook many times): every pool destroyed, the loop-file folder emptied, the disk discarded
 * (all zeros again, so no old ZFS label survives) and given the seed's table with new partuuids.
 */
export async function resetMachine(ctx: ScenarioContext): Promise<MachineDisk> {
  const old = JSON.parse(readFileSync(machineDiskFile(ctx.hostDir), 'utf8')) as MachineDisk;
  const statusFile = path.join(ctx.hostDir, 'cloud-init', 'status');
  const r = await ctx.exec(
    `set -euo pipefail
for p in $(zpool list -H -o name 2>/dev/null); do zpool destroy -f "$p" || zpool export -f "$p"; done
` +
      bash`dev=${old.device}
find ${LOOP_FILE_DIR} -mindepth 1 -delete
rm -rf /dev/disk/by-dname /dev/disk/by-partuuid ${path.join(ctx.hostDir, 'maas-run')}
partx -d "$dev" 2>/dev/null || true
blkdiscard -f "$dev"
` +
      seedTableScript(statusFile) +
      reportScript,
    { timeoutMs: 60_000 },
  );
  if (r.code !== 0) throw new Error(`resetting proper-raptor's disk failed (exit ${r.code}): ${r.stderr.trim()}`);
  return recordDisk(ctx, old.image, old.size, r.stdout);
}
