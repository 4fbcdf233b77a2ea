import { z } from 'zod';

// The request and response types of propolis-server API 5.0.0 the emulator serves
// (shared/reference/domain-apis.md A2, A3, A7). Parsing is as strict as serde's for the fields
// the emulator uses; component kinds it does not model are accepted and carried in the spec.

const uuid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'a UUID');

export const instanceMetadataSchema = z.object({
  project_id: uuid,
  silo_id: uuid,
  sled_id: uuid,
  sled_model: z.string(),
  sled_revision: z.number().int().nonnegative(),
  sled_serial: z.string(),
});

export const instancePropertiesSchema = z.object({
  id: uuid,
  name: z.string(),
  description: z.string(),
  metadata: instanceMetadataSchema,
});
export type InstanceProperties = z.infer<typeof instancePropertiesSchema>;

const pciPath = z.object({ bus: z.number().int().min(0).max(255), device: z.number().int().min(0).max(31), function: z.number().int().min(0).max(7) });

export const componentSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('virtio_disk'), component: z.object({ backend_id: z.string(), pci_path: pciPath }) }),
  z.object({ type: z.literal('nvme_disk'), component: z.object({ backend_id: z.string(), pci_path: pciPath, serial_number: z.array(z.number().int()).length(20) }) }),
  z.object({ type: z.literal('crucible_storage_backend'), component: z.object({ readonly: z.boolean(), request_json: z.string() }) }),
  z.object({ type: z.literal('serial_port'), component: z.object({ num: z.enum(['com1', 'com2', 'com3', 'com4']) }) }),
  z.object({ type: z.literal('qemu_pvpanic'), component: z.object({ enable_isa: z.boolean() }) }),
  z.object({ type: z.literal('virtio_nic'), component: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal('virtio_network_backend'), component: z.object({ vnic_name: z.string() }) }),
  z.object({ type: z.literal('boot_settings'), component: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal('virtio_socket'), component: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal('file_storage_backend'), component: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal('blob_storage_backend'), component: z.record(z.string(), z.unknown()) }),
]);
export type Component = z.infer<typeof componentSchema>;

export const instanceSpecSchema = z.object({
  board: z.object({
    chipset: z.object({ type: z.literal('i440_fx'), value: z.object({ enable_pcie: z.boolean() }) }),
    cpus: z.number().int().min(1).max(255),
    memory_mb: z.number().int().min(1),
    cpuid: z.unknown().nullable().optional(),
  }),
  components: z.record(z.string(), componentSchema),
  smbios: z.unknown().nullable().optional(),
});
export type InstanceSpec = z.infer<typeof instanceSpecSchema>;

export const replacementComponentSchema = z.discriminatedUnion('component', [
  z.object({ component: z.literal('CrucibleStorageBackend'), spec: z.object({ readonly: z.boolean(), request_json: z.string() }) }),
  z.object({ component: z.literal('VirtioNetworkBackend'), spec: z.object({ vnic_name: z.string() }) }),
  z.object({ component: z.literal('MigrationFailureInjector'), spec: z.record(z.string(), z.unknown()) }),
]);
export type ReplacementComponent = z.infer<typeof replacementComponentSchema>;

export const ensureRequestSchema = z.object({
  properties: instancePropertiesSchema,
  init: z.discriminatedUnion('method', [
    z.object({ method: z.literal('Spec'), value: z.object({ spec: instanceSpecSchema }) }),
    z.object({
      method: z.literal('MigrationTarget'),
      value: z.object({
        migration_id: uuid,
        src_addr: z.string().regex(/^[0-9.]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/, 'a socket address'),
        replace_components: z.record(z.string(), replacementComponentSchema),
      }),
    }),
  ]),
});
export type EnsureRequest = z.infer<typeof ensureRequestSchema>;

export const stateRequestedSchema = z.enum(['Run', 'Stop', 'Reboot']);
export type StateRequested = z.infer<typeof stateRequestedSchema>;

export const INSTANCE_STATES = ['Creating', 'Starting', 'Running', 'Stopping', 'Stopped', 'Rebooting', 'Migrating', 'Repairing', 'Failed', 'Destroyed'] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

export const MIGRATION_STATES = ['Sync', 'RamPush', 'Pause', 'RamPushDirty', 'Device', 'Resume', 'RamPull', 'Server', 'Finish', 'Error'] as const;
export type MigrationState = (typeof MIGRATION_STATES)[number];

/** The phases each side reports, in the order propolis goes through them (domain-apis.md A2). */
export const SOURCE_PHASES: MigrationState[] = ['Sync', 'RamPush', 'Pause', 'RamPushDirty', 'Device', 'Server', 'Finish'];
export const DESTINATION_PHASES: MigrationState[] = ['Sync', 'RamPush', 'RamPushDirty', 'Pause', 'Device', 'RamPull', 'Server', 'Finish'];

export interface MigrationStatus {
  id: string;
  state: MigrationState;
}
export interface MigrationStatuses {
  migration_in: MigrationStatus | null;
  migration_out: MigrationStatus | null;
}

export const stateMonitorRequestSchema = z.object({ gen: z.number().int().nonnegative() });

// VolumeConstructionRequest (A7): the emulator's upstairs builds volumes of region sub-volumes.
export const crucibleOptsSchema = z.object({
  id: uuid,
  target: z.array(z.string().regex(/^[0-9.]+:\d+$/, 'an IPv4 socket address')).length(3),
  lossy: z.boolean(),
  flush_timeout: z.number().nullable(),
  key: z.string().nullable(),
  cert_pem: z.string().nullable(),
  key_pem: z.string().nullable(),
  root_cert_pem: z.string().nullable(),
  control: z.string().nullable(),
  read_only: z.boolean(),
});
export const regionVcrSchema = z.object({
  type: z.literal('region'),
  block_size: z.number().int().positive(),
  blocks_per_extent: z.number().int().positive(),
  extent_count: z.number().int().positive(),
  opts: crucibleOptsSchema,
  gen: z.number().int().nonnegative(),
});
export const volumeVcrSchema = z.object({
  type: z.literal('volume'),
  id: uuid,
  block_size: z.number().int().positive(),
  sub_volumes: z.array(regionVcrSchema).length(1, 'the lab models volumes of exactly one region sub-volume'),
  read_only_parent: z.null(),
});
export type VolumeVcr = z.infer<typeof volumeVcrSchema>;
export type RegionVcr = z.infer<typeof regionVcrSchema>;

export function parseVcr(requestJson: string): VolumeVcr {
  let raw: unknown;
  try {
    raw = JSON.parse(requestJson);
  } catch (err) {
    throw new Error(`request_json is not JSON: ${(err as Error).message}`);
  }
  const parsed = volumeVcrSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`request_json is not a VolumeConstructionRequest the lab serves: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const region = parsed.data.sub_volumes[0];
  if (region.block_size !== parsed.data.block_size) throw new Error(`request_json: the volume's block_size ${parsed.data.block_size} differs from its region's ${region.block_size}`);
  return parsed.data;
}
