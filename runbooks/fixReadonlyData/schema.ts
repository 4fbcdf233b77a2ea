import { z } from 'zod';
import { absolutePathSchema, hostNameSchema, lvmNameSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';
import { guardSettingsFields } from '../autoGrowGuard/schema';

export const fixReadonlyDataInputSchema = z
  .object({
    host: hostNameSchema,
    vg: lvmNameSchema.default('vg0'),
    lv: lvmNameSchema.default('data0'),
    /** Where the LV's filesystem is mounted. */
    mountPoint: absolutePathSchema.default('/data'),
    /** The folder of the disk images that back the PVs (the incident's /media). */
    diskDir: absolutePathSchema.default('/media'),
    /** Size of each disk image (the incident's `fallocate -l 1800M`). */
    diskSizeMiB: z.number().int().min(8).max(16 * 1024 * 1024).default(1800),
    /** How many PVs the VG should have ("four 1800MB disks"). */
    pvCount: z.number().int().min(1).max(64).default(4),
    /** The size the LV must reach ("Expand the data0 LV to 4GB"). */
    targetSizeMiB: z.number().int().min(1).default(4096),
    /** A PV whose data area starts further in than this is rebuilt (normal is 1 MiB; the broken one was ~1 GiB). */
    maxDataOffsetMiB: z.number().int().min(1).max(1024 * 1024).default(16),
    /** The service whose process may hold deleted files: its supervisor and how to tell that it answers. */
    service: z
      .object({
        supervisorPidFile: absolutePathSchema.default('/run/object-service/supervisor.pid'),
        port: z.number().int().min(1).max(65535).default(8000),
        healthPath: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, 'an URL path such as /').default('/'),
        timeoutSeconds: z.number().int().min(1).max(600).default(30),
      })
      .strict()
      .default({ supervisorPidFile: '/run/object-service/supervisor.pid', port: 8000, healthPath: '/', timeoutSeconds: 30 }),
    /** The downtime probe: a client asking the service every intervalMs during the run (apply mode only). */
    probe: z
      .object({ enabled: z.boolean().default(true), intervalMs: z.number().int().min(10).max(10_000).default(50) })
      .strict()
      .default({ enabled: true, intervalMs: 50 }),
    /** The auto-grow guard step 9 starts (workflow id autogrow/<host>/<vg>/<lv>). */
    guard: z
      .object({ enabled: z.boolean().default(true), ...guardSettingsFields })
      .strict()
      .default({ enabled: true, thresholdPercent: 80, stepMiB: 500, intervalSeconds: 10 }),
    ...commonInputFields,
  })
  .strict();
export type FixReadonlyDataInput = z.infer<typeof fixReadonlyDataInputSchema>;
