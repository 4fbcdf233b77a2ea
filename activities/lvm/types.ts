// Shapes shared by the LVM activities and the workflows that decide from them. Pure types: safe to
// import from workflow code. Sizes are bytes (numbers: every size here is far below 2^53).

/** One PV as `pvs --reportformat json --units b --nosuffix` reports it. */
export interface PvInfo {
  device: string;
  /** '' for an orphan PV (a label, no VG). */
  vg: string;
  /** pv_attr: [0] a allocatable, u in a VG but not allocatable, - orphan. */
  attr: string;
  allocatable: boolean;
  peStartBytes: number;
  pvSizeBytes: number;
  devSizeBytes: number;
  peCount: number;
  peAllocCount: number;
}

export interface VgInfo {
  name: string;
  extentBytes: number;
  extentCount: number;
  freeExtents: number;
  pvCount: number;
  /** Metadata sequence number: every committed change bumps it. */
  seqno: number;
}

export interface LvInfo {
  name: string;
  vg: string;
  sizeBytes: number;
  attr: string;
  dmPath: string;
  /** Set (by real LVM) on the hidden pvmove LV while a move is in progress. */
  movePv: string;
}

export interface LvmState {
  pvs: PvInfo[];
  vg: VgInfo | null;
  /** Rows of `lvs -a` for the VG; the LV we care about plus hidden ones (pvmove0) on a real host. */
  lvs: LvInfo[];
}

export interface MountInfo {
  target: string;
  source: string;
  fstype: string;
  readOnly: boolean;
}

export interface FsUsage {
  target: string;
  sizeBytes: number;
  usedBytes: number;
  availBytes: number;
  usePercent: number;
}

/** A deleted file some process still holds open (lsof +L1). */
export interface DeletedOpenFile {
  pid: number;
  ppid: number;
  command: string;
  fd: string;
  sizeBytes: number;
  path: string;
}

/** A disk image in the disk folder and the loop device over it, if any. */
export interface DiskImage {
  path: string;
  sizeBytes: number;
  loopDevice: string | null;
}

/** Everything step 1 (diagnose) reads, in one record: the workflow decides every later step from it. */
export interface StorageFacts {
  host: string;
  lvm: LvmState;
  /** The filesystem of the volume (null when it is not mounted). */
  mount: MountInfo | null;
  /** Its size by its own count of blocks (xfs_info / dumpe2fs), which df leaves the log out of. */
  fsSizeBytes: number | null;
  usage: FsUsage | null;
  /** The filesystem the disk images live on. */
  diskDirMount: MountInfo | null;
  diskDirUsage: FsUsage | null;
  diskImages: DiskImage[];
  deletedOpenFiles: DeletedOpenFile[];
  /** The loop device `losetup --find` would hand out now (for the plan's exact commands). */
  nextLoopDevice: string | null;
}

/** What an idempotent act did: `changed` false means it found the target already reached. */
export interface ActResult {
  changed: boolean;
  detail: string;
}
