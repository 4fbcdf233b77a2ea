import { NODE_STATUS_NAME, RESULT_TYPE_NAME, SCRIPT_STATUS, SCRIPT_STATUS_FAILED, SCRIPT_STATUS_NAME, SCRIPT_TYPE_NAME, HARDWARE_TYPE_NAME, PARALLEL_NAME } from './enums';
import { formatTimeout } from './script-metadata';
import type { DiskState, MachineState, PartitionState, ResultSetState, ScriptResultState, ScriptState } from './state';

// The API's JSON shapes (domain-apis.md C2/C5, maas-runbook.md §1-2), built from the state.

const API = '/MAAS/api/2.0';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function partitionUsedFor(p: PartitionState): string {
  if (!p.filesystem) return 'Unused';
  return p.filesystem.mount_point ? `${p.filesystem.fstype} formatted filesystem mounted at ${p.filesystem.mount_point}` : `Unmounted ${p.filesystem.fstype} formatted filesystem`;
}

export function renderPartition(m: MachineState, d: DiskState, p: PartitionState) {
  return {
    id: p.id,
    device_id: d.id,
    uuid: p.uuid,
    path: `/dev/disk/by-dname/${d.name}-part${p.index}`,
    type: 'partition',
    size: p.size,
    bootable: p.bootable,
    filesystem: p.filesystem
      ? { fstype: p.filesystem.fstype, label: p.filesystem.label, uuid: p.filesystem.uuid, mount_point: p.filesystem.mount_point, mount_options: p.filesystem.mount_options }
      : null,
    used_for: partitionUsedFor(p),
    tags: [],
    system_id: m.system_id,
    resource_uri: `${API}/nodes/${m.system_id}/blockdevices/${d.id}/partition/${p.id}`,
  };
}

export function renderBlockDevice(m: MachineState, d: DiskState) {
  const used = d.partitions.reduce((a, p) => a + p.size, 0);
  const n = d.partitions.length;
  const usedFor = n
    ? `${d.partition_table_type ?? 'GPT'} partitioned with ${n} partition${n === 1 ? '' : 's'}`
    : d.filesystem
      ? d.filesystem.mount_point
        ? `${d.filesystem.fstype} formatted filesystem mounted at ${d.filesystem.mount_point}`
        : `Unmounted ${d.filesystem.fstype} formatted filesystem`
      : 'Unused';
  return {
    id: d.id,
    name: d.name,
    type: 'physical',
    path: `/dev/disk/by-dname/${d.name}`,
    id_path: d.serial ? `/dev/disk/by-id/ata-${d.model}_${d.serial}` : `/dev/${d.name}`,
    model: d.model,
    serial: d.serial,
    size: d.size,
    block_size: d.block_size,
    available_size: n || d.filesystem ? Math.max(0, d.size - used - (n ? 5 * 1024 * 1024 : d.size)) : d.size,
    used_size: n ? used + 5 * 1024 * 1024 : d.filesystem ? d.size : 0,
    used_for: usedFor,
    filesystem: d.filesystem,
    partition_table_type: n ? d.partition_table_type : null,
    partitions: d.partitions.map((p) => renderPartition(m, d, p)),
    tags: ['ssd'],
    uuid: null,
    storage_pool: null,
    numa_node: 0,
    system_id: m.system_id,
    firmware_version: null,
    serial_number: d.serial,
    resource_uri: `${API}/nodes/${m.system_id}/blockdevices/${d.id}/`,
  };
}

export function renderMachine(m: MachineState) {
  return {
    system_id: m.system_id,
    hostname: m.hostname,
    fqdn: `${m.hostname}.${m.domain}`,
    domain: { name: m.domain, id: 0 },
    status: m.status,
    status_name: NODE_STATUS_NAME[m.status],
    status_message: m.status_message,
    status_action: '',
    osystem: m.osystem,
    distro_series: m.distro_series,
    owner: m.owner,
    power_type: m.power_type,
    power_state: m.power_state,
    architecture: m.architecture,
    bios_boot_method: m.bios_boot_method,
    cpu_count: m.cpu_count,
    memory: m.memory,
    storage: Math.round(m.disks.reduce((a, d) => a + d.size, 0) / 1e6),
    boot_disk: m.disks[0] ? renderBlockDevice(m, m.disks[0]) : null,
    blockdevice_set: m.disks.map((d) => renderBlockDevice(m, d)),
    physicalblockdevice_set: m.disks.map((d) => renderBlockDevice(m, d)),
    volume_groups: [],
    raids: [],
    cache_sets: [],
    error_description: m.error_description,
    ip_addresses: m.ip_addresses,
    tag_names: [],
    node_type: 0,
    node_type_name: 'Machine',
    locked: false,
    netboot: m.status !== 6,
    current_commissioning_result_id: m.currentCommissioningSet,
    current_installation_result_id: m.currentInstallationSet,
    current_testing_result_id: m.currentTestingSet,
    resource_uri: `${API}/machines/${m.system_id}/`,
  };
}

export function setStatus(set: ResultSetState): number {
  const live = set.results.filter((r) => !r.suppressed).map((r) => r.status);
  if (!live.length) return -1;
  if (live.some((s) => s === SCRIPT_STATUS.RUNNING || s === SCRIPT_STATUS.INSTALLING || s === SCRIPT_STATUS.APPLYING_NETCONF)) return SCRIPT_STATUS.RUNNING;
  if (live.some((s) => s === SCRIPT_STATUS.PENDING)) return SCRIPT_STATUS.PENDING;
  const failed = live.find((s) => SCRIPT_STATUS_FAILED.includes(s));
  if (failed !== undefined) return failed === SCRIPT_STATUS.TIMEDOUT ? SCRIPT_STATUS.TIMEDOUT : SCRIPT_STATUS.FAILED;
  if (live.some((s) => s === SCRIPT_STATUS.ABORTED)) return SCRIPT_STATUS.ABORTED;
  if (live.some((s) => s === SCRIPT_STATUS.DEGRADED)) return SCRIPT_STATUS.DEGRADED;
  return SCRIPT_STATUS.PASSED;
}

function runtime(started: string | null, ended: string | null): string {
  if (!started) return '';
  const secs = Math.max(0, Math.round(((ended ? Date.parse(ended) : Date.now()) - Date.parse(started)) / 1000));
  return formatTimeout(secs);
}

export function renderResult(r: ScriptResultState, includeOutput: boolean) {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    status_name: SCRIPT_STATUS_NAME[r.status],
    exit_status: r.exit_status,
    started: r.started,
    ended: r.ended,
    runtime: runtime(r.started, r.ended),
    starttime: r.started ? Date.parse(r.started) / 1000 : '',
    endtime: r.ended ? Date.parse(r.ended) / 1000 : '',
    estimated_runtime: '0:00:00',
    parameters: r.parameters,
    script_id: r.script_id,
    script_revision_id: r.script_id,
    suppressed: r.suppressed,
    ...(includeOutput ? { output: b64(r.output), stdout: b64(r.stdout), stderr: b64(r.stderr), result: b64(r.result) } : {}),
  };
}

export function renderResultSet(set: ResultSetState, results: ScriptResultState[], includeOutput: boolean) {
  const status = setStatus(set);
  return {
    id: set.id,
    system_id: set.system_id,
    type: set.type,
    type_name: RESULT_TYPE_NAME[set.type],
    last_ping: set.last_ping,
    status,
    status_name: SCRIPT_STATUS_NAME[status],
    started: set.started,
    ended: set.ended,
    runtime: runtime(set.started, set.ended),
    results: results.map((r) => renderResult(r, includeOutput)),
    resource_uri: `${API}/nodes/${set.system_id}/results/${set.id}/`,
  };
}

export function renderScript(s: ScriptState) {
  return {
    id: s.id,
    name: s.name,
    title: s.title,
    description: s.description,
    tags: s.tags,
    type: s.type,
    type_name: SCRIPT_TYPE_NAME[s.type],
    hardware_type: s.hardware_type,
    hardware_type_name: HARDWARE_TYPE_NAME[s.hardware_type],
    parallel: s.parallel,
    parallel_name: PARALLEL_NAME[s.parallel],
    timeout: formatTimeout(s.timeout),
    destructive: s.destructive,
    may_reboot: s.may_reboot,
    recommission: s.recommission,
    for_hardware: s.for_hardware,
    default: s.default,
    history: s.history.map((h) => ({ id: h.id, comment: h.comment, created: h.created })),
    resource_uri: `${API}/scripts/${s.name}`,
  };
}
