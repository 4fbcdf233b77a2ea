import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeviceOpen, lvPath } from './devices';
import { leCount, pvAllocCount, pvSegments, vgExtentCount, vgFreeCount, vgPvs } from './model';
import { displaySize, type Units } from './sizes';
import { formatUuid, type EmuState, type LvState, type PvState, type VgState } from './state';

// pvdisplay, vgdisplay and lvdisplay in their long form (lib/display/display.c): "Name  value"
// lines under a "--- ... ---" title, each block closed by a line holding one space; -m adds the
// segment maps, whose "Logical volume", "Type" ... labels are followed by TABs, as in LVM.

function line(out: string[], text: string): void {
  out.push(`  ${text}`);
}

/** pvdisplay_full */
export function pvDisplay(state: EmuState, pv: PvState, units: Units, maps: boolean): string {
  const out: string[] = [];
  const vg = pv.vg ? state.vgs.find((v) => v.name === pv.vg) : undefined;
  const extent = vg?.extentBytes ?? 0;
  const peCount = vg ? pv.peCount : 0;
  line(out, `--- ${extent ? '' : 'NEW '}Physical volume ---`);
  line(out, `PV Name               ${pv.device}`);
  line(out, `VG Name               ${pv.vg ?? ''}`);
  const dataSize = peCount * extent;
  let pvSize: number;
  let unusable: number;
  if (pv.sizeBytes > dataSize + pv.peStartBytes) {
    pvSize = pv.sizeBytes;
    unusable = pvSize - dataSize;
  } else {
    pvSize = dataSize + pv.peStartBytes;
    unusable = pvSize - pv.sizeBytes;
  }
  if (dataSize) line(out, `PV Size               ${displaySize(pvSize, units)} / not usable ${displaySize(unusable, units)}`);
  else line(out, `PV Size               ${displaySize(pvSize, units)}`);
  const alloc = pvAllocCount(vg, pv);
  const free = peCount - alloc;
  if (peCount && pv.allocatable) line(out, `Allocatable           yes ${free === 0 ? '(but full)' : ''}`);
  else line(out, 'Allocatable           NO');
  line(out, `PE Size               ${displaySize(extent, units)}`);
  line(out, `Total PE              ${peCount}`);
  line(out, `Free PE               ${free}`);
  line(out, `Allocated PE          ${alloc}`);
  line(out, `PV UUID               ${formatUuid(pv.uuid)}`);
  line(out, ' ');
  if (maps && vg) {
    // pvdisplay_segments
    line(out, '--- Physical Segments ---');
    for (const seg of pvSegments(vg, pv)) {
      line(out, `Physical extent ${seg.pe} to ${seg.pe + seg.len - 1}:`);
      if (seg.lv) {
        line(out, `  Logical volume\t${lvPath('/dev', vg.name, seg.lv.name)}`);
        line(out, `  Logical extents\t${seg.le} to ${seg.le + seg.len - 1}`);
      } else line(out, '  FREE');
    }
    line(out, ' ');
  }
  return out.map((l) => `${l}\n`).join('');
}

function openLvCount(vg: VgState): number {
  return vg.lvs.filter((lv) => lv.loopDevice !== null && isDeviceOpen(lv.loopDevice)).length;
}

/** vgdisplay_full */
export function vgDisplay(state: EmuState, vg: VgState, units: Units): string {
  const out: string[] = [];
  const total = vgExtentCount(state, vg);
  const free = vgFreeCount(state, vg);
  line(out, '--- Volume group ---');
  line(out, `VG Name               ${vg.name}`);
  line(out, 'System ID             ');
  line(out, 'Format                lvm2');
  line(out, `Metadata Areas        ${vg.pvs.length}`);
  line(out, `Metadata Sequence No  ${vg.seqno}`);
  line(out, 'VG Access             read/write');
  line(out, 'VG Status             resizable');
  line(out, 'MAX LV                0');
  line(out, `Cur LV                ${vg.lvs.length}`);
  line(out, `Open LV               ${openLvCount(vg)}`);
  line(out, 'Max PV                0');
  line(out, `Cur PV                ${vg.pvs.length}`);
  line(out, `Act PV                ${vgPvs(state, vg).length}`);
  line(out, `VG Size               ${displaySize(total * vg.extentBytes, units)}`);
  line(out, `PE Size               ${displaySize(vg.extentBytes, units)}`);
  line(out, `Total PE              ${total}`);
  line(out, `Alloc PE / Size       ${total - free} / ${displaySize((total - free) * vg.extentBytes, units)}`);
  line(out, `Free  PE / Size       ${free} / ${displaySize(free * vg.extentBytes, units)}`);
  line(out, `VG UUID               ${formatUuid(vg.uuid)}`);
  line(out, ' ');
  return out.map((l) => `${l}\n`).join('');
}

function readAheadSectors(loopDevice: string): string | null {
  try {
    return String(Number(readFileSync(`/sys/block/${path.basename(loopDevice)}/queue/read_ahead_kb`, 'utf8').trim()) * 2);
  } catch {
    return null;
  }
}

/** lvdisplay_full (+ lvdisplay_segments with -m) */
export function lvDisplay(state: EmuState, vg: VgState, lv: LvState, units: Units, maps: boolean): string {
  const out: string[] = [];
  const active = lv.loopDevice !== null;
  line(out, '--- Logical volume ---');
  line(out, `LV Path                ${lvPath('/dev', vg.name, lv.name)}`);
  line(out, `LV Name                ${lv.name}`);
  line(out, `VG Name                ${vg.name}`);
  line(out, `LV UUID                ${formatUuid(lv.uuid)}`);
  line(out, 'LV Write Access        read/write');
  line(out, `LV Creation host, time ${lv.creationHost}, ${lv.creationTime}`);
  line(out, `LV Status              ${active ? '' : 'NOT '}available`);
  if (active && lv.loopDevice) line(out, `# open                 ${isDeviceOpen(lv.loopDevice) ? 1 : 0}`);
  line(out, `LV Size                ${displaySize(leCount(lv) * vg.extentBytes, units)}`);
  line(out, `Current LE             ${leCount(lv)}`);
  line(out, `Segments               ${lv.segments.length}`);
  line(out, 'Allocation             inherit');
  line(out, 'Read ahead sectors     auto');
  if (active && lv.loopDevice) {
    const ra = readAheadSectors(lv.loopDevice);
    if (ra !== null) line(out, `- currently set to     ${ra}`);
    line(out, `Block device           7:${lv.loopDevice.replace(/^\/dev\/loop/, '')}`);
  }
  line(out, ' ');
  if (maps) {
    line(out, '--- Segments ---');
    for (const seg of lv.segments) {
      const pv = state.pvs.find((p) => p.uuid === seg.pv);
      line(out, `Logical extents ${seg.le} to ${seg.le + seg.len - 1}:`);
      line(out, '  Type\t\tlinear');
      line(out, `  Physical volume\t${pv ? pv.device : 'Missing'}`);
      line(out, `  Physical extents\t${seg.pe} to ${seg.pe + seg.len - 1}`);
      line(out, ' ');
    }
    line(out, ' ');
  }
  return out.map((l) => `${l}\n`).join('');
}
