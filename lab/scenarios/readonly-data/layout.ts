import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../../emulators/lvm/state';

// Where the scenario keeps things on a lab host, and the record of what one build made (read back
// by check and teardown, and by tests that need the actual device names).

export function paths(hostDir: string) {
  return {
    /** The root-like filesystem mounted at /media inside the host. */
    mediaImage: path.join(hostDir, 'media.img'),
    lvmState: path.join(hostDir, 'lvm', 'state.json'),
    lvBackingDir: path.join(hostDir, 'lvm', 'lv'),
    /** sha256sum manifest of /data/objects, kept outside /data so a broken /data cannot rewrite it. */
    objectsManifest: path.join(hostDir, 'objects.sha256'),
    leakFlag: path.join(hostDir, 'state', 'leak-tempfile'),
    record: path.join(hostDir, 'readonly-data.json'),
    bin: path.join(hostDir, 'bin'),
    serviceLog: path.join(hostDir, 'log', 'object-service.log'),
  };
}

/** Inside the host: the service's pid files (host-private /run). */
export const RUN_DIR = '/run/object-service';
export const SERVER_IN_HOST = '/usr/local/sbin/server';
export const SUPERVISOR_IN_HOST = '/usr/local/sbin/run.sh';
export const TEMP_FILE = '/media/.tempfile';

export const buildRecordSchema = z
  .object({
    fullSize: z.boolean(),
    scale: z.number().positive(),
    /** xfs where this kernel refuses to grow ext4 online (no CAP_SYS_RESOURCE), else ext4 as in the incident. */
    fsType: z.enum(['ext4', 'xfs']),
    fsReason: z.string(),
    mediaDevice: z.string(),
    /** disk0..2 in the incident's roles: [0] full and not allocatable, [1] ~1 GiB data offset, [2] PV smaller than its device. */
    disks: z.array(z.object({ image: z.string(), device: z.string() }).strict()),
    tempFileBytes: z.number().int().positive(),
    /** Paths outside the host folder the build created (recorded for lab down too). */
    createdGlobalPaths: z.array(z.string()),
    builtAt: z.string(),
    buildMs: z.number(),
    phasesMs: z.record(z.string(), z.number()),
  })
  .strict();
export type BuildRecord = z.infer<typeof buildRecordSchema>;

export function readBuildRecord(hostDir: string): BuildRecord | null {
  const file = paths(hostDir).record;
  if (!existsSync(file)) return null;
  return buildRecordSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

export function writeBuildRecord(hostDir: string, record: BuildRecord): void {
  writeJsonAtomic(paths(hostDir).record, buildRecordSchema.parse(record));
}

const losetupListSchema = z.object({
  loopdevices: z.array(
    z.object({
      name: z.string(),
      'back-file': z.string().nullable(),
      'back-maj:min': z.string().nullable(),
      'maj:min': z.string(),
    }),
  ),
});

/**
 * Loop devices whose backing file lives on a loop device backed by a file under hostDir (the disk
 * images in /media). Once the host's namespace is gone their backing path reads "/disk0.img", so
 * lab down cannot find them by file; they are found by device number instead, and detached before
 * the /media loop itself so nothing is left holding it.
 */
export function detachNestedLoops(hostDir: string, log: (msg: string) => void = () => undefined): string[] {
  const out = execFileSync('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE,BACK-MAJ:MIN,MAJ:MIN'], { encoding: 'utf8' }).trim();
  if (!out) return [];
  const list = losetupListSchema.parse(JSON.parse(out)).loopdevices;
  const prefix = `${hostDir}/`;
  const parents = list.filter((l) => (l['back-file'] ?? '').replace(/ \(deleted\)$/, '').startsWith(prefix));
  const detached: string[] = [];
  for (const parent of parents) {
    for (const child of list.filter((l) => l['back-maj:min'] === parent['maj:min'])) {
      try {
        execFileSync('losetup', ['-d', child.name], { stdio: 'ignore' });
        detached.push(child.name);
        log(`detached ${child.name} (${child['back-file'] ?? '?'} on ${parent.name})`);
      } catch {
        // already gone
      }
    }
  }
  return detached;
}
