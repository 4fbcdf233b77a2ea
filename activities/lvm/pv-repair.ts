import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { StepOutput } from '../../common/step';
import { act } from './act';
import { storageCommands as c } from './commands';
import { readLvm, readPv, refuse } from './read';
import type { ActResult, LvmState } from './types';

/** Step 3: `pvchange --allocatable y`, for a PV of the VG that is not allocatable (checked first). */
export async function makePvAllocatable(host: string, vg: string, device: string): Promise<StepOutput<ActResult>> {
  const session = new HostSession(sharedPool(), host);
  const pv = await readPv(session, device);
  if (!pv || pv.vg !== vg) refuse(`${device} is not a PV of ${vg} on ${host}`, 'NotInVolumeGroup');
  if (pv.allocatable) return session.output({ changed: false, detail: `${device} is already allocatable` });
  await act(session, c.makeAllocatable(device));
  return session.output({ changed: true, detail: `${device} made allocatable` });
}

/** The extent count a PV gets when it spans its whole device after its data offset. */
export function fullExtents(devSizeBytes: number, peStartBytes: number, extentBytes: number): number {
  return Math.floor((devSizeBytes - peStartBytes) / extentBytes);
}

/** Step 4: `pvresize` to the device's size, for a PV smaller than its device (checked first). */
export async function resizePvToDevice(host: string, vg: string, device: string): Promise<StepOutput<ActResult>> {
  const session = new HostSession(sharedPool(), host);
  const state = await readLvm(session, vg);
  const pv = state.pvs.find((p) => p.device === device);
  if (!pv || pv.vg !== vg || !state.vg) refuse(`${device} is not a PV of ${vg} on ${host}`, 'NotInVolumeGroup');
  const want = fullExtents(pv.devSizeBytes, pv.peStartBytes, state.vg.extentBytes);
  if (pv.peCount >= want) return session.output({ changed: false, detail: `${device} already spans its device (${pv.peCount} extents)` });
  await act(session, c.resizePvToDevice(device));
  return session.output({ changed: true, detail: `${device} grown from ${pv.peCount} to ${want} extents` });
}

/** A read-only look at the VG, for verifies. */
export async function readVolumeGroup(host: string, vg: string): Promise<StepOutput<LvmState>> {
  const session = new HostSession(sharedPool(), host);
  return session.output(await readLvm(session, vg));
}
