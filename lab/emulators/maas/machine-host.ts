import path from 'node:path';
import { execInHost } from '../../exec';
import { hostDir } from '../../paths';
import { bash } from '../../../activities/ssh/command';
import type { DiskState, MachineState } from './state';

// What the region does ON the machine (its lab host): read its real disk for the resources file, run
// commissioning scripts for real, write the deployed layout to the real disk, and flip cloud-init.
// Everything the machine's scripts see lives under the host's own folder (the same path inside the
// host), never the machine's real root: MAAS's /storage-config.json becomes <hostDir>/maas-run/….

export function runDir(machine: MachineState): string {
  return path.join(hostDir(machine.labHost), 'maas-run');
}

export function cloudInitStatusFile(labHost: string): string {
  return path.join(hostDir(labHost), 'cloud-init', 'status');
}

async function inHost(machine: MachineState, what: string, script: string, timeoutMs = 120_000): Promise<string> {
  const r = await execInHost(machine.labHost, `set -euo pipefail\n${script}`, { timeoutMs });
  if (r.code !== 0) throw new Error(`${what} on ${machine.hostname} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  return r.stdout;
}

/** The machine-resources output MAAS's scripts read ($MAAS_RESOURCES_FILE), from the real disks. */
export async function collectResources(machine: MachineState): Promise<{ file: string; json: unknown }> {
  const disks = [];
  for (const d of machine.disks) {
    const size = Number((await inHost(machine, `reading the size of ${d.labDevice}`, bash`blockdev --getsize64 ${d.labDevice}`)).trim());
    d.size = size;
    disks.push({
      id: d.name,
      device_path: `/dev/disk/by-path/lab-${d.name}`,
      model: d.model,
      serial: d.serial,
      type: 'scsi',
      read_only: false,
      removable: false,
      rpm: 0,
      size,
      block_size: d.block_size,
      numa_node: 0,
      partitions: [],
    });
  }
  const json = { api_extensions: [], api_version: '1.0', resources: { storage: { disks, total: disks.length } } };
  const file = path.join(runDir(machine), 'resources.json');
  const r = await execInHost(machine.labHost, bash`mkdir -p ${runDir(machine)} && cat > ${file}`, { input: JSON.stringify(json, null, 1), timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`cannot write the resources file on ${machine.hostname}: ${r.stderr}`);
  return { file, json };
}

export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run one uploaded script on the machine, as maas-run-remote-scripts does: its env, its timeout. */
export async function runScriptOnMachine(machine: MachineState, name: string, script: string, timeoutSeconds: number, resourcesFile: string): Promise<ScriptRun> {
  const dir = runDir(machine);
  const file = path.join(dir, 'scripts', name);
  const storageFile = path.join(dir, 'storage-config.json');
  const write = await execInHost(machine.labHost, bash`mkdir -p ${path.dirname(file)} && cat > ${file} && chmod 755 ${file}`, { input: script, timeoutMs: 30_000 });
  if (write.code !== 0) throw new Error(`cannot write ${name} on ${machine.hostname}: ${write.stderr}`);
  const limit = timeoutSeconds > 0 ? timeoutSeconds : 3600;
  const r = await execInHost(
    machine.labHost,
    bash`cd ${dir} && export MAAS_RESOURCES_FILE=${resourcesFile} MAAS_STORAGE_CONFIG_FILE=${storageFile} OUTPUT_COMBINED_PATH=${`${file}.out`} && timeout ${limit} ${file}`,
    { timeoutMs: (limit + 30) * 1000 },
  );
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, timedOut: r.code === 124 };
}

export async function clearStorageConfig(machine: MachineState): Promise<void> {
  await inHost(machine, 'clearing the storage config file', bash`rm -f ${path.join(runDir(machine), 'storage-config.json')}`);
}

/** The custom script's output file, or null when it wrote none. */
export async function readStorageConfig(machine: MachineState): Promise<string | null> {
  const file = path.join(runDir(machine), 'storage-config.json');
  const r = await execInHost(machine.labHost, bash`if [ -e ${file} ]; then cat ${file}; else exit 3; fi`, { timeoutMs: 30_000 });
  if (r.code === 3) return null;
  if (r.code !== 0) throw new Error(`cannot read ${file} on ${machine.hostname}: ${r.stderr}`);
  return r.stdout;
}

const GPT_TYPE: Record<string, string> = { fat32: 'U', vfat: 'U', swap: 'S' };

/** The sfdisk script curtin's partitioning amounts to for this disk (1 MiB aligned, sizes exact). */
export function sfdiskScript(disk: DiskState): string {
  const lines = [`label: ${disk.partition_table_type === 'MBR' ? 'dos' : 'gpt'}`];
  let first = true;
  let expected = 1;
  for (const p of disk.partitions) {
    // bios_grub (index 1 when partitions start at 2) is 1 MiB at the front.
    while (expected < p.index) {
      lines.push(`${first ? 'start=2048, ' : ''}size=2048, type=21686148-6449-6E6F-744E-656564454649`);
      first = false;
      expected++;
    }
    const type = p.filesystem ? (GPT_TYPE[p.filesystem.fstype] ?? 'L') : 'L';
    lines.push(`${first ? 'start=2048, ' : ''}size=${p.size / 512}, type=${type}`);
    first = false;
    expected++;
  }
  return `${lines.join('\n')}\n`;
}

/**
 * "Deploy": export pools on the disk (curtin's clear_holders), write the table, zero the first MiB of
 * each partition (wipe: superblock), make the partition devices (partx), and create the links curtin
 * (by-dname) and udev (by-partuuid) would, in a private /dev/disk of the host's mount namespace.
 */
export async function writeDeployedLayout(machine: MachineState): Promise<string> {
  const byDisk = path.join(hostDir(machine.labHost), 'dev-disk');
  let script = bash`mkdir -p ${byDisk} /dev/disk
same_file() { [ "$(stat -c %d:%i "$1" 2>/dev/null)" = "$(stat -c %d:%i "$2" 2>/dev/null)" ]; }
same_file ${byDisk} /dev/disk || mount --bind ${byDisk} /dev/disk
if command -v zpool >/dev/null && [ -S /var/run/zfs/zfs_socket ]; then
  for p in $(zpool list -H -o name 2>/dev/null); do echo "curtin clear-holders: exporting zpool $p"; zpool export -f "$p" || true; done
fi
rm -rf /dev/disk/by-dname /dev/disk/by-partuuid && mkdir -p /dev/disk/by-dname /dev/disk/by-partuuid
`;
  for (const d of machine.disks) {
    const dev = d.labDevice;
    script +=
      bash`echo "curtin: partitioning ${d.name} (${dev})"
partx -d ${dev} 2>/dev/null || true
sfdisk --wipe always --wipe-partitions always -q ${dev} <<'SFDISK'
` +
      sfdiskScript(d) +
      'SFDISK\n' +
      bash`partx -a ${dev} 2>/dev/null || partx -u ${dev}
ln -sfn ${dev} /dev/disk/by-dname/${d.name}
`;
    for (const p of d.partitions) {
      const part = `${dev}p${p.index}`;
      script += bash`for i in $(seq 50); do [ -b ${part} ] && break; sleep 0.1; done
dd if=/dev/zero of=${part} bs=1M count=1 conv=notrunc status=none
pu=$(sfdisk --part-uuid ${dev} ${p.index} | tr 'A-Z' 'a-z')
ln -sfn ${part} /dev/disk/by-dname/${`${d.name}-part${p.index}`}
ln -sfn ${part} /dev/disk/by-partuuid/$pu
echo "curtin: ${`${d.name}-part${p.index}`} -> ${part} partuuid $pu"
`;
    }
  }
  return inHost(machine, 'writing the deployed layout', script, 180_000);
}

export async function setCloudInit(machine: MachineState, status: 'running' | 'done' | 'error'): Promise<void> {
  const file = cloudInitStatusFile(machine.labHost);
  await inHost(machine, `cloud-init ${status}`, bash`mkdir -p ${path.dirname(file)} && echo ${status} > ${file}.tmp && mv ${file}.tmp ${file}`);
}
