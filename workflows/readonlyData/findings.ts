import { MiB, storageCommands as c } from '../../activities/lvm/commands';
import type { PvInfo, StorageFacts } from '../../activities/lvm/types';
import { serviceCommands } from '../../activities/objectService/commands';
import { isUnder } from '../../activities/objectService/lsof';
import { guardWorkflowId } from '../../runbooks/autoGrowGuard/schema';
import type { FixReadonlyDataInput } from '../../runbooks/fixReadonlyData/schema';
import { STEP } from './steps';

// From the diagnosis to the repair: what is wrong (findings, each with its evidence and the exact
// commands that fix it) and every later step's absolute targets. Pure and deterministic, so plan
// mode, the apply run and its replay after a crash all decide the same.

export type FindingKind =
  | 'read-only-mount'
  | 'pv-not-allocatable'
  | 'pv-smaller-than-device'
  | 'pv-data-offset'
  | 'pv-out-of-vg'
  | 'pvmove-in-progress'
  | 'deleted-files-held'
  | 'too-few-pvs'
  | 'lv-below-target'
  | 'filesystem-smaller-than-lv'
  | 'no-room-for-disks'
  | 'auto-grow-guard';

export interface Finding {
  kind: FindingKind;
  /** The step that fixes it. */
  step: string;
  summary: string;
  /** What was seen, in the tools' own terms. */
  evidence: string;
  /** The exact commands the fixing step runs for this finding (in plan mode, what it would run). */
  commands: string[];
}

export interface DiskPlan {
  image: string;
  /** True when this run creates the image; false when it adopts one an earlier run left. */
  isNew: boolean;
  /** The loop device the plan expects (what `losetup --find` hands out now); the act uses what it gets. */
  predictedDevice: string | null;
}

export interface RepairPlan {
  findings: Finding[];
  /** Things no step can fix: the run stops before changing anything. */
  blockers: string[];
  remount: boolean;
  allocatable: string[];
  resize: string[];
  rebuild: string[];
  release: { filesystem: string; bytes: number; holders: Array<{ pid: number; ppid: number; command: string; files: string[] }> } | null;
  disks: DiskPlan[];
  extend: boolean;
  /** data0's target, rounded up to whole extents. */
  targetBytes: number;
  extentBytes: number;
  guardWorkflowId: string;
}

const mib = (bytes: number) => `${Math.round((bytes / MiB) * 100) / 100} MiB`;

function fullExtents(pv: PvInfo, extentBytes: number): number {
  return Math.floor((pv.devSizeBytes - pv.peStartBytes) / extentBytes);
}

function nextImageNames(existing: string[], dir: string, count: number): string[] {
  const used = new Set(existing);
  const numbers = existing
    .map((p) => /disk(\d+)\.img$/.exec(p)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
  let n = numbers.length ? Math.max(...numbers) + 1 : 0;
  const out: string[] = [];
  while (out.length < count) {
    const name = `${dir.replace(/\/$/, '')}/disk${n++}.img`;
    if (!used.has(name)) out.push(name);
  }
  return out;
}

function predictLoop(first: string | null, offset: number): string | null {
  const m = first ? /^(\/dev\/loop)(\d+)$/.exec(first) : null;
  return m ? `${m[1]}${Number(m[2]) + offset}` : null;
}

export function guardStartCommand(input: FixReadonlyDataInput): string {
  const { guard } = input;
  const args = {
    host: input.host,
    vg: input.vg,
    lv: input.lv,
    mountPoint: input.mountPoint,
    thresholdPercent: guard.thresholdPercent,
    stepMiB: guard.stepMiB,
    ...(guard.ceilingMiB ? { ceilingMiB: guard.ceilingMiB } : {}),
    pollMs: guard.pollMs,
  };
  return `runbook start autoGrowGuard --id ${guardWorkflowId(input.host, input.vg, input.lv)} --input '${JSON.stringify(args)}'`;
}

export function planRepairs(facts: StorageFacts, input: FixReadonlyDataInput): RepairPlan {
  const { vg, lv, mountPoint } = input;
  const findings: Finding[] = [];
  const blockers: string[] = [];
  const vgInfo = facts.lvm.vg;
  const extentBytes = vgInfo?.extentBytes ?? 4 * MiB;
  const lvInfo = facts.lvm.lvs.find((l) => l.name === lv);
  const maxOffset = input.maxDataOffsetMiB * MiB;
  const targetBytes = Math.ceil((input.targetSizeMiB * MiB) / extentBytes) * extentBytes;
  const plan: RepairPlan = {
    findings,
    blockers,
    remount: false,
    allocatable: [],
    resize: [],
    rebuild: [],
    release: null,
    disks: [],
    extend: false,
    targetBytes,
    extentBytes,
    guardWorkflowId: guardWorkflowId(input.host, vg, lv),
  };
  if (!vgInfo) blockers.push(`volume group ${vg} was not found on ${facts.host}`);
  if (!lvInfo) blockers.push(`logical volume ${vg}/${lv} was not found on ${facts.host}`);
  if (!facts.mount) blockers.push(`${mountPoint} is not mounted on ${facts.host}; this runbook repairs a mounted volume`);
  else if (lvInfo && facts.mount.source !== lvInfo.dmPath) blockers.push(`${mountPoint} is ${facts.mount.source}, not ${vg}/${lv} (${lvInfo.dmPath})`);
  if (!vgInfo || !lvInfo) return plan;

  // 2. the read-only mount
  if (facts.mount?.readOnly) {
    plan.remount = true;
    findings.push({
      kind: 'read-only-mount',
      step: STEP.remount,
      summary: `${mountPoint} is mounted read-only although ${vg}/${lv} is writable (lv_attr ${lvInfo.attr})`,
      evidence: `findmnt: ${facts.mount.source} on ${facts.mount.target} type ${facts.mount.fstype} (ro)`,
      commands: [c.remountReadWrite(mountPoint).display, c.writeProbe(mountPoint).display],
    });
  }

  const members = facts.lvm.pvs.filter((p) => p.vg === vg);
  // 3. PVs in the VG that may not be allocated from
  for (const pv of members.filter((p) => !p.allocatable)) {
    plan.allocatable.push(pv.device);
    findings.push({
      kind: 'pv-not-allocatable',
      step: STEP.allocatable,
      summary: `PV ${pv.device} of ${vg} is not allocatable`,
      evidence: `pvs: pv_attr ${pv.attr}`,
      commands: [c.makeAllocatable(pv.device).display],
    });
  }

  // 4. PVs that use less of their device than they could (a data offset far in is step 5's, not this)
  for (const pv of members) {
    const full = fullExtents(pv, extentBytes);
    if (pv.peStartBytes <= maxOffset && pv.peCount < full) {
      plan.resize.push(pv.device);
      findings.push({
        kind: 'pv-smaller-than-device',
        step: STEP.resize,
        summary: `PV ${pv.device} is ${mib(pv.pvSizeBytes)} on a ${mib(pv.devSizeBytes)} device`,
        evidence: `pvs: pv_pe_count ${pv.peCount}, the device has room for ${full} extents of ${mib(extentBytes)}`,
        commands: [c.resizePvToDevice(pv.device).display],
      });
    }
  }

  // 5. PVs whose data area starts far into the device; orphan PVs on our disk images (a rebuild cut short)
  const dir = input.diskDir;
  const imageDevices = new Map(facts.diskImages.filter((d) => d.loopDevice).map((d) => [d.loopDevice as string, d.path]));
  for (const pv of members.filter((p) => p.peStartBytes > maxOffset)) {
    plan.rebuild.push(pv.device);
    findings.push({
      kind: 'pv-data-offset',
      step: STEP.rebuild,
      summary: `PV ${pv.device} has its data area ${mib(pv.peStartBytes)} into the device ("not usable" ${mib(pv.devSizeBytes - pv.pvSizeBytes)}); ${pv.peAllocCount} of its extents are in use`,
      evidence: `pvs: pe_start ${pv.peStartBytes}, pv_size ${pv.pvSizeBytes}, dev_size ${pv.devSizeBytes}, pv_pe_alloc_count ${pv.peAllocCount}`,
      commands: [
        c.pvmoveResume().display,
        ...(pv.peAllocCount > 0 ? [c.pvmoveOff(pv.device).display] : []),
        c.vgreduce(vg, pv.device).display,
        c.pvcreate(pv.device).display,
        c.vgextend(vg, pv.device).display,
      ],
    });
  }
  for (const pv of facts.lvm.pvs.filter((p) => p.vg === '' && imageDevices.has(p.device))) {
    plan.rebuild.push(pv.device);
    findings.push({
      kind: 'pv-out-of-vg',
      step: STEP.rebuild,
      summary: `PV ${pv.device} on ${imageDevices.get(pv.device)} is in no VG (an interrupted rebuild took it out)`,
      evidence: `pvs: vg_name "", pe_start ${pv.peStartBytes}`,
      commands: [...(pv.peStartBytes > maxOffset ? [c.pvcreate(pv.device).display] : []), c.vgextend(vg, pv.device).display],
    });
  }
  const moving = facts.lvm.lvs.filter((l) => l.movePv);
  if (moving.length) {
    findings.push({
      kind: 'pvmove-in-progress',
      step: STEP.rebuild,
      summary: `a pvmove of ${moving.map((l) => l.movePv).join(', ')} was interrupted and is still in progress`,
      evidence: `lvs -a: ${moving.map((l) => `${l.name} move_pv ${l.movePv}`).join(', ')}`,
      commands: [c.pvmoveResume().display],
    });
    if (!plan.rebuild.length) plan.rebuild.push(...moving.map((l) => l.movePv));
  }

  // 6. deleted files still held open on the disk images' filesystem
  const diskFs = facts.diskDirMount?.target ?? dir;
  const held = facts.deletedOpenFiles.filter((f) => isUnder(f.path, diskFs));
  if (held.length) {
    const byPid = new Map<number, typeof held>();
    for (const f of held) byPid.set(f.pid, [...(byPid.get(f.pid) ?? []), f]);
    const holders = [...byPid.entries()].map(([pid, fs]) => ({ pid, ppid: fs[0].ppid, command: fs[0].command, files: fs.map((f) => f.path) }));
    const bytes = held.reduce((n, f) => n + f.sizeBytes, 0);
    plan.release = { filesystem: diskFs, bytes, holders };
    findings.push({
      kind: 'deleted-files-held',
      step: STEP.release,
      summary: `${mib(bytes)} on ${diskFs} is held by deleted files still open in ${holders.map((h) => `${h.command} (pid ${h.pid})`).join(', ')}`,
      evidence: `lsof +L1: ${held.map((f) => `pid ${f.pid} fd ${f.fd} ${f.path} (deleted) ${f.sizeBytes} bytes`).join('; ')}`,
      commands: holders.map((h) => serviceCommands.terminateSupervisedChild(h.pid, h.ppid, input.service.timeoutSeconds).display),
    });
  }

  // 7. disks until the VG has pvCount PVs
  const adoptable = facts.diskImages.filter((d) => {
    if (!d.loopDevice) return true;
    const pv = facts.lvm.pvs.find((p) => p.device === d.loopDevice);
    return !pv; // attached, not a PV: an add-disks cut short
  });
  const willHave = members.length + facts.lvm.pvs.filter((p) => p.vg === '' && imageDevices.has(p.device)).length;
  const missing = Math.max(0, input.pvCount - willHave);
  const adopted = adoptable.slice(0, missing);
  const created = nextImageNames(
    facts.diskImages.map((d) => d.path),
    dir,
    missing - adopted.length,
  );
  const diskBytes = input.diskSizeMiB * MiB;
  let loopOffset = 0;
  for (const d of adopted) plan.disks.push({ image: d.path, isNew: false, predictedDevice: d.loopDevice ?? predictLoop(facts.nextLoopDevice, loopOffset++) });
  for (const image of created) plan.disks.push({ image, isNew: true, predictedDevice: predictLoop(facts.nextLoopDevice, loopOffset++) });
  if (plan.disks.length) {
    findings.push({
      kind: 'too-few-pvs',
      step: STEP.disks,
      summary: `${vg} has ${members.length} PVs${willHave > members.length ? ` (${willHave} once rebuilt)` : ''}; it should have ${input.pvCount}: ${plan.disks.map((d) => `${d.isNew ? 'create' : 'adopt'} ${d.image}`).join(', ')}`,
      evidence: `vgs: pv_count ${vgInfo.pvCount}; images in ${dir}: ${facts.diskImages.map((d) => `${d.path}${d.loopDevice ? ` (${d.loopDevice})` : ''}`).join(', ') || 'none'}`,
      commands: plan.disks.flatMap((d) => {
        const dev = d.predictedDevice ?? '<the loop device losetup attaches>';
        return [...(d.isNew ? [c.fallocate(d.image, diskBytes).display] : []), c.attachLoop(d.image).display, c.pvcreate(dev).display, c.vgextend(vg, dev).display];
      }),
    });
    const needBytes = plan.disks.filter((d) => d.isNew).length * diskBytes;
    const room = (facts.diskDirUsage?.availBytes ?? 0) + (plan.release?.bytes ?? 0);
    if (needBytes > room) {
      findings.push({
        kind: 'no-room-for-disks',
        step: STEP.disks,
        summary: `${diskFs} will have ${mib(room)} free after releasing held files, but the new disk images need ${mib(needBytes)}: add-disks will stop`,
        evidence: `df: ${facts.diskDirUsage?.availBytes ?? 0} bytes available on ${diskFs}`,
        commands: [],
      });
    }
  }

  // 8. data0 to its target, and a filesystem that fills the LV. A target the repaired VG cannot hold
  // stops the run before it changes anything, rather than at step 8 with half the work done.
  const normalStart = MiB;
  const capacity =
    members.reduce((n, p) => n + Math.floor((p.devSizeBytes - (p.peStartBytes > maxOffset ? normalStart : p.peStartBytes)) / extentBytes), 0) +
    facts.lvm.pvs.filter((p) => p.vg === '' && imageDevices.has(p.device)).reduce((n, p) => n + Math.floor((p.devSizeBytes - normalStart) / extentBytes), 0) +
    plan.disks.length * Math.floor((diskBytes - normalStart) / extentBytes);
  if (targetBytes > capacity * extentBytes) {
    blockers.push(`the target ${mib(targetBytes)} is more than ${vg} will hold once repaired (${capacity} extents, ${mib(capacity * extentBytes)}); lower targetSizeMiB or raise pvCount/diskSizeMiB`);
  }
  const lvBytes = lvInfo.sizeBytes;
  if (lvBytes < targetBytes) {
    plan.extend = true;
    findings.push({
      kind: 'lv-below-target',
      step: STEP.extend,
      summary: `${vg}/${lv} is ${mib(lvBytes)}; it should be ${mib(targetBytes)}`,
      evidence: `lvs: lv_size ${lvBytes}`,
      commands: [c.extendTo(vg, lv, targetBytes / MiB).display],
    });
  } else if (facts.fsSizeBytes !== null && facts.fsSizeBytes < lvBytes - extentBytes) {
    plan.extend = true;
    findings.push({
      kind: 'filesystem-smaller-than-lv',
      step: STEP.extend,
      summary: `the ${facts.mount?.fstype} filesystem on ${mountPoint} is ${mib(facts.fsSizeBytes)} on a ${mib(lvBytes)} LV (extended without --resizefs)`,
      evidence: `filesystem blocks: ${facts.fsSizeBytes} bytes; lvs: lv_size ${lvBytes}`,
      commands: [c.extendTo(vg, lv, Math.ceil(lvBytes / MiB)).display],
    });
  }

  // 9. the guard that keeps it from filling up (starting it is idempotent: its id is a lock)
  if (input.guard.enabled) {
    findings.push({
      kind: 'auto-grow-guard',
      step: STEP.guard,
      summary: `nothing grows ${mountPoint} as it fills: the guard ${plan.guardWorkflowId} extends ${vg}/${lv} by ${input.guard.stepMiB} MiB at ${input.guard.thresholdPercent}% use${input.guard.ceilingMiB ? `, up to ${input.guard.ceilingMiB} MiB` : ''}`,
      evidence: 'the incident notes: "automatically expand the volume by 500M any time it gets close to full"',
      commands: [guardStartCommand(input)],
    });
  }
  return plan;
}
