import { chmodSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { buildLvmEmulator, buildState, labelPvs, writeState } from '../../emulators/lvm';
import { bash, shq } from '../../../activities/ssh/command';
import type { ScenarioContext, ScenarioOptions } from '../types';
import { detachNestedLoops, paths, RUN_DIR, SERVER_IN_HOST, SUPERVISOR_IN_HOST, TEMP_FILE, writeBuildRecord, type BuildRecord } from './layout';
import { GENERATE_OBJECTS, objectServer, PYTHON, supervisor } from './scripts';
import { HOST, LV_NAME, MEDIA_DIR, MiB, MOUNT_POINT, OBJECT_SERVICE_PORT, readonlyDataSizes, VG_NAME } from './sizes';

// Builds the broken host of seed 002: disks as loop devices over image files on a small, nearly
// full root-like filesystem at /media; vg0 over three of them with the incident's three faults;
// data0 with a real filesystem mounted read-only at /data holding checksummed objects; the object
// service on port 8000 under its supervisor, holding a deleted temp file that keeps /media too full
// for a fourth disk image.

/** ext4 grows online only with CAP_SYS_RESOURCE (fs/ext4/resize.c); xfs_growfs needs CAP_SYS_ADMIN. */
export function chooseFilesystem(): { fsType: 'ext4' | 'xfs'; reason: string } {
  const forced = process.env.READONLY_DATA_FS;
  if (forced === 'ext4' || forced === 'xfs') return { fsType: forced, reason: `READONLY_DATA_FS=${forced}` };
  const capEff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);
  if ((capEff >> 24n) & 1n) return { fsType: 'ext4', reason: 'ext4 as in the incident (this kernel lets root grow it online)' };
  return {
    fsType: 'xfs',
    reason: "xfs instead of the incident's ext4: this machine's root lacks CAP_SYS_RESOURCE, without which the kernel refuses to grow a mounted ext4, and /data must grow online",
  };
}

async function run(ctx: ScenarioContext, what: string, script: string, timeoutMs = 120_000): Promise<string> {
  const r = await ctx.exec(`set -euo pipefail\n${script}`, { timeoutMs });
  if (r.code !== 0) throw new Error(`readonly-data build: ${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

async function waitForService(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the object service did not answer ${url} within ${timeoutMs} ms (${last})`);
}

export async function buildReadonlyData(ctx: ScenarioContext, opts: ScenarioOptions): Promise<void> {
  const began = Date.now();
  const phases: Record<string, number> = {};
  let t = Date.now();
  const phase = (name: string) => {
    phases[name] = Date.now() - t;
    t = Date.now();
  };
  const sizes = readonlyDataSizes(opts);
  const p = paths(ctx.hostDir);
  const { fsType, reason } = chooseFilesystem();
  if (fsType === 'xfs' && !['/usr/sbin/mkfs.xfs', '/sbin/mkfs.xfs'].some((f) => existsSync(f))) {
    throw new Error(`readonly-data build: /data must be xfs on this machine (${reason}), but mkfs.xfs is missing; install xfsprogs (apt-get install xfsprogs)`);
  }
  ctx.log(`building readonly-data at scale 1/${sizes.scale} (disks of ${sizes.diskBytes / MiB} MiB); /data is ${reason}`);

  // Leftovers of a crashed earlier build (a namespace that died without teardown) first.
  detachNestedLoops(ctx.hostDir, ctx.log);

  // The root-like filesystem. Sized so the three disk images fit and a fourth fits only once the
  // leaked temp file is gone: 4.3 disks of room plus ext4's own overhead.
  mkdirSync(path.dirname(p.leakFlag), { recursive: true });
  rmSync(p.mediaImage, { force: true });
  writeFileSync(p.mediaImage, '');
  truncateSync(p.mediaImage, Math.ceil((sizes.diskBytes * 4.3 + 16 * MiB) / MiB) * MiB);
  ctx.recordLoopBackingFile(p.mediaImage);
  const media = (
    await run(
      ctx,
      'creating the /media filesystem',
      bash`mkfs.ext4 -q -F -m 0 -L rootfs ${p.mediaImage}
dev=$(losetup --find --show ${p.mediaImage})
mkdir -p ${MEDIA_DIR}
mount "$dev" ${MEDIA_DIR}
echo "$dev"`,
    )
  ).trim();
  phase('media filesystem');

  // The three disks, as the operators made them: fallocate -l 1800M /media/diskN.img, losetup.
  const disks: BuildRecord['disks'] = [];
  for (let i = 0; i < 3; i++) {
    const image = `${MEDIA_DIR}/disk${i}.img`;
    const device = (
      await run(
        ctx,
        `creating ${image}`,
        bash`fallocate -l ${sizes.diskBytes} ${image}
losetup --find --show ${image}`,
      )
    ).trim();
    disks.push({ image, device });
  }
  phase('disk images');

  // Paths the host needs outside its folder: mount points for /data and for the LVM device nodes
  // (which live in tmpfs mounts private to the host's namespace). Only what does not exist yet is
  // created, and recorded so lab down removes it.
  const created = (
    await run(
      ctx,
      'creating mount points',
      bash`for d in ${MOUNT_POINT} /dev/mapper /dev/${VG_NAME}; do
  if [ ! -e "$d" ]; then mkdir "$d"; echo "$d"; fi
done
mount -t tmpfs -o mode=755,size=1m lvm-emu-mapper /dev/mapper
mount -t tmpfs -o mode=755,size=1m lvm-emu-${VG_NAME} /dev/${VG_NAME}`,
    )
  )
    .split('\n')
    .filter(Boolean);
  // lab down removes recorded paths only two or more levels deep; /data is removed by teardown.
  for (const c of created) if (c.split('/').filter(Boolean).length >= 2) ctx.recordPath(c);

  // The emulated LVM: the incident's metadata, then activation makes data0 a real block device.
  await buildLvmEmulator(p.bin, { statePath: p.lvmState });
  const state = buildState({
    statePath: p.lvmState,
    devRoot: '/dev',
    hostname: HOST.name,
    vgs: [
      {
        name: VG_NAME,
        pvs: [
          // loop0: full, and made unallocatable (pv_attr u--).
          { device: disks[0].device, allocatable: false, sizeBytes: sizes.diskBytes },
          // loop1: its data area starts ~1 GiB/scale in ("not usable 1.00 GiB").
          { device: disks[1].device, peStartBytes: sizes.offsetPvPeStartBytes, sizeBytes: sizes.diskBytes },
          // loop2: a PV of 1020 MiB/scale on a 1.76 GiB/scale device.
          { device: disks[2].device, sizeBytes: MiB + sizes.shortPvExtents * sizes.extentBytes },
        ],
        lvs: [
          {
            name: LV_NAME,
            backingFile: path.join(p.lvBackingDir, `${VG_NAME}-${LV_NAME}.img`),
            // LE order as in the seed: all of loop0, all of loop2, then loop1's first extents.
            segments: [
              { pv: 0, pe: 0, len: sizes.diskExtents },
              { pv: 2, pe: 0, len: sizes.shortPvExtents },
              { pv: 1, pe: 0, len: sizes.offsetPvUsedExtents },
            ],
          },
        ],
      },
    ],
  });
  writeState(state, p.lvmState);
  ctx.recordLoopBackingFile(path.join(p.lvBackingDir, `${VG_NAME}-${LV_NAME}.img`));
  labelPvs(state);
  await run(ctx, 'activating vg0', bash`vgchange -ay ${VG_NAME} >/dev/null`);
  phase('lvm');

  // The filesystem, the objects and their manifest; then /data goes read-only, as it was found.
  const dev = `/dev/mapper/${VG_NAME}-${LV_NAME}`;
  const mkfs = fsType === 'xfs' ? bash`mkfs.xfs -q -f -L data ${dev}` : bash`mkfs.ext4 -q -F -L data ${dev}`;
  await run(
    ctx,
    'creating /data and its objects',
    `${mkfs}
mount ${shq(dev)} ${MOUNT_POINT}
${bash`${PYTHON} -c ${GENERATE_OBJECTS} ${`${MOUNT_POINT}/objects`} ${p.objectsManifest} ${sizes.objectCount} ${sizes.objectsBytes}`} >/dev/null
umount ${MOUNT_POINT}
mount -o ro ${shq(dev)} ${MOUNT_POINT}`,
    600_000,
  );
  phase('filesystem and objects');

  // The leak: the service's first start holds a deleted temp file that leaves /media with room
  // for a quarter of a disk image only.
  const free = Number((await run(ctx, 'measuring /media', bash`stat -f -c '%a %S' ${MEDIA_DIR} | awk '{print $1 * $2}'`)).trim());
  const tempFileBytes = Math.floor((free - sizes.diskBytes / 4) / 4096) * 4096;
  if (tempFileBytes <= 0) throw new Error(`readonly-data build: /media has only ${free} bytes free after three disks; cannot leave a fourth disk without room`);
  writeFileSync(p.leakFlag, `${tempFileBytes}\n`);

  writeFileSync(
    path.join(p.bin, 'server'),
    objectServer({ address: HOST.address, port: OBJECT_SERVICE_PORT, objectsDir: `${MOUNT_POINT}/objects`, leakFlag: p.leakFlag, tempFile: TEMP_FILE, runDir: RUN_DIR }),
  );
  writeFileSync(path.join(p.bin, 'run.sh'), supervisor(SERVER_IN_HOST, RUN_DIR));
  chmodSync(path.join(p.bin, 'server'), 0o755);
  chmodSync(path.join(p.bin, 'run.sh'), 0o755);
  await ctx.spawn(`exec ${SUPERVISOR_IN_HOST}`, { logFile: p.serviceLog });
  await waitForService(`http://${HOST.address}:${OBJECT_SERVICE_PORT}/`, 15_000);
  if (existsSync(p.leakFlag)) throw new Error('readonly-data build: the object service answers but did not take its temp file (the leak flag is still there)');
  phase('object service');

  writeBuildRecord(ctx.hostDir, {
    fullSize: opts.fullSize,
    scale: sizes.scale,
    fsType,
    fsReason: reason,
    mediaDevice: media,
    disks,
    tempFileBytes,
    createdGlobalPaths: created,
    builtAt: new Date().toISOString(),
    buildMs: Date.now() - began,
    phasesMs: phases,
  });
  ctx.log(
    `readonly-data built in ${Date.now() - began} ms (${Object.entries(phases)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(', ')}); PVs ${disks.map((d) => d.device).join(' ')}`,
  );
}
