import { bash } from '../../../activities/ssh/command';
import type { ScenarioContext } from '../types';
import { detachNestedLoops, paths, readBuildRecord, RUN_DIR } from './layout';
import { MEDIA_DIR, MOUNT_POINT, VG_NAME } from './sizes';

// What lab down cannot undo by killing the namespace: loop devices over files on /media (the disk
// images, including any the runbook added) would outlive it under unfindable names, keeping the
// /media filesystem and its loop device alive. So, while the namespace still runs: stop the
// service, unmount /data, detach every loop device whose file lives on /media (found by the device
// number of its backing file, not by name), unmount /media. Lab down then kills the namespace,
// detaches the loops backed by files in the host folder and removes the recorded mount points.

export async function teardownReadonlyData(ctx: ScenarioContext): Promise<void> {
  const p = paths(ctx.hostDir);
  // Top-level folders the build created (/data): lab down refuses to remove paths that shallow.
  const topLevel = (readBuildRecord(ctx.hostDir)?.createdGlobalPaths ?? []).filter((c) => c.split('/').filter(Boolean).length === 1);
  const r = await ctx.exec(
    bash`set +e
stop() { # pid file: TERM the process it names (if it is still that program), wait up to 3 s, then KILL
  local pid; pid=$(cat "$1" 2>/dev/null) || return 0
  grep -qa "$2" /proc/"$pid"/cmdline 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
}
stop ${`${RUN_DIR}/supervisor.pid`} run.sh
stop ${`${RUN_DIR}/server.pid`} server
umount ${MOUNT_POINT} 2>/dev/null || umount -l ${MOUNT_POINT} 2>/dev/null
for d in ${topLevel}; do rmdir "$d" 2>/dev/null; done
for f in ${p.lvBackingDir}/*.img; do
  [ -e "$f" ] && losetup -j "$f" | cut -d: -f1 | xargs -r -n1 losetup -d
done
umount /dev/mapper /dev/${VG_NAME} 2>/dev/null
media=$(findmnt -n -o SOURCE ${MEDIA_DIR} 2>/dev/null)
if [ -n "$media" ]; then
  majmin=$(lsblk -dno MAJ:MIN "$media" | tr -d ' ')
  losetup --list --noheadings -O NAME,BACK-MAJ:MIN | awk -v m="$majmin" '$2 == m {print $1}' | xargs -r -n1 losetup -d
  umount ${MEDIA_DIR} 2>/dev/null || umount -l ${MEDIA_DIR}
  losetup -d "$media" 2>/dev/null
fi
exit 0`,
    { timeoutMs: 60_000 },
  );
  if (r.code !== 0) ctx.log(`teardown inside the host reported: ${r.stderr.trim()}`);
  // Anything the steps above missed (or a namespace that already died) is found from outside.
  detachNestedLoops(ctx.hostDir, ctx.log);
}
