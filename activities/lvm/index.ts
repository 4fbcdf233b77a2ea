// The LVM and filesystem activities of the storage runbooks (fixReadonlyData, autoGrowGuard).
// Only activities here: the worker registers everything this file exports.
export { diagnoseStorage } from './diagnose';
export { remountReadWrite, probeWritable } from './mount';
export { makePvAllocatable, resizePvToDevice, readVolumeGroup } from './pv-repair';
export { rebuildPv, settlePvMove } from './rebuild';
export { ensureDiskPv, removeAddedDisk } from './disks';
export { extendVolume, sampleVolume, checkVolumeSize } from './extend';
export { watchVolume } from './watch';
