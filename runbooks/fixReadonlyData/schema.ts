import { z } from 'zod';
import { absolutePathSchema, hostNameSchema, lvmNameSchema } from '../../common/identifiers';
import { commonInputFields } from '../../common/input';
import { guardSettingsFields } from '../autoGrowGuard/schema';

export const fixReadonlyDataInputSchema = z
  .object({
    host: hostNameSchema.describe('the host whose /data went read-only'),
    vg: lvmNameSchema.default('vg0').describe('the volume group'),
    lv: lvmNameSchema.default('data0').describe('the logical volume behind /data'),
    mountPoint: absolutePathSchema.default('/data').describe("where the LV's filesystem is mounted"),
    diskDir: absolutePathSchema.default('/media').describe("the folder of the disk images that back the PVs (the incident's /media)"),
    diskSizeMiB: z
      .number()
      .int()
      .min(8)
      .max(16 * 1024 * 1024)
      .default(1800)
      .describe("size of each disk image added (the incident's `fallocate -l 1800M`)"),
    pvCount: z.number().int().min(1).max(64).default(4).describe('how many PVs the VG should have ("four 1800MB disks")'),
    targetSizeMiB: z.number().int().min(1).default(4096).describe('the size the LV must reach ("Expand the data0 LV to 4GB")'),
    maxDataOffsetMiB: z
      .number()
      .int()
      .min(1)
      .max(1024 * 1024)
      .default(16)
      .describe('a PV whose data area starts further in than this is rebuilt (normal is 1 MiB; the broken one was ~1 GiB)'),
    service: z
      .object({
        supervisorPidFile: absolutePathSchema.default('/run/object-service/supervisor.pid').describe("the pid file of the service's supervisor (a graceful restart goes through it)"),
        port: z.number().int().min(1).max(65535).default(8000).describe('the port the service answers HTTP on'),
        healthPath: z
          .string()
          .regex(/^\/[A-Za-z0-9._~/-]*$/, 'an URL path such as /')
          .default('/')
          .describe('the URL path that tells it answers'),
        timeoutSeconds: z.number().int().min(1).max(600).default(30).describe('how long a restart may take to answer again'),
      })
      .strict()
      .default({ supervisorPidFile: '/run/object-service/supervisor.pid', port: 8000, healthPath: '/', timeoutSeconds: 30 })
      .describe('the service whose process may hold deleted files: its supervisor and how to tell that it answers'),
    probe: z
      .object({
        enabled: z.boolean().default(true).describe('measure the downtime'),
        intervalMs: z.number().int().min(10).max(10_000).default(50).describe('how often the probe asks'),
      })
      .strict()
      .default({ enabled: true, intervalMs: 50 })
      .describe('the downtime probe: a client asking the service every intervalMs during the run (apply mode only)'),
    guard: z
      .object({
        enabled: z.boolean().default(true).describe('start the guard'),
        ...guardSettingsFields,
        // Runs started before the host-side watcher (and their recorded histories) carry it.
        intervalSeconds: z.number().min(0.2).max(3600).optional().describe("accepted and ignored (the old timer-loop guard's interval); the watcher polls every pollMs"),
      })
      .strict()
      .default({ enabled: true, thresholdPercent: 80, stepMiB: 500, pollMs: 50 })
      .describe("the auto-grow guard step 9 starts (workflow id autogrow/<host>/<vg>/<lv>); its settings are the guard's own"),
    ...commonInputFields,
  })
  .strict();
export type FixReadonlyDataInput = z.infer<typeof fixReadonlyDataInputSchema>;
