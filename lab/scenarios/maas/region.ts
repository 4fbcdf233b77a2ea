import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { addInventoryMaas } from '../../inventory-file';
import { hostDir, labDir, repoRoot } from '../../paths';
import { NODE_STATUS } from '../../emulators/maas/enums';
import { LAB_RELOAD_PATH } from '../../emulators/maas/server';
import { emptyRegion, saveRegion, writeLabConfig, type LabConfig, type MachineState } from '../../emulators/maas/state';
import type { ScenarioContext } from '../types';
import { machineDiskFile, type MachineDisk } from './machine';

// The MAAS region: the emulator (lab/emulators/maas) as a process of this machine (not inside a
// host's namespaces, so it can enter the machine's host to commission and deploy it), listening on
// the region host's address, port 5240. lab down stops it by its recorded pid. The admin's API key
// is written to a file (mode 600) that the inventory's MAAS entry names; workers read it there.

export const MAAS_ENDPOINT = 'lab-maas';
export const MAAS_PORT = 5240;
export const MACHINE_SYSTEM_ID = 'x7prpt';

export function regionStateDir(regionHost: string): string {
  return path.join(hostDir(regionHost), 'region');
}

export function apiKeyFile(name: 'admin' | 'operator'): string {
  return path.join(labDir(), 'maas', `${name}.key`);
}

function newKey(): string {
  const part = (n: number) =>
    randomBytes(n)
      .toString('base64url')
      .replace(/[-_]/g, 'x')
      .slice(0, n + 4);
  return `${part(14)}:${part(14)}:${part(24)}`;
}

/** Faults and timings for the running region (read by it on every use). */
export function setRegionLabConfig(regionHost: string, config: Partial<LabConfig>): void {
  writeLabConfig(regionStateDir(regionHost), config);
}

/**
 * The region as seed 000 found it: the machine Deployed on the disk the machine host has now.
 * `keepKeys` (a test re-seeding a running lab) keeps the API keys already handed out; `powerType`
 * gives the machine another power type (e.g. manual) than the lab's IPMI.
 */
export function seedRegion(regionHost: string, machineHost: string, machineAddress: string, opts: { keepKeys?: boolean; powerType?: string } = {}): void {
  const dir = regionStateDir(regionHost);
  const disk = JSON.parse(readFileSync(machineDiskFile(hostDir(machineHost)), 'utf8')) as MachineDisk;
  const keys = opts.keepKeys ? { admin: readFileSync(apiKeyFile('admin'), 'utf8').trim(), operator: readFileSync(apiKeyFile('operator'), 'utf8').trim() } : { admin: newKey(), operator: newKey() };
  mkdirSync(path.dirname(apiKeyFile('admin')), { recursive: true, mode: 0o700 });
  for (const [name, key] of Object.entries(keys)) {
    writeFileSync(apiKeyFile(name as 'admin'), `${key}\n`, { mode: 0o600 });
    chmodSync(apiKeyFile(name as 'admin'), 0o600);
  }
  const state = emptyRegion();
  state.users = [
    { username: 'admin', is_superuser: true, apiKey: keys.admin },
    { username: 'operator', is_superuser: false, apiKey: keys.operator },
  ];
  const fs = (fstype: string, mount: string) => ({ fstype, label: null, uuid: randomUUID(), mount_point: mount, mount_options: null });
  const machine: MachineState = {
    system_id: MACHINE_SYSTEM_ID,
    hostname: machineHost,
    domain: 'maas',
    labHost: machineHost,
    status: NODE_STATUS.DEPLOYED,
    previousStatus: NODE_STATUS.ALLOCATED,
    owner: 'admin',
    power_type: opts.powerType ?? 'ipmi',
    power_state: opts.powerType === 'manual' ? 'unknown' : 'on',
    status_message: 'Deployed',
    error_description: '',
    osystem: 'ubuntu',
    distro_series: 'jammy',
    architecture: 'amd64/generic',
    bios_boot_method: 'uefi',
    cpu_count: 4,
    memory: 16384,
    ip_addresses: [machineAddress],
    disks: [
      {
        id: state.nextId.blockDevice++,
        name: 'sda',
        size: disk.size,
        block_size: 512,
        model: 'MA90_M.2_SATA_SSD',
        serial: 'LAB0000000000000A',
        partition_table_type: 'GPT',
        filesystem: null,
        labDevice: disk.device,
        partitions: disk.partitions.map((p) => ({
          id: state.nextId.partition++,
          index: p.index,
          size: p.size,
          bootable: p.index === 1,
          uuid: p.partuuid,
          filesystem: p.index === 1 ? fs('fat32', '/boot/efi') : fs('ext4', '/'),
        })),
      },
    ],
    storageExtra: null,
    currentCommissioningSet: null,
    currentInstallationSet: null,
    currentTestingSet: null,
    generation: 1,
    operationStartedAt: null,
  };
  state.machines.push(machine);
  saveRegion(dir, state);
  writeLabConfig(dir, {});
}

/** Start the emulator; resolves once it answers on its port. Returns its pid. */
export async function startRegion(ctx: ScenarioContext, address: string): Promise<number> {
  const dir = regionStateDir(ctx.host);
  const log = openSync(path.join(dir, 'emulator.log'), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'lab/emulators/maas/main.ts'), dir, address, String(MAAS_PORT)], {
    cwd: repoRoot,
    env: { ...process.env, RUNBOOK_LAB_DIR: labDir() },
    stdio: ['ignore', log, log],
    detached: true,
  });
  child.unref();
  const pid = child.pid!;
  ctx.recordPid(pid);
  const url = `http://${address}:${MAAS_PORT}/MAAS/api/2.0/version/`;
  for (let i = 0; i < 150; i++) {
    try {
      const r = await fetch(url);
      if (r.ok) {
        addInventoryMaas(MAAS_ENDPOINT, { url: `http://${address}:${MAAS_PORT}/MAAS/`, key: { file: apiKeyFile('admin') } });
        ctx.log(`MAAS region API emulator on http://${address}:${MAAS_PORT}/MAAS/ (pid ${pid}, state ${dir})`);
        return pid;
      }
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the MAAS emulator did not answer on ${url}; see ${path.join(dir, 'emulator.log')}`);
}

/** Lab only: make the running emulator take the state file as re-seeded (see Region.reload). */
export async function reloadRegion(address: string): Promise<void> {
  const r = await fetch(`http://${address}:${MAAS_PORT}${LAB_RELOAD_PATH}`, { method: 'POST' });
  if (!r.ok) throw new Error(`the MAAS emulator on ${address} did not reload its state: ${r.status} ${await r.text()}`);
}
