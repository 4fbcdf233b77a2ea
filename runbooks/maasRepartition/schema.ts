import { z } from 'zod';
import { absolutePathSchema, hostNameSchema } from '../../common/identifiers';
import { commonInputFields, durationSchema } from '../../common/input';

// Input of maasRepartition. Every identifier is narrow (it ends up in a MAAS form field, a script or
// a shell word); sizes are MAAS's decimal M/G/T, as the custom storage layout takes them.

export const maasSizeSchema = z.string().regex(/^[1-9]\d{0,6}[MGT]$/, 'a size in MAAS decimal units: a whole number and M, G or T (e.g. 512M, 40G)');
/** ZFS pool names: a letter first; not a reserved word or a vdev type prefix (zpool create refuses them). */
export const zpoolNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,62}$/, 'a ZFS pool name (a letter, then letters, digits, _ . : -)')
  .refine(
    (n) => !/^(mirror|raidz|draid|spare|log|cache|special|dedup)/.test(n) && !['log', 'cache', 'spare'].includes(n) && !/^c[0-9]/.test(n),
    'a pool name that is not reserved (mirror, raidz, spare, log, cache, ... and c<digit>)',
  );

export const maasRepartitionInputSchema = z
  .object({
    /** The MAAS endpoint, by its name in the inventory (its URL and API key file stay there). */
    maas: hostNameSchema.describe('the MAAS endpoint by its name in the inventory (URL and API key file stay there)'),
    /** The machine: MAAS hostname or system_id. */
    machine: hostNameSchema.describe('the machine: MAAS hostname or system_id'),
    /** The machine as an inventory host (SSH after deploy). */
    host: hostNameSchema.describe('the machine as an inventory host, for SSH after deploy'),
    /** The disk's kernel name in MAAS (sda, nvme0n1). */
    disk: z
      .string()
      .regex(/^[a-z][a-z0-9]{1,15}$/, 'a kernel disk name such as sda or nvme0n1')
      .describe('the disk to repartition, by its kernel name in MAAS'),
    partitions: z
      .object({
        boot: maasSizeSchema.default('512M'),
        root: maasSizeSchema,
        rootFs: z.enum(['ext4', 'xfs']).default('ext4'),
        /** One size for every spare partition, or split what is left evenly. */
        spare: z.union([maasSizeSchema, z.literal('rest-evenly')]).default('rest-evenly'),
      })
      .strict()
      .describe('EFI size, root size and filesystem, and one size for every spare partition (or rest-evenly)'),
    pools: z
      .array(z.object({ name: zpoolNameSchema, mountpoint: absolutePathSchema }).strict())
      .min(1)
      .max(8)
      .describe('one pool per spare partition (or per file): name and mountpoint'),
    poolOptions: z
      .object({ ashift: z.number().int().min(9).max(16).default(12), atime: z.enum(['on', 'off']).default('off') })
      .strict()
      .default({ ashift: 12, atime: 'off' })
      .describe('zpool create -o ashift and -O atime'),
    distroSeries: z
      .string()
      .regex(/^[a-z]{3,16}$/, 'an Ubuntu series name such as jammy')
      .default('jammy')
      .describe('the Ubuntu series to deploy'),
    strategy: z.enum(['maas', 'loop-files']).default('maas').describe('maas: re-commission with a custom layout and redeploy; loop-files: pools on sparse files of the deployed host'),
    /** strategy loop-files: sparse files given to zpool create as file vdevs. */
    loopFiles: z
      .object({ dir: absolutePathSchema.default('/var/lib/crucible-pools'), size: maasSizeSchema.default('15G') })
      .strict()
      .default({ dir: '/var/lib/crucible-pools', size: '15G' })
      .describe('strategy loop-files: where the sparse files go and how big each is'),
    /** The commissioning script's name: 41- to 49- so it runs before 50-maas-01-commissioning. */
    scriptName: z
      .string()
      .regex(/^4[1-9]-[a-z0-9][a-z0-9-]{0,60}$/, 'a script name from 41- to 49- (it must run before 50-maas-01-commissioning)')
      .default('45-crucible-layout')
      .describe('the commissioning script (41- to 49-, so it runs before 50-maas-01-commissioning)'),
    /** How long commissioning or deploying may take (MAAS's own node_timeout is 30 min). */
    waitTimeout: durationSchema.default('40m').describe('how long commissioning or deploying may take'),
    pollInterval: durationSchema.default('5s').describe('how often MAAS is polled while waiting'),
    ...commonInputFields,
  })
  .strict()
  .superRefine((i, ctx) => {
    const names = i.pools.map((p) => p.name);
    names.forEach((n, k) => {
      if (names.indexOf(n) !== k) ctx.addIssue({ code: 'custom', path: ['pools', k, 'name'], message: `pool ${n} appears twice` });
    });
    const mps = i.pools.map((p) => p.mountpoint);
    mps.forEach((m, k) => {
      if (mps.indexOf(m) !== k) ctx.addIssue({ code: 'custom', path: ['pools', k, 'mountpoint'], message: `mountpoint ${m} appears twice` });
      if (m === '/' || m === '/boot' || m.startsWith('/boot/')) ctx.addIssue({ code: 'custom', path: ['pools', k, 'mountpoint'], message: `${m} belongs to the operating system` });
    });
    const MiB64 = 64 * 1024 * 1024;
    const bytes = (v: string) => Number(v.slice(0, -1)) * { M: 1e6, G: 1e9, T: 1e12 }[v.slice(-1) as 'M'];
    if (i.partitions.spare !== 'rest-evenly' && Math.floor(bytes(i.partitions.spare) / (4 * 1024 * 1024)) * 4 * 1024 * 1024 < MiB64)
      ctx.addIssue({ code: 'custom', path: ['partitions', 'spare'], message: `${i.partitions.spare} is under ZFS's 64 MiB minimum for a vdev (after MAAS rounds it down to 4 MiB)` });
    if (Math.floor(bytes(i.partitions.boot) / (4 * 1024 * 1024)) * 4 * 1024 * 1024 < 100 * 1024 * 1024)
      ctx.addIssue({ code: 'custom', path: ['partitions', 'boot'], message: `${i.partitions.boot} is too small for an EFI system partition (at least 105M)` });
    if (i.strategy === 'loop-files' && Math.floor(bytes(i.loopFiles.size) / (4 * 1024 * 1024)) * 4 * 1024 * 1024 < MiB64)
      ctx.addIssue({ code: 'custom', path: ['loopFiles', 'size'], message: `${i.loopFiles.size} is under ZFS's 64 MiB minimum for a file vdev` });
    if (!i.loopFiles.dir.startsWith('/var/lib/') && i.strategy === 'loop-files')
      ctx.addIssue({ code: 'custom', path: ['loopFiles', 'dir'], message: 'loop files live under /var/lib/ (they must survive a reboot; /tmp may not)' });
  });
export type MaasRepartitionInput = z.infer<typeof maasRepartitionInputSchema>;
