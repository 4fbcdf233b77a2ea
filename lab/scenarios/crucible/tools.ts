import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildCrucibleEmulator } from '../../emulators/crucible';
import { bash } from '../../../activities/ssh/command';
import type { ScenarioContext } from '../types';
import { IMAGE_BYTES, IMAGE_PATH, commandLogPath, faultsPath, imageRecordPath } from './layout';

// What a Crucible storage sled carries besides its pools: crucible-downstairs and dsc (the emulator)
// on the PATH and an OS image to seed regions from. A raw disk image holding a real ext4 filesystem
// with files (mkfs.ext4 -d), so a VM booted from the regions reads a filesystem, not noise. The
// crucible scenario's cru-sled gets them, and so does the maas scenario's proper-raptor (the sled of
// seed 000 whose pools are for Crucible), so the chain maasRepartition → seedRegions → liveMigrate
// runs on one machine.

export interface ImageRecord {
  path: string;
  bytes: number;
  sha256: string;
  /** Files inside the image's filesystem and their sha256, for whoever boots it. */
  files: Record<string, string>;
}

async function run(ctx: ScenarioContext, what: string, script: string, timeoutMs = 300_000): Promise<string> {
  const r = await ctx.exec(`set -euo pipefail\n${script}`, { timeoutMs });
  if (r.code !== 0) throw new Error(`${ctx.host}: ${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

/** The emulator on the host's PATH and the OS image at IMAGE_PATH (its record beside, for checks and tests). */
export async function installCrucibleTools(ctx: ScenarioContext, opts: { fullSize: boolean }): Promise<ImageRecord> {
  mkdirSync(path.dirname(faultsPath(ctx.hostDir)), { recursive: true });
  await buildCrucibleEmulator(path.join(ctx.hostDir, 'bin'), { faultsPath: faultsPath(ctx.hostDir), logPath: commandLogPath(ctx.hostDir) });

  const t1 = Date.now();
  const bytes = opts.fullSize ? IMAGE_BYTES.full : IMAGE_BYTES.fast;
  const tree = path.join(ctx.hostDir, 'crucible', 'image-tree');
  // The image's files: an OS-like tree, a few binary files of pseudo-random content (incompressible,
  // so a region that lost blocks shows it) and a manifest of their sha256.
  const out = await run(
    ctx,
    'making the OS image',
    bash`rm -rf ${tree} && mkdir -p ${tree}/etc ${tree}/boot ${tree}/usr/lib/os-data ${path.dirname(IMAGE_PATH)}
printf 'NAME="lab-os"\nID=lab\nVERSION_ID="1"\n' >${tree}/etc/os-release
echo lab-vm >${tree}/etc/hostname
printf 'lab kernel image placeholder\n' >${tree}/boot/vmlinuz
for i in 1 2 3 4; do head -c $(( ${Math.floor(bytes / 8)} / 4 )) /dev/urandom >${tree}/usr/lib/os-data/blob$i; done
(cd ${tree} && find . -type f ! -name MANIFEST.sha256 | sort | xargs sha256sum >MANIFEST.sha256)
rm -f ${IMAGE_PATH}
mkfs.ext4 -q -F -L lab-os -d ${tree} ${IMAGE_PATH} ${`${Math.floor(bytes / 1024)}k`} >/dev/null
sha256sum ${IMAGE_PATH} | cut -d' ' -f1
cat ${tree}/MANIFEST.sha256`,
  );
  const [sha256, ...manifest] = out.trim().split('\n');
  const files = Object.fromEntries(manifest.map((l) => l.split(/\s+/)).map(([h, f]) => [f.replace(/^\.\//, '/'), h]));
  const record: ImageRecord = { path: IMAGE_PATH, bytes, sha256, files };
  const file = imageRecordPath(ctx.hostDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  ctx.log(`crucible-downstairs/dsc emulator on the PATH; OS image ${IMAGE_PATH} (${bytes / 2 ** 20} MiB ext4, sha256 ${sha256.slice(0, 12)}…) in ${Date.now() - t1} ms`);
  return record;
}
