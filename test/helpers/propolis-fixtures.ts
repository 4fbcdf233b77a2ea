// Request bodies for propolis-server tests: an ensure request shaped as propolis-cli sends it
// (domain-apis.md A3/A6) around a Crucible volume on three downstairs.

export const LAB_UUID = '0cedae45-3d6e-4d90-b2cb-56f1a1a42a89';

export interface VolumeGeometry {
  blockSize: number;
  blocksPerExtent: number;
  extentCount: number;
  targets: string[];
  id?: string;
}

export function vcrJson(g: VolumeGeometry, gen: number): string {
  const id = g.id ?? LAB_UUID;
  return JSON.stringify({
    type: 'volume',
    id,
    block_size: g.blockSize,
    sub_volumes: [
      {
        type: 'region',
        block_size: g.blockSize,
        blocks_per_extent: g.blocksPerExtent,
        extent_count: g.extentCount,
        opts: { id, target: g.targets, lossy: false, flush_timeout: null, key: null, cert_pem: null, key_pem: null, root_cert_pem: null, control: null, read_only: false },
        gen,
      },
    ],
    read_only_parent: null,
  });
}

export function properties(id: string, name = 'vm0') {
  return {
    id,
    name,
    description: 'propolis-cli generated instance',
    metadata: { project_id: LAB_UUID, silo_id: LAB_UUID, sled_id: LAB_UUID, sled_model: 'fake-gimlet', sled_revision: 1, sled_serial: 'fake-serial' },
  };
}

export function spec(requestJson: string, opts: { cpus?: number; memoryMb?: number } = {}) {
  return {
    board: { chipset: { type: 'i440_fx', value: { enable_pcie: false } }, cpus: opts.cpus ?? 2, memory_mb: opts.memoryMb ?? 512, cpuid: null },
    components: {
      disk0: { type: 'virtio_disk', component: { backend_id: 'disk0-backend', pci_path: { bus: 0, device: 17, function: 0 } } },
      'disk0-backend': { type: 'crucible_storage_backend', component: { readonly: false, request_json: requestJson } },
      com1: { type: 'serial_port', component: { num: 'com1' } },
      pvpanic: { type: 'qemu_pvpanic', component: { enable_isa: true } },
    },
    smbios: null,
  };
}

export function specEnsure(id: string, requestJson: string, opts: { cpus?: number; memoryMb?: number } = {}) {
  return { properties: properties(id), init: { method: 'Spec', value: { spec: spec(requestJson, opts) } } };
}

export function migrationEnsure(id: string, migrationId: string, srcAddr: string, requestJson: string) {
  return {
    properties: properties(id),
    init: {
      method: 'MigrationTarget',
      value: { migration_id: migrationId, src_addr: srcAddr, replace_components: { 'disk0-backend': { component: 'CrucibleStorageBackend', spec: { readonly: false, request_json: requestJson } } } },
    },
  };
}
