import { attachLoop, createDeviceNodes, detachLoop, growFile, isDeviceOpen, loopBackingFile, refreshLoopSize, removeDeviceNodes } from './devices';
import { LvmError, leCount } from './model';
import type { EmuState, LvState, VgState } from './state';

// Activation: what device-mapper does on a real host (a table load and /dev nodes), done here with
// a loop device over the LV's backing file. The backing file always holds le_count extents.

/** Make the LV's block device exist and match its size; idempotent (re-run after a crash or lvextend). */
export function activateLv(state: EmuState, vg: VgState, lv: LvState): void {
  const bytes = leCount(lv) * vg.extentBytes;
  growFile(lv.backingFile, bytes);
  let loop = lv.loopDevice;
  if (loop === null || loopBackingFile(loop) !== lv.backingFile) {
    // Not attached (or the kernel reused the number for another file after a reboot): attach anew.
    loop = attachLoop(lv.backingFile);
    lv.loopDevice = loop;
  } else {
    refreshLoopSize(loop);
  }
  createDeviceNodes(state.devRoot, vg.name, lv.name, loop);
}

export function deactivateLv(state: EmuState, vg: VgState, lv: LvState): void {
  if (lv.loopDevice === null) return;
  if (isDeviceOpen(lv.loopDevice)) throw new LvmError(`Logical volume ${vg.name}/${lv.name} in use.`);
  removeDeviceNodes(state.devRoot, vg.name, lv.name);
  if (loopBackingFile(lv.loopDevice) === lv.backingFile) detachLoop(lv.loopDevice);
  lv.loopDevice = null;
}

/** After the LV's extents grew: grow the backing file and tell the loop driver (losetup -c). */
export function resizeActiveLv(state: EmuState, vg: VgState, lv: LvState): void {
  growFile(lv.backingFile, leCount(lv) * vg.extentBytes);
  if (lv.loopDevice !== null && loopBackingFile(lv.loopDevice) === lv.backingFile) refreshLoopSize(lv.loopDevice);
  else if (lv.loopDevice !== null) activateLv(state, vg, lv);
}
