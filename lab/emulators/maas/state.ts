import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EventLevel } from './enums';

// The region's whole state, one JSON file in the maas lab host's folder, rewritten after every change
// (atomically, so a test reading it never sees half a file).

export interface FilesystemState {
  fstype: string;
  label: string | null;
  uuid: string;
  mount_point: string | null;
  mount_options: string | null;
}

export interface PartitionState {
  id: number;
  index: number;
  size: number;
  bootable: boolean;
  uuid: string;
  filesystem: FilesystemState | null;
  /** The name the layout JSON gave it: MAAS discards it (kept here only to resolve mounts). */
  layoutName?: string;
}

export interface DiskState {
  id: number;
  name: string;
  size: number;
  block_size: number;
  model: string;
  serial: string;
  partition_table_type: 'GPT' | 'MBR' | null;
  filesystem: FilesystemState | null;
  partitions: PartitionState[];
  /** The real device on the lab host that backs this disk (e.g. /dev/loop3). Not in the API. */
  labDevice: string;
}

export interface ScriptResultState {
  id: number;
  name: string;
  script_id: number | null;
  status: number;
  exit_status: number | null;
  started: string | null;
  ended: string | null;
  output: string;
  stdout: string;
  stderr: string;
  result: string;
  suppressed: boolean;
  parameters: Record<string, unknown>;
}

export interface ResultSetState {
  id: number;
  system_id: string;
  type: number;
  started: string | null;
  ended: string | null;
  last_ping: string | null;
  results: ScriptResultState[];
}

export interface MachineState {
  system_id: string;
  hostname: string;
  domain: string;
  /** The lab host that IS this machine (its sshd, its disk image). */
  labHost: string;
  status: number;
  /** Where an abort or a BMC failure reverts to. */
  previousStatus: number;
  owner: string | null;
  power_type: string;
  power_state: 'on' | 'off' | 'unknown' | 'error';
  status_message: string;
  error_description: string;
  osystem: string;
  distro_series: string;
  architecture: string;
  bios_boot_method: 'uefi' | 'pxe';
  cpu_count: number;
  memory: number;
  ip_addresses: string[];
  disks: DiskState[];
  /** What 50-maas-01-commissioning last received from the custom script (set_storage_layout custom re-applies it). */
  storageExtra: unknown | null;
  currentCommissioningSet: number | null;
  currentInstallationSet: number | null;
  currentTestingSet: number | null;
  /** Bumped by every status change that supersedes a background job (abort, release); jobs check it. */
  generation: number;
  /** When the running operation (Commissioning, Deploying) started, for node_timeout. */
  operationStartedAt: string | null;
}

export interface ScriptState {
  id: number;
  name: string;
  title: string;
  description: string;
  tags: string[];
  type: number;
  hardware_type: number;
  parallel: number;
  /** Seconds; 0 = none. */
  timeout: number;
  destructive: boolean;
  may_reboot: boolean;
  recommission: boolean;
  for_hardware: string[];
  script: string;
  /** Keys the embedded YAML set (a form value for one of them must agree). */
  embeddedKeys: string[];
  default: boolean;
  history: Array<{ id: number; comment: string; created: string }>;
}

export interface EventState {
  id: number;
  node: string;
  hostname: string;
  username: string;
  level: EventLevel;
  type: string;
  description: string;
  created: string;
}

export interface UserState {
  username: string;
  is_superuser: boolean;
  /** consumer_key:token_key:token_secret */
  apiKey: string;
}

export interface RegionState {
  machines: MachineState[];
  scripts: ScriptState[];
  resultSets: ResultSetState[];
  events: EventState[];
  users: UserState[];
  nextId: { script: number; resultSet: number; result: number; event: number; blockDevice: number; partition: number };
}

export function emptyRegion(): RegionState {
  return { machines: [], scripts: [], resultSets: [], events: [], users: [], nextId: { script: 100, resultSet: 1, result: 1, event: 1, blockDevice: 1, partition: 1 } };
}

export function stateFile(dir: string): string {
  return path.join(dir, 'region.json');
}

export function loadRegion(dir: string): RegionState {
  const file = stateFile(dir);
  if (!existsSync(file)) return emptyRegion();
  return JSON.parse(readFileSync(file, 'utf8')) as RegionState;
}

export function saveRegion(dir: string, state: RegionState): void {
  mkdirSync(dir, { recursive: true });
  const file = stateFile(dir);
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 1));
  renameSync(`${file}.tmp`, file);
}

/** Lab knobs a test sets between requests (read on every use): timings and faults on demand. */
export interface LabConfig {
  timings: {
    /** Power on/off and the machine booting into the ephemeral environment. */
    bootMs: number;
    /** Releasing → Ready with power driven by a BMC. */
    releaseMs: number;
    /** Deployed is reported this long before cloud-init says done. */
    cloudInitMs: number;
    /** MAAS's node_timeout (default 30 min), scaled down for the lab. */
    nodeTimeoutMs: number;
    /** How long the lab counts as one "minute" in timeout messages (cosmetic). */
    nodeTimeoutMinutes: number;
  };
  faults: {
    /** The BMC does not answer: commission/deploy revert at once (results Aborted, one event). */
    bmcUnreachable?: boolean;
    /** The machine never reports back for this operation: node_timeout fails it. */
    hang?: 'commissioning' | 'deploying';
    /** The named commissioning script exits with this code whatever it does (stderr says why). */
    scriptExit?: { name: string; code: number };
    /** The named commissioning script "runs" past its timeout: exit 124, status Timed out. */
    scriptTimeout?: string;
    /** curtin fails: Failed deployment with an installation log. */
    deployFail?: boolean;
    /**
     * What 50-maas-01-commissioning reads instead of the custom script's file (as if another script
     * had clobbered it): for tests of how a runbook meets an invalid or unappliable layout.
     */
    storageConfigOverride?: string;
    /**
     * Apply and log a request (e.g. "POST scripts", "POST machines/x7prpt op=mark_broken": method,
     * the path under /MAAS/api/2.0/ without its trailing slash, and its op), then hold its reply this long: the change
     * has landed in MAAS but the caller has not heard so, the moment a test kills the worker at.
     */
    holdReply?: { request: string; ms: number };
  };
}

export const DEFAULT_LAB_CONFIG: LabConfig = {
  timings: { bootMs: 300, releaseMs: 300, cloudInitMs: 1500, nodeTimeoutMs: 20_000, nodeTimeoutMinutes: 30 },
  faults: {},
};

export function labConfigFile(dir: string): string {
  return path.join(dir, 'lab-config.json');
}

export function readLabConfig(dir: string): LabConfig {
  const file = labConfigFile(dir);
  if (!existsSync(file)) return DEFAULT_LAB_CONFIG;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<LabConfig>;
  return { timings: { ...DEFAULT_LAB_CONFIG.timings, ...raw.timings }, faults: { ...raw.faults } };
}

export function writeLabConfig(dir: string, config: Partial<LabConfig>): void {
  const merged = { timings: { ...DEFAULT_LAB_CONFIG.timings, ...config.timings }, faults: { ...config.faults } };
  writeFileSync(`${labConfigFile(dir)}.tmp`, JSON.stringify(merged, null, 1));
  renameSync(`${labConfigFile(dir)}.tmp`, labConfigFile(dir));
}
