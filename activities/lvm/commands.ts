import { sh, type ShellCommand } from '../ssh/command';

// Every command the storage runbooks run on a host, built with the quoting template. Pure: the
// workflows import these to show a plan's exact commands, and the activities run the same ones.
// Sizes given to LVM are absolute MiB (`-L 4096m`), never relative (`+500M`): a retry of an
// absolute change is harmless, a retry of a relative one applies it twice.

const REPORT = ['--reportformat', 'json', '--units', 'b', '--nosuffix'];
const PV_FIELDS = 'pv_name,vg_name,pv_attr,pe_start,pv_size,dev_size,pv_pe_count,pv_pe_alloc_count';
const VG_FIELDS = 'vg_name,vg_extent_size,vg_extent_count,vg_free_count,pv_count,vg_seqno';
const LV_FIELDS = 'lv_name,vg_name,lv_size,lv_attr,lv_dm_path,move_pv';
export const DF_FIELDS = 'source,fstype,itotal,iused,size,used,avail,target';

export const MiB = 1024 * 1024;

/** `lvm/lv` as LVM's commands take it. */
export function lvName(vg: string, lv: string): string {
  return `${vg}/${lv}`;
}

export const storageCommands = {
  /** All PVs (orphans too: a PV taken out of the VG by an interrupted rebuild must still be seen). */
  pvs: () => sh`pvs ${REPORT} -o ${PV_FIELDS}`,
  vgs: (vg: string) => sh`vgs ${REPORT} -o ${VG_FIELDS} ${vg}`,
  /** -a shows hidden LVs: on a real host a move in progress appears as [pvmove0] with move_pv set. */
  lvs: (vg: string) => sh`lvs -a ${REPORT} -o ${LV_FIELDS} ${vg}`,
  /** The filesystem mounted exactly there (exit 1 when none is). */
  findmntMountpoint: (path: string) => sh`findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS --mountpoint ${path}`,
  /** The filesystem a path lives on, wherever it is mounted. */
  findmntContaining: (path: string) => sh`findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS --target ${path}`,
  df: (paths: string[]) => sh`df -B1 --output=${DF_FIELDS} ${paths}`,
  xfsInfo: (mount: string) => sh`xfs_info ${mount}`,
  dumpe2fs: (device: string) => sh`dumpe2fs -h ${device}`,
  /** Each image with its size and identity (filesystem device and inode, to match its loop device). */
  diskImages: (dir: string) => sh`find ${dir} -maxdepth 1 -type f -name '*.img' -printf '%p\\t%s\\t%D\\t%i\\n'`,
  losetupList: () => sh`losetup -J -l -O NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN`,
  nextLoopDevice: () => sh`losetup -f`,

  // ---- step 2: the read-only mount
  remountReadWrite: (mount: string) => sh`mount -o remount,rw ${mount}`,
  /** A real write, synced, then removed: a mount option alone does not prove the filesystem takes writes. */
  writeProbe: (mount: string) => sh`probe=${mount}/.fixReadonlyData-probe.$$ && echo probe > "$probe" && sync "$probe" && rm -f "$probe" && echo writable`,

  // ---- steps 3, 4
  makeAllocatable: (device: string) => sh`pvchange --allocatable y ${device}`,
  /** No size: the PV takes its whole device, an absolute target a retry cannot overshoot. */
  resizePvToDevice: (device: string) => sh`pvresize ${device}`,

  // ---- step 5: rebuild a PV whose data area starts far into its device
  /** With no PV named, pvmove carries on (or just polls) a move that was interrupted; with none it does nothing. */
  pvmoveResume: () => sh`pvmove -i 1`,
  /**
   * Move every allocated extent off the PV, progress each second. The default (normal) policy never
   * puts an extent back on the PV being emptied; the operators' --alloc anywhere could.
   */
  pvmoveOff: (device: string) => sh`pvmove -i 1 ${device}`,
  pvmoveAbort: () => sh`pvmove --abort`,
  vgreduce: (vg: string, device: string) => sh`vgreduce ${vg} ${device}`,
  pvcreate: (device: string) => sh`pvcreate ${device}`,
  vgextend: (vg: string, device: string) => sh`vgextend ${vg} ${device}`,
  pvremove: (device: string) => sh`pvremove ${device}`,

  // ---- step 7: disks as loop devices over image files
  fallocate: (image: string, bytes: number) => sh`fallocate -l ${bytes} ${image}`,
  /** Attach once: a loop device already over the image is reused, so a retry never attaches a second one. */
  attachLoop: (image: string) => sh`dev=$(losetup -l -n -O NAME -j ${image} | head -n 1); if [ -z "$dev" ]; then dev=$(losetup --find --show ${image}); fi; echo "$dev"`,
  /** What the plan shows for attaching (the device `losetup --find` hands out now). */
  attachLoopAs: (device: string, image: string) => sh`losetup ${device} ${image}`,
  detachLoop: (device: string) => sh`losetup -d ${device}`,
  removeImage: (image: string) => sh`rm -f ${image}`,

  // ---- step 8 and the guard
  /** Grow to an absolute size (MiB) and the filesystem with it (resize2fs or xfs_growfs, chosen by LVM). */
  extendTo: (vg: string, lv: string, mib: number) => sh`lvextend -L ${`${mib}m`} --resizefs ${lvName(vg, lv)}`,
  /**
   * The guard's watcher: one line of the filesystem's statvfs (fragment size, blocks, free blocks,
   * blocks available) every `pollMs`, for `seconds`; a remote loop, so usage streams in without a
   * command round trip per sample. It ends by itself, so a watcher whose worker died stops too.
   */
  watchUsage: (mount: string, pollMs: number, seconds: number) =>
    sh`end=$((SECONDS + ${Math.ceil(seconds)})); while [ "$SECONDS" -lt "$end" ]; do stat -f -c '%S %b %f %a' ${mount} || exit 1; sleep ${(pollMs / 1000).toFixed(3)}; done`,
};

/** The filesystem-size command for a mounted filesystem of this type, or null when we cannot size it. */
export function fsSizeCommand(fstype: string, mount: string, device: string): ShellCommand | null {
  if (fstype === 'xfs') return storageCommands.xfsInfo(mount);
  if (/^ext[234]$/.test(fstype)) return storageCommands.dumpe2fs(device);
  return null;
}
