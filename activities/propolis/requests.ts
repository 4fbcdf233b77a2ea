// Pure builders of what liveMigrate sends to propolis-server and the storage host, shared by the
// workflow (plan mode shows them) and the activities (which send them). No I/O, no Node imports:
// workflow code bundles this file.

export interface RegionGeometry {
  blockSize: number;
  blocksPerExtent: number;
  extentCount: number;
}

export interface VolumeRef extends RegionGeometry {
  /** The volume (and region opts) id. */
  id: string;
  /** The three downstairs, ip:port. */
  targets: string[];
}

/** The VolumeConstructionRequest of the boot disk (domain-apis.md A7), as the string propolis takes. */
export function vcrRequestJson(volume: VolumeRef, gen: number): string {
  return JSON.stringify({
    type: 'volume',
    id: volume.id,
    block_size: volume.blockSize,
    sub_volumes: [
      {
        type: 'region',
        block_size: volume.blockSize,
        blocks_per_extent: volume.blocksPerExtent,
        extent_count: volume.extentCount,
        opts: { id: volume.id, target: volume.targets, lossy: false, flush_timeout: null, key: null, cert_pem: null, key_pem: null, root_cert_pem: null, control: null, read_only: false },
        gen,
      },
    ],
    read_only_parent: null,
  });
}

export interface VmShape {
  name: string;
  vcpus: number;
  memoryMiB: number;
}

export interface DiskShape {
  name: string;
  /** PCI slot 0..7: device 16+slot on bus 0, as propolis-cli places a disk. */
  slot: number;
}

export const backendId = (disk: DiskShape) => `${disk.name}-backend`;

/** The properties propolis-cli sends (A3), with the lab's fixed metadata. */
export function instanceProperties(id: string, vm: VmShape) {
  const nil = '00000000-0000-0000-0000-000000000000';
  return {
    id,
    name: vm.name,
    description: 'durable-runbooks liveMigrate',
    metadata: { project_id: nil, silo_id: nil, sled_id: nil, sled_model: 'lab-sled', sled_revision: 1, sled_serial: 'lab' },
  };
}

/** PUT /instance with init Spec: the boot disk on Crucible, COM1 (the guest's console) and pvpanic. */
export function specEnsureRequest(id: string, vm: VmShape, disk: DiskShape, requestJson: string) {
  return {
    properties: instanceProperties(id, vm),
    init: {
      method: 'Spec',
      value: {
        spec: {
          board: { chipset: { type: 'i440_fx', value: { enable_pcie: false } }, cpus: vm.vcpus, memory_mb: vm.memoryMiB, cpuid: null },
          components: {
            [disk.name]: { type: 'virtio_disk', component: { backend_id: backendId(disk), pci_path: { bus: 0, device: 16 + disk.slot, function: 0 } } },
            [backendId(disk)]: { type: 'crucible_storage_backend', component: { readonly: false, request_json: requestJson } },
            com1: { type: 'serial_port', component: { num: 'com1' } },
            pvpanic: { type: 'qemu_pvpanic', component: { enable_isa: true } },
          },
          smbios: null,
        },
      },
    },
  };
}

/** PUT /instance with init MigrationTarget: the destination pulls the source; only the disk's backend is replaced (new gen). */
export function migrationEnsureRequest(id: string, vm: VmShape, disk: DiskShape, migrationId: string, srcAddr: string, requestJson: string) {
  return {
    properties: instanceProperties(id, vm),
    init: {
      method: 'MigrationTarget',
      value: {
        migration_id: migrationId,
        src_addr: srcAddr,
        replace_components: { [backendId(disk)]: { component: 'CrucibleStorageBackend', spec: { readonly: false, request_json: requestJson } } },
      },
    },
  };
}

/** One API call as plans and audits show it. */
export function callLine(host: string, port: number, method: string, path: string, body?: unknown): string {
  return `${method} http://${host}:${port}${path} (api-version 5.0.0)${body === undefined ? '' : ` ${JSON.stringify(body)}`}`;
}

/**
 * Where the generation ledger of a volume lives: beside each of its regions (in the directory that
 * holds the region's directory), so it lives and dies with the volume's storage, three copies.
 */
export const ledgerFiles = (regionDirs: string[], volumeId: string) => regionDirs.map((d) => `${d.replace(/\/[^/]+\/?$/, '')}/.gen-ledger/${volumeId}.jsonl`);
