import { z } from 'zod';

// MAAS answers, parsed with zod (only the fields the runbook reads; MAAS sends many more).

export const fsSchema = z.object({ fstype: z.string(), mount_point: z.string().nullable().optional() }).loose().nullable();
export const partitionSchema = z.object({ id: z.number(), path: z.string(), size: z.number(), used_for: z.string(), filesystem: fsSchema, uuid: z.string().nullable().optional() }).loose();
export const blockDeviceSchema = z
  .object({ id: z.number(), name: z.string(), size: z.number(), path: z.string(), partition_table_type: z.string().nullable(), partitions: z.array(partitionSchema) })
  .loose();
export const machineSchema = z
  .object({
    system_id: z.string().regex(/^[a-z0-9]+$/),
    hostname: z.string(),
    status: z.number(),
    status_name: z.string(),
    power_type: z.string(),
    power_state: z.string(),
    owner: z.string().nullable(),
    error_description: z.string().default(''),
    bios_boot_method: z.string().default('uefi'),
    architecture: z.string().default('amd64/generic'),
    current_commissioning_result_id: z.number().nullable().optional(),
    current_installation_result_id: z.number().nullable().optional(),
    blockdevice_set: z.array(blockDeviceSchema),
  })
  .loose();
export type MaasMachine = z.infer<typeof machineSchema>;
export const eventsSchema = z
  .object({ count: z.number(), events: z.array(z.object({ id: z.number(), level: z.string(), type: z.string(), description: z.string(), created: z.string() }).loose()) })
  .loose();
export const resultSetSchema = z
  .object({
    id: z.number(),
    status: z.number(),
    status_name: z.string(),
    results: z.array(
      z.object({ name: z.string(), status: z.number(), status_name: z.string(), exit_status: z.number().nullable(), stdout: z.string().optional(), stderr: z.string().optional() }).loose(),
    ),
  })
  .loose();

/** The partition number from a MAAS path /dev/disk/by-dname/<disk>-part<N>. */
export function partitionIndex(path: string): number | null {
  const m = /-part(\d+)$/.exec(path);
  return m ? Number(m[1]) : null;
}
