import path from 'node:path';
import type { ScenarioContext } from '../scenarios/types';
import { bash } from '../../activities/ssh/command';

// One zfs-fuse daemon per lab host, inside the host's mount namespace. zfs-fuse hard-codes three
// places: /var/run/zfs (its socket, where every `zfs`/`zpool` command connects), /var/lock/zfs (a
// lock file) and /var/lib/zfs (zpool.cache, the pools it imports at start). Private folders from the
// host's state folder are bind-mounted over all three, so each host's `zfs` commands reach only its
// own daemon and its own pools, and the machine's own /var/lib/zfs stays empty. --no-kstat-mount
// keeps it from mounting /zfs-kstat on the machine's root. See lab/zfs/README.md for what was
// verified (lab/zfs/spike.sh) and what zfs-fuse lacks.

export const POOL = 'projects';
/** Where the pool's root filesystem mounts inside each host, as in the seed (`/projects/<uuid>`). */
export const POOL_MOUNTPOINT = '/projects';

export interface ZfsHostPaths {
  /** `<hostDir>/zfs`: everything this module creates for the host. */
  root: string;
  run: string;
  lock: string;
  lib: string;
  /** Only the pool image lives here, so `zpool import -d` scans nothing else. */
  disks: string;
  /** Bind-mounted over /projects in the host, so the pool's mount point is private (see startZfsFuse). */
  mnt: string;
  image: string;
  log: string;
}

export function zfsHostPaths(hostDir: string): ZfsHostPaths {
  const root = path.join(hostDir, 'zfs');
  const disks = path.join(root, 'disks');
  return {
    root,
    run: path.join(root, 'run'),
    lock: path.join(root, 'lock'),
    lib: path.join(root, 'lib'),
    disks,
    mnt: path.join(root, 'mnt'),
    image: path.join(disks, `${POOL}.img`),
    log: path.join(root, 'zfs-fuse.log'),
  };
}

/** Inside the host (/var/run is /run, which is the host's own folder). */
const PID_FILE = '/var/run/zfs/zfs-fuse.pid';
const SOCKET = '/var/run/zfs/zfs_socket';

/**
 * bash functions shared by the scripts below. `daemon_pid` prints the daemon's pid (inside the
 * host's PID namespace) only if that pid still is a live zfs-fuse: the pid file can be stale after a
 * crash, and a zombie (state Z) counts as gone.
 */
const HELPERS = String.raw`
same_file() { [ "$(stat -c %d:%i "$1" 2>/dev/null)" = "$(stat -c %d:%i "$2" 2>/dev/null)" ]; }
bind_once() { same_file "$1" "$2" || mount --bind "$1" "$2"; }
unbind() { if same_file "$1" "$2"; then umount "$2"; fi; }
# After a crash the kernel keeps the dead daemon's FUSE mounts ("Transport endpoint is not
# connected"); a new daemon could not mount over them.
drop_stale_zfs_mounts() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "fuse.zfs") print $5; break } }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" || true; done
}
daemon_pid() {
  local pid state
  pid=$(cat ${PID_FILE} 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  state=$(awk '/^State:/{print $2}' /proc/$pid/status 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] || return 1
  tr '\0' ' ' </proc/$pid/cmdline 2>/dev/null | grep -q '^zfs-fuse ' || return 1
  echo "$pid"
}
`;

/**
 * Which pools a host's daemon serves and where they mount. The default is seed 001's single pool
 * `projects` at /projects; the crucible scenario has one pool per "disk" under /pool (seed 003).
 * `mountRoot` is bind-mounted from the host's own folder (see startZfsFuse); every mountpoint is
 * inside it.
 */
export interface ZfsPoolLayout {
  mountRoot: string;
  pools: Array<{ name: string; mountpoint: string }>;
}

export const DEFAULT_POOL_LAYOUT: ZfsPoolLayout = { mountRoot: POOL_MOUNTPOINT, pools: [{ name: POOL, mountpoint: POOL_MOUNTPOINT }] };

/** The image file backing one pool (zfsHostPaths(..).image for the default pool). */
export function poolImagePath(hostDir: string, pool: string): string {
  return path.join(zfsHostPaths(hostDir).disks, `${pool}.img`);
}

/**
 * zfs-fuse's ARC ceiling (MB). Its default is far below what a host with thousands of datasets
 * needs: `zfs get` over 1,000 datasets and 2,000 snapshots took 2.3-2.6 s with the default and 1.3 s
 * with 1,024 MB, and 2,000 datasets took 8-10 s (the metadata no longer fits, so every read goes to
 * the pool file). A real host's ARC is sized to its RAM; this is only a ceiling, the cache grows as
 * it is used. RUNBOOK_LAB_ZFS_ARC_MB overrides it (16..16384).
 */
export const DEFAULT_ZFS_ARC_MB = 1024;
export function zfsArcMegabytes(): number {
  const n = Number(process.env.RUNBOOK_LAB_ZFS_ARC_MB ?? DEFAULT_ZFS_ARC_MB);
  return Number.isInteger(n) && n >= 16 && n <= 16384 ? n : DEFAULT_ZFS_ARC_MB;
}

export interface StartZfsOptions {
  /** Apparent size of each sparse pool image; only written blocks use disk. */
  poolBytes: number;
  /** The pools (default: `projects` at /projects). */
  layout?: ZfsPoolLayout;
  /** False: only the daemon, no image and no pool `projects` (a host whose pools a runbook makes). */
  pool?: boolean;
}

export interface StartZfsResult {
  /** The daemon's pid as this machine sees it, when this call started it; null when it was running already. */
  startedPid: number | null;
  /** True when this call created the pool (false: it was imported or already there). */
  createdPool: boolean;
  /** Milliseconds: bind mounts and image, daemon start until it answers, pool create/import. */
  timings: { prepareMs: number; daemonMs: number; poolMs: number };
}

async function run(ctx: ScenarioContext, what: string, script: string, timeoutMs = 60_000): Promise<string> {
  const r = await ctx.exec(`set -euo pipefail\n${HELPERS}\n${script}`, { timeoutMs });
  if (r.code !== 0) throw new Error(`${what} on lab host ${ctx.host} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  return r.stdout;
}

/**
 * Make sure the host runs its own zfs-fuse with pool `projects` imported. Idempotent: a running
 * daemon is kept, a pool that exists is kept, an exported pool on the image is imported, and only an
 * empty image gets a new pool. The daemon runs in the foreground (-n) under ctx.spawn, so the pid
 * ctx.spawn returns IS the daemon (lab down stops it by that pid). With -n zfs-fuse ignores -p
 * (verified), so the wrapper writes its own pid before it execs.
 */
export async function startZfsFuse(ctx: ScenarioContext, opts: StartZfsOptions): Promise<StartZfsResult> {
  const p = zfsHostPaths(ctx.hostDir);
  const withPool = opts.pool !== false;
  const layout = opts.layout ?? DEFAULT_POOL_LAYOUT;
  if (withPool && (!Number.isSafeInteger(opts.poolBytes) || opts.poolBytes < 64 * 1024 * 1024)) throw new Error(`startZfsFuse: poolBytes must be at least 64 MiB (zfs minimum), got ${opts.poolBytes}`);
  let t = Date.now();
  // /projects is bind-mounted from the host's own folder too. Without that every host's zfs-fuse
  // creates (and on unmount removes) its mount point directories /projects/<uuid> in the machine's
  // shared root directory whenever the pool's root filesystem is not mounted over it (it was not,
  // observed): one host's unmount could then remove a directory another host mounts on. /projects
  // itself must exist on the machine as the bind target; it stays an empty directory there.
  // A daemon that died leaves dead FUSE mounts on /projects...; they go first, before anything
  // stats /projects (a stat there fails with "Transport endpoint is not connected", and a bind mount
  // would land on top of them).
  const state = await run(
    ctx,
    'preparing zfs-fuse folders',
    bash`if pid=$(daemon_pid) && [ -S ${SOCKET} ]; then state="running $pid"; else rm -f ${PID_FILE}; drop_stale_zfs_mounts; state=stopped; fi
mkdir -p ${p.run} ${p.lock} ${p.lib} ${p.disks} ${p.mnt} /var/run/zfs /var/lock/zfs /var/lib/zfs ${layout.mountRoot}
bind_once ${p.run} /var/run/zfs
bind_once ${p.lock} /var/lock/zfs
bind_once ${p.lib} /var/lib/zfs
` +
      (withPool
        ? bash`bind_once ${p.mnt} ${layout.mountRoot}
for img in ${layout.pools.map((pool) => poolImagePath(ctx.hostDir, pool.name))}; do [ -e "$img" ] || truncate -s ${opts.poolBytes} "$img"; done
`
        : '') +
      'echo "$state"',
  );
  const prepareMs = Date.now() - t;
  t = Date.now();
  let startedPid: number | null = null;
  // A daemon started right after a crashed one sometimes exits at once without a word (it logs to
  // syslog, which lab hosts do not run); a second start succeeds. So: up to 3 starts.
  let needStart = !state.startsWith('running');
  for (let attempt = 1; ; attempt++) {
    if (needStart) {
      startedPid = await ctx.spawn(bash`echo $$ >${PID_FILE}; exec zfs-fuse -n --no-kstat-mount --max-arc-size ${String(zfsArcMegabytes())}`, { logFile: p.log });
      ctx.recordPid(startedPid);
      ctx.log(`zfs-fuse started (pid ${startedPid}${attempt > 1 ? `, attempt ${attempt}` : ''}), state in ${p.root}`);
    }
    const waited = await ctx.exec(
      `set -euo pipefail\n${HELPERS}\n` +
        bash`for i in $(seq 300); do
  if [ -S ${SOCKET} ] && zpool list >/dev/null 2>&1; then exit 0; fi
  daemon_pid >/dev/null || { echo "zfs-fuse exited; its log:" >&2; tail -n 20 ${p.log} >&2; exit 3; }
  sleep 0.05
done
echo "zfs-fuse did not answer on ${SOCKET} within 15 s" >&2; exit 1`,
      { timeoutMs: 60_000 },
    );
    if (waited.code === 0) break;
    needStart = true;
    if (waited.code !== 3 || attempt >= 3) throw new Error(`waiting for zfs-fuse on lab host ${ctx.host} failed (exit ${waited.code}, attempt ${attempt}): ${waited.stderr.trim().slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const daemonMs = Date.now() - t;
  if (!withPool) return { startedPid, createdPool: false, timings: { prepareMs, daemonMs, poolMs: 0 } };
  t = Date.now();
  let createdPool = false;
  for (const { name, mountpoint } of layout.pools) {
    const image = poolImagePath(ctx.hostDir, name);
    const pool = await run(
      ctx,
      `creating or importing pool ${name}`,
      bash`if zpool list -H -o name ${name} >/dev/null 2>&1; then echo present
elif zpool import -d ${p.disks} 2>/dev/null | grep -q ${`pool: ${name}$`}; then zpool import -d ${p.disks} ${name} && echo imported
else
  # zpool create prints "Defaulting to 4K blocksize (ashift=12)" for files; show output only on failure.
  out=$(zpool create -m ${mountpoint} ${name} ${image} 2>&1) || { echo "$out" >&2; exit 1; }
  echo created
fi
# The pool's root must be mounted before any project is, so mount points are made inside it. A
# daemon that imports the pool from its zpool.cache at start does not mount anything (Debian's
# init script runs zfs mount -a after starting it); replicas are canmount=noauto and stay unmounted.
[ "$(zfs get -H -o value mounted ${name})" = yes ] || zfs mount ${name}
zfs mount -a`,
    );
    if (pool.trim() === 'created') createdPool = true;
    ctx.log(`pool ${name}: ${pool.trim()} (${image}, ${Math.round(opts.poolBytes / 2 ** 30)} GiB sparse)`);
  }
  const poolMs = Date.now() - t;
  return { startedPid, createdPool, timings: { prepareMs, daemonMs, poolMs } };
}

/**
 * Export the pool, stop the daemon by its pid (SIGTERM; it takes about 2-3 s to exit; SIGKILL after
 * 20 s), lazily unmount any zfs mount a crashed daemon left behind, and remove the bind mounts.
 * Leaves the image and folders for lab down, which removes the host folder. Safe to call twice.
 */
export async function stopZfsFuse(ctx: ScenarioContext, layout: ZfsPoolLayout = DEFAULT_POOL_LAYOUT): Promise<{ exported: boolean; stoppedPid: number | null }> {
  const p = zfsHostPaths(ctx.hostDir);
  const out = await run(
    ctx,
    'stopping zfs-fuse',
    bash`any=no forced=no failed=no
for pool in ${layout.pools.map((x) => x.name)}; do
  if pid=$(daemon_pid) && zpool list -H -o name "$pool" >/dev/null 2>&1; then
    any=yes one=no
    for i in 1 2 3 4 5; do
      if zpool export "$pool" 2>/dev/null; then one=yes; break; fi
      sleep 0.5
    done
    [ $one = yes ] || { zpool export -f "$pool" && forced=yes; } || failed=yes
  fi
done
# none: no pool was imported (e.g. the maas scenario exported its own first); no: one refused even -f.
if [ $any = no ]; then exported=none; elif [ $failed = yes ]; then exported=no; elif [ $forced = yes ]; then exported=forced; else exported=yes; fi
stopped=none
if pid=$(daemon_pid); then
  kill -TERM "$pid"
  for i in $(seq 400); do daemon_pid >/dev/null || break; sleep 0.05; done
  if daemon_pid >/dev/null; then kill -KILL "$pid"; sleep 0.2; fi
  stopped=$pid
fi
drop_stale_zfs_mounts
unbind ${p.mnt} ${layout.mountRoot}
unbind ${p.lib} /var/lib/zfs
unbind ${p.lock} /var/lock/zfs
unbind ${p.run} /var/run/zfs
echo "$exported $stopped"`,
    90_000,
  );
  const [exported, stopped] = out.trim().split(/\s+/);
  ctx.log(`zfs-fuse stopped (pool export: ${exported}, daemon pid in host: ${stopped})`);
  return { exported: exported !== 'no', stoppedPid: stopped === 'none' || stopped === undefined ? null : Number(stopped) };
}

/** Facts the scenario check reports: daemon, socket, pool health, and that the pool is this host's own. */
export async function zfsHostStatus(ctx: ScenarioContext): Promise<{ daemonPid: number | null; poolHealth: string | null; poolGuid: string | null; imagePath: string | null }> {
  const r = await ctx.exec(
    `${HELPERS}\n` +
      bash`pid=$(daemon_pid) || pid=-
health=$(zpool list -H -o health ${POOL} 2>/dev/null) || health=-
guid=$(zfs get -H -o value guid ${POOL} 2>/dev/null) || guid=-
dev=$(zpool status ${POOL} 2>/dev/null | awk 'index($1, "/") == 1 {print $1; exit}') || true
echo "$pid|$health|$guid|\${dev:--}"`,
  );
  const [pid, health, guid, dev] = r.stdout.trim().split('|');
  return {
    daemonPid: pid && pid !== '-' ? Number(pid) : null,
    poolHealth: health && health !== '-' ? health : null,
    poolGuid: guid && guid !== '-' ? guid : null,
    imagePath: dev && dev !== '-' ? dev : null,
  };
}
