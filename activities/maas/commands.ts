import { sh, type ShellCommand } from '../ssh/command';

// Commands maasRepartition runs on the machine after deploy. Pure builders shared by plan and act.
// Pools this run creates carry a user property naming the run, so an undo destroys only those.

export const RUN_PROPERTY = 'org.durable-runbooks:run';

export function listPoolsCommand(): ShellCommand {
  return sh`zpool list -H -o name,health 2>/dev/null || true`;
}

export function cloudInitWaitCommand(): ShellCommand {
  return sh`cloud-init status --wait`;
}

/** For each MAAS partition path: the device it names, its size, and the by-partuuid link to it. */
export function resolvePartitionCommand(dnamePath: string): ShellCommand {
  return sh`dev=$(readlink -f ${dnamePath}) && [ -b "$dev" ] && size=$(blockdev --getsize64 "$dev") && for l in /dev/disk/by-partuuid/*; do if [ "$(readlink -f "$l")" = "$dev" ]; then echo "$dev $size $l"; exit 0; fi; done; echo "no by-partuuid link for $dev" >&2; exit 4`;
}

export interface PoolSpec {
  pool: string;
  mountpoint: string;
  vdev: string;
  ashift: number;
  atime: 'on' | 'off';
}

/** Idempotent: a pool that exists is reported with its owner run (and its vdev), never created twice. */
export function createPoolCommand(p: PoolSpec, runId: string): ShellCommand {
  return sh`if zpool list -H -o name ${p.pool} >/dev/null 2>&1; then echo "exists $(zfs get -H -o value ${RUN_PROPERTY} ${p.pool})"; else zpool create -o ${`ashift=${p.ashift}`} -O ${`atime=${p.atime}`} -O ${`${RUN_PROPERTY}=${runId}`} -m ${p.mountpoint} ${p.pool} ${p.vdev} && echo created; fi`;
}

export function poolVdevCommand(pool: string): ShellCommand {
  return sh`zpool status ${pool} | awk -v p=${pool} 'f && NF >= 2 && $1 != p {print $1; exit} $1 == "NAME" {f=1}'`;
}

/**
 * Destroys the pool only when this run created it (its run property says so). A destroy that fails
 * fails the command (the undo is retried and reported), never "succeeds" with the pool still there;
 * zfs-fuse can call a just-made pool's mount busy, so a second try forces the unmount (ours only).
 */
export function destroyOwnedPoolCommand(pool: string, runId: string): ShellCommand {
  return sh`if ! zpool list -H -o name ${pool} >/dev/null 2>&1; then echo absent; elif [ "$(zfs get -H -o value ${RUN_PROPERTY} ${pool})" = ${runId} ]; then { zpool destroy ${pool} || { sleep 1; zpool destroy -f ${pool}; }; } && echo destroyed; else echo not-ours; fi`;
}

export function verifyPoolCommand(pool: string): ShellCommand {
  return sh`echo "$(zpool list -H -o health ${pool})|$(zfs get -Hp -o value available ${pool})|$(zfs get -Hp -o value used ${pool})|$(zfs get -H -o value mountpoint ${pool})|$(zfs get -H -o value mounted ${pool})|$(zfs get -H -o value atime ${pool})"`;
}

/** A sparse file vdev (full path, at least 64 MiB); the .owner file says which run made it. */
export function createFilePoolCommand(p: PoolSpec, sizeBytes: number, runId: string): ShellCommand {
  const owner = `${p.vdev}.owner`;
  return sh`if zpool list -H -o name ${p.pool} >/dev/null 2>&1; then echo "exists $(zfs get -H -o value ${RUN_PROPERTY} ${p.pool})"; exit 0; fi
mkdir -p $(dirname ${p.vdev})
if [ -e ${p.vdev} ] && [ "$(cat ${owner} 2>/dev/null)" != ${runId} ]; then echo "${p.vdev} exists and this run did not make it" >&2; exit 5; fi
echo ${runId} > ${owner}
[ -e ${p.vdev} ] || truncate -s ${sizeBytes} ${p.vdev}
zpool create -o ${`ashift=${p.ashift}`} -O ${`atime=${p.atime}`} -O ${`${RUN_PROPERTY}=${runId}`} -m ${p.mountpoint} ${p.pool} ${p.vdev} && echo created`;
}

export function destroyFilePoolCommand(pool: string, file: string, runId: string): ShellCommand {
  const owner = `${file}.owner`;
  // The file goes only once its pool is gone (removing an imported pool's vdev would fault it).
  return sh`${destroyOwnedPoolCommand(pool, runId)} || exit 1; if ! zpool list -H -o name ${pool} >/dev/null 2>&1 && [ "$(cat ${owner} 2>/dev/null)" = ${runId} ]; then rm -f ${file} ${owner}; echo removed-file; fi`;
}
