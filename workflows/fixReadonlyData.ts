import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ApplicationFailure, ParentClosePolicy, startChild } from '@temporalio/workflow';
import type * as activities from '../activities';
import { MiB } from '../activities/lvm/commands';
import type { LvmState } from '../activities/lvm/types';
import type { ProbeTotals } from '../activities/objectService/probe';
import type { AutoGrowGuardStart } from '../runbooks/autoGrowGuard/schema';
import { fixReadonlyDataDefinition } from '../runbooks/fixReadonlyData/definition';
import type { FixReadonlyDataInput } from '../runbooks/fixReadonlyData/schema';
import { autoGrowGuard } from './autoGrowGuard';
import { Runbook, type RunbookResult } from './engine/runbook';
import type { VerifyOutcome, StepOutput } from '../common/step';
import { planRepairs, type Finding, type FindingKind, type RepairPlan } from './readonlyData/findings';
import { each } from './readonlyData/helpers';
import { startDowntimeProbe } from './readonlyData/probe';
import { STEP } from './readonlyData/steps';

/**
 * fixReadonlyData: the read-only /data incident (seed 002) as a durable procedure. Nine steps, each
 * inspect -> act -> verify: diagnose; remount read-write; make PVs allocatable; resize PVs to their
 * devices; rebuild PVs with an abnormal data offset (approval); release space held by deleted files
 * with a graceful restart of their holder (approval); add disks up to pvCount; extend the LV to its
 * target; start the auto-grow guard. Every act gets absolute targets decided here from the diagnosis
 * and checks before it changes anything, so a retry after a crash never applies a change twice. A
 * probe asks the object service for a page every 50 ms throughout; its downtime is in the result.
 * runbooks/fixReadonlyData/README.md is the operator's description of every step.
 */

export interface FixReadonlyDataResult {
  findings: Finding[];
  blockers: string[];
  /** One line per step: what it did, or why it was not needed. */
  steps: Record<string, string>;
  /** Findings a final diagnosis still shows (apply mode; empty when repaired). */
  remaining: Finding[];
  guard: { workflowId: string; alreadyRunning: boolean } | null;
  /** The object service as its clients saw it during the run (apply mode). */
  downtime: ProbeTotals | null;
}

type Acts = typeof activities;

function commandsFor(plan: RepairPlan, kinds: FindingKind[]): string[] {
  return plan.findings.filter((f) => kinds.includes(f.kind)).flatMap((f) => f.commands);
}

function verified(out: StepOutput<LvmState>, check: (s: LvmState) => string[]): StepOutput<VerifyOutcome> {
  const problems = check(out.value);
  return { value: { ok: problems.length === 0, detail: problems.length ? problems.join('; ') : 'as intended' }, commands: out.commands };
}

export async function fixReadonlyData(input: unknown): Promise<RunbookResult<FixReadonlyDataResult>> {
  return Runbook.run(fixReadonlyDataDefinition, input, async (rb, i) => {
    // A step's activities heartbeat each second while a command runs; 5 s without one means its worker is gone.
    const acts = rb.on<Acts>(i.host, { startToCloseTimeout: '6 hours', heartbeatTimeout: '5 seconds' });
    const probe = !rb.planning && i.probe.enabled ? startDowntimeProbe(rb, i.host, i.service.port, i.service.healthPath, i.probe.intervalMs) : null;
    let downtime: ProbeTotals | null = null;
    try {
      const result = await repair(rb, i, acts);
      downtime = probe ? await probe.stop() : null;
      return { ...result, downtime };
    } finally {
      if (probe && !downtime) await probe.stop();
    }
  });
}

async function repair(rb: Runbook<FixReadonlyDataInput>, i: FixReadonlyDataInput, acts: Acts): Promise<Omit<FixReadonlyDataResult, 'downtime'>> {
  const { host, vg, lv, mountPoint, diskDir } = i;
  const target = { vg, lv, mountPoint, diskDir };
  const maxOffset = i.maxDataOffsetMiB * MiB;
  const steps: Record<string, string> = {};

  // 1. Diagnose: one read of everything; every later decision comes from it.
  const facts = await rb.inspect({
    name: STEP.diagnose,
    host,
    description: 'mounts, PVs/VGs/LVs, disk images, deleted files held open, free space',
    run: () => acts.diagnoseStorage(host, target),
    summarize: (f) =>
      `${f.lvm.pvs.filter((p) => p.vg === vg).length} PVs in ${vg}, ${lv} ${(f.lvm.lvs.find((l) => l.name === lv)?.sizeBytes ?? 0) / MiB} MiB, ${mountPoint} ${f.mount ? (f.mount.readOnly ? 'ro' : 'rw') : 'not mounted'}`,
  });
  const plan = planRepairs(facts, i);
  const lvBefore = facts.lvm.lvs.find((l) => l.name === lv)?.sizeBytes ?? 0;
  steps[STEP.diagnose] = `${plan.findings.length} findings: ${plan.findings.map((f) => f.kind).join(', ') || 'none'}`;
  if (plan.blockers.length) {
    if (rb.planning) return { findings: plan.findings, blockers: plan.blockers, steps, remaining: [], guard: null };
    throw ApplicationFailure.nonRetryable(`nothing was changed: ${plan.blockers.join('; ')}`, 'CannotRepair', { findings: plan.findings });
  }
  const skip = (name: string, why: string) => {
    steps[name] = `not needed: ${why}`;
  };

  // 2. The read-only mount: remount read-write (no downtime) and prove it with a write.
  if (plan.remount) {
    const r = await rb.mutate({
      name: STEP.remount,
      host,
      description: `remount ${mountPoint} read-write and prove it with a write probe`,
      plan: () => commandsFor(plan, ['read-only-mount']),
      run: () => acts.remountReadWrite(host, mountPoint),
      verify: () => acts.probeWritable(host, mountPoint),
      summarize: (v) => v.detail,
    });
    steps[STEP.remount] = r?.detail ?? 'planned';
  } else skip(STEP.remount, `${mountPoint} is mounted read-write`);

  // 3. PVs that may not be allocated from.
  if (plan.allocatable.length) {
    const r = await rb.mutate({
      name: STEP.allocatable,
      host,
      description: `pvchange --allocatable y ${plan.allocatable.join(' ')}`,
      plan: () => commandsFor(plan, ['pv-not-allocatable']),
      run: () => each(plan.allocatable, (d) => acts.makePvAllocatable(host, vg, d)),
      verify: async () =>
        verified(await acts.readVolumeGroup(host, vg), (s) => plan.allocatable.filter((d) => !s.pvs.find((p) => p.device === d)?.allocatable).map((d) => `${d} is still not allocatable`)),
      summarize: (v) => v.map((x) => x.detail).join('; '),
    });
    steps[STEP.allocatable] = r?.map((x) => x.detail).join('; ') ?? 'planned';
  } else skip(STEP.allocatable, 'every PV is allocatable');

  // 4. PVs smaller than their devices.
  if (plan.resize.length) {
    const r = await rb.mutate({
      name: STEP.resize,
      host,
      description: `pvresize ${plan.resize.join(' ')} to their devices' size`,
      plan: () => commandsFor(plan, ['pv-smaller-than-device']),
      run: () => each(plan.resize, (d) => acts.resizePvToDevice(host, vg, d)),
      verify: async () =>
        verified(await acts.readVolumeGroup(host, vg), (s) =>
          plan.resize.flatMap((d) => {
            const pv = s.pvs.find((p) => p.device === d);
            const full = pv && s.vg ? Math.floor((pv.devSizeBytes - pv.peStartBytes) / s.vg.extentBytes) : -1;
            return pv && pv.peCount >= full ? [] : [`${d} has ${pv?.peCount ?? 0} extents, its device room for ${full}`];
          }),
        ),
      summarize: (v) => v.map((x) => x.detail).join('; '),
    });
    steps[STEP.resize] = r?.map((x) => x.detail).join('; ') ?? 'planned';
  } else skip(STEP.resize, 'every PV spans its device');

  // 5. PVs with an abnormal data offset: pvmove off, vgreduce, pvcreate, vgextend. Approval gate.
  if (plan.rebuild.length) {
    const r = await rb.mutate({
      name: STEP.rebuild,
      host,
      description: `rebuild ${plan.rebuild.join(' ')}: move their extents to other PVs (pvmove), take them out of ${vg}, re-create them with a normal data offset and add them back`,
      approval: { reason: 'moves live data between disks' },
      plan: () => commandsFor(plan, ['pvmove-in-progress', 'pv-data-offset', 'pv-out-of-vg']),
      run: () => each(plan.rebuild, (d) => acts.rebuildPv(host, vg, d, maxOffset)),
      verify: async () =>
        verified(await acts.readVolumeGroup(host, vg), (s) => [
          ...plan.rebuild.flatMap((d) => {
            const pv = s.pvs.find((p) => p.device === d);
            return pv && pv.vg === vg && pv.peStartBytes <= maxOffset ? [] : [`${d} is ${pv ? `in VG "${pv.vg}" with data offset ${pv.peStartBytes}` : 'not a PV'}`];
          }),
          ...(s.lvs.some((l) => l.movePv) ? ['a pvmove is still in progress'] : []),
          // No extent of the LV may be lost on the way.
          ...((s.lvs.find((l) => l.name === lv)?.sizeBytes ?? 0) < lvBefore ? [`${vg}/${lv} shrank below ${lvBefore} bytes`] : []),
        ]),
      summarize: (v) => v.map((x) => `${x.device}: ${x.actions.join(', ') || 'already rebuilt'}`).join('; '),
      settle: {
        name: STEP.rebuildCleanup,
        host,
        description: `${STEP.rebuild} was cut short: finish (or abort) its pvmove and put any PV it took out back into ${vg}, so the VG is consistent and no extent is lost`,
        plan: () => [],
        run: () => each(plan.rebuild, (d) => acts.settlePvMove(host, vg, d, maxOffset)),
        summarize: (v) => (v as Array<{ device: string; actions: string[] }>).map((x) => `${x.device}: ${x.actions.join(', ') || 'consistent'}`).join('; '),
        // retry: the engine's SETTLE_RETRY
      },
    });
    steps[STEP.rebuild] = r?.map((x) => `${x.device}: ${x.actions.join(', ') || 'already rebuilt'}`).join('; ') ?? 'planned';
  } else skip(STEP.rebuild, `no PV has a data offset above ${i.maxDataOffsetMiB} MiB`);

  // 6. Space held by deleted-but-open files: graceful restart of the holder through its supervisor. Approval gate.
  if (plan.release) {
    const r = await rb.mutate({
      name: STEP.release,
      host,
      description: `restart ${plan.release.holders.map((h) => `${h.command} (pid ${h.pid})`).join(', ')} through its supervisor to release ${Math.round(plan.release.bytes / MiB)} MiB of deleted files on ${plan.release.filesystem}`,
      approval: { reason: 'restarts the object service (a graceful SIGTERM; its supervisor starts it again)' },
      plan: () => commandsFor(plan, ['deleted-files-held']),
      run: () => acts.releaseDeletedFiles(host, diskDir, i.service),
      // The space must really be back (a little may go to other writers meanwhile: 90% of what was held).
      verify: (v) => acts.checkSpaceReleased(host, diskDir, i.service, v.availBytesBefore + Math.floor(v.heldBytes * 0.9)),
      summarize: (v) => v.detail,
    });
    steps[STEP.release] = r?.detail ?? 'planned';
  } else skip(STEP.release, `no deleted file is held open on ${facts.diskDirMount?.target ?? diskDir}`);

  // 7. Disks until the VG has pvCount PVs; its compensation takes out what it added.
  if (plan.disks.length) {
    const newImages = plan.disks.filter((d) => d.isNew).map((d) => d.image);
    const removeNew = {
      description: `remove the disks ${STEP.disks} created (${newImages.join(', ') || 'none'}) unless the LV already has extents on them`,
      run: () => each(newImages, (img) => acts.removeAddedDisk(host, vg, img)),
    };
    const r = await rb.mutate({
      name: STEP.disks,
      host,
      description: `add ${plan.disks.map((d) => d.image).join(', ')} to ${vg} (fallocate, losetup, pvcreate, vgextend)`,
      plan: () => commandsFor(plan, ['too-few-pvs']),
      run: () =>
        each(
          plan.disks.map((d) => d.image),
          (img) => acts.ensureDiskPv(host, vg, img, i.diskSizeMiB * MiB),
        ),
      verify: async () => verified(await acts.readVolumeGroup(host, vg), (s) => ((s.vg?.pvCount ?? 0) >= i.pvCount ? [] : [`${vg} has ${s.vg?.pvCount ?? 0} PVs, not ${i.pvCount}`])),
      compensate: () => removeNew,
      summarize: (v) => v.map((d) => `${d.image} as ${d.device}${d.actions.length ? '' : ' (already there)'}`).join('; '),
      settle: { name: `undo-partial-${STEP.disks}`, host, plan: () => [], ...removeNew },
    });
    steps[STEP.disks] = r?.map((d) => `${d.image} as ${d.device}${d.actions.length ? '' : ' (already there)'}`).join('; ') ?? 'planned';
  } else skip(STEP.disks, `${vg} has ${i.pvCount} PVs`);

  // 8. The LV to its target (absolute), with its filesystem (resize2fs or xfs_growfs, as LVM picks).
  if (plan.extend) {
    const r = await rb.mutate({
      name: STEP.extend,
      host,
      description: `extend ${vg}/${lv} to ${plan.targetBytes / MiB} MiB with its filesystem, online`,
      plan: () => commandsFor(plan, ['lv-below-target', 'filesystem-smaller-than-lv']),
      run: () => acts.extendVolume(host, vg, lv, mountPoint, plan.targetBytes),
      verify: () => acts.checkVolumeSize(host, vg, lv, mountPoint, plan.targetBytes),
      summarize: (v) => v.detail,
      retry: { nonRetryableErrorTypes: ['InsufficientFreeExtents'] },
    });
    steps[STEP.extend] = r?.detail ?? 'planned';
  } else skip(STEP.extend, `${vg}/${lv} is at least ${plan.targetBytes / MiB} MiB and its filesystem fills it`);

  // 9. The auto-grow guard: its own durable workflow, one per volume, outliving this run.
  let guard: FixReadonlyDataResult['guard'] = null;
  if (i.guard.enabled) {
    const guardInput: AutoGrowGuardStart = {
      host,
      vg,
      lv,
      mountPoint,
      thresholdPercent: i.guard.thresholdPercent,
      stepMiB: i.guard.stepMiB,
      ...(i.guard.ceilingMiB ? { ceilingMiB: i.guard.ceilingMiB } : {}),
      pollMs: i.guard.pollMs,
    };
    const r = await rb.mutate({
      name: STEP.guard,
      host,
      description: `start the auto-grow guard ${plan.guardWorkflowId} (or find it running)`,
      plan: () => commandsFor(plan, ['auto-grow-guard']),
      run: async () => {
        try {
          // ABANDON: the guard keeps watching after this run ends. Its id is the lock: one per volume.
          await startChild(autoGrowGuard, { workflowId: plan.guardWorkflowId, args: [guardInput], parentClosePolicy: ParentClosePolicy.ABANDON });
          return { value: { workflowId: plan.guardWorkflowId, alreadyRunning: false }, commands: [] };
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) return { value: { workflowId: plan.guardWorkflowId, alreadyRunning: true }, commands: [] };
          throw err;
        }
      },
      summarize: (v) => `${v.workflowId} ${v.alreadyRunning ? 'was already running' : 'started'}`,
    });
    guard = r ?? null;
    steps[STEP.guard] = r ? `${r.workflowId} ${r.alreadyRunning ? 'was already running' : 'started'}` : 'planned';
  } else skip(STEP.guard, 'guard.enabled is false');

  if (rb.planning) return { findings: plan.findings, blockers: [], steps, remaining: [], guard: null };

  // The runbook's own last look (the scenario's independent check judges it too): nothing left to fix.
  const after = await rb.inspect({
    name: 'confirm-repaired',
    host,
    description: 'diagnose again: every finding but the guard should be gone',
    run: () => acts.diagnoseStorage(host, target),
    summarize: (f) => `${f.lvm.vg?.pvCount ?? 0} PVs, ${lv} ${(f.lvm.lvs.find((l) => l.name === lv)?.sizeBytes ?? 0) / MiB} MiB, ${mountPoint} ${f.mount?.readOnly ? 'ro' : 'rw'}`,
  });
  const remaining = planRepairs(after, i).findings.filter((f) => f.kind !== 'auto-grow-guard');
  if (remaining.length) {
    throw ApplicationFailure.nonRetryable(`the repair left ${remaining.length} findings: ${remaining.map((f) => f.summary).join('; ')}`, 'NotRepaired', { remaining });
  }
  return { findings: plan.findings, blockers: [], steps, remaining, guard };
}
