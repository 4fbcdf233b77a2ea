import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities';
import { calls, displayCall } from '../activities/maas/calls';
import { createFilePoolCommand, createPoolCommand, destroyFilePoolCommand, destroyOwnedPoolCommand, resolvePartitionCommand, cloudInitWaitCommand, type PoolSpec } from '../activities/maas/commands';
import type { CommissioningEvidence, MachineView } from '../activities/maas/machine';
import type { PoolFacts, ResolvedPartition } from '../activities/maas/host';
import { maasRepartitionDefinition } from '../runbooks/maasRepartition/definition';
import { judgeCommissioning, layoutMismatches, failureReport, eventLines, type Verdict } from '../runbooks/maasRepartition/judge';
import { refusalsAfterInspection, refusalText } from '../runbooks/maasRepartition/refusals';
import { computeLayout, layoutScript, roundDown4MiB, sizeBytes, type ComputedLayout } from '../runbooks/maasRepartition/layout';
import type { MaasRepartitionInput } from '../runbooks/maasRepartition/schema';
import { Runbook, type RunbookResult } from './engine/runbook';

// maasRepartition (seed 000): from "one big root" to N isolated ZFS pools on their own partitions,
// through MAAS: upload a commissioning script that writes a custom storage layout, release (approval:
// it wipes the machine; the point of no return), commission with only that script, prove the layout
// was applied, deploy, wait for cloud-init, then one pool per spare partition on its by-partuuid
// path. Or, strategy loop-files, the seed's immediate path: pools on sparse files on the deployed host.

export interface MaasRepartitionResult {
  machine: { systemId: string; hostname: string; status: string };
  strategy: MaasRepartitionInput['strategy'];
  outcome: 'repartitioned' | 'pools-on-files' | 'already-in-target-state' | 'planned';
  layout?: ComputedLayout['json'];
  partitions: Array<{ name: string; bytes: number; maasPath: string; stablePath: string; pool: string }>;
  pools: Array<{ name: string; vdev: string; health: string; mountpoint: string; bytes: number; createdByThisRun: boolean }>;
  /** The events and script output that prove the layout was applied. */
  evidence: { events: string[]; scriptOutput: string };
}

function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(d)!;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']!;
}

const fail = (message: string, type: string): never => {
  throw ApplicationFailure.nonRetryable(message, type);
};

export async function maasRepartition(input: unknown): Promise<RunbookResult<MaasRepartitionResult>> {
  return Runbook.run(maasRepartitionDefinition, input, async (rb, i) => {
    const waitMs = durationMs(i.waitTimeout);
    const pollMs = durationMs(i.pollInterval);
    const runId = workflowInfo().runId;
    const maas = rb.on<typeof activities>(undefined, { startToCloseTimeout: `${Math.ceil(waitMs / 1000) + 300} seconds`, heartbeatTimeout: `${Math.max(2, Math.ceil((pollMs * 5) / 1000))} seconds` });
    // SSH activities heartbeat every second: a worker that dies mid-command is noticed in 3 s.
    const onHost = rb.on<typeof activities>(i.host, { startToCloseTimeout: `${Math.ceil(waitMs / 1000) + 120} seconds`, heartbeatTimeout: '3 seconds' });

    // 1. Inspect: the machine, its disk, the newest event; the host's pools when it is deployed.
    const m0 = await rb.inspect({
      name: 'inspect-machine',
      description: `read ${i.machine} from MAAS ${i.maas}: status, power, owner, disk ${i.disk}, result sets, newest event`,
      // The script's text before the run: what its upload's undo puts back (see upload-script).
      run: () => maas.maasInspectMachine(i.maas, i.machine, i.disk, i.strategy === 'maas' ? i.scriptName : undefined),
      summarize: (m) =>
        `${m.hostname} (${m.systemId}) ${m.status}, power ${m.powerType}/${m.powerState}, owner ${m.owner ?? '-'}, ${m.disk ? `${m.disk.name} ${m.disk.size} B, ${m.disk.partitions.length} partitions` : `no disk ${i.disk}`}${m.script ? `, script ${m.script.name} ${m.script.content === null ? 'absent' : 'present'}` : ''}`,
    });
    // Refused here, before any change, with every problem MAAS's answer shows (a starter's pre-flight,
    // runbooks/maasRepartition/preflight.ts, says the same before it starts a run).
    const refusals = refusalsAfterInspection(i, m0);
    if (refusals.length) {
      const r = refusalText(m0.hostname, refusals);
      fail(r.message, r.type);
    }
    const disk = m0.disk!; // refusals name a missing disk
    const deployed = m0.status === 'Deployed';
    const pools0 = deployed
      ? await rb.inspect({
          name: 'inspect-host',
          host: i.host,
          description: 'zpool list on the deployed machine',
          run: () => onHost.hostPools(i.host),
          summarize: (p) => (p.length ? p.map((x) => `${x.name} ${x.health}`).join(', ') : 'no pools'),
        })
      : [];
    const sid = m0.systemId;

    if (i.strategy === 'loop-files') return loopFiles(rb, i, m0, deployed, onHost, runId);

    // Decide: the layout from the real disk size, and whether the machine is there already.
    const { layout, problems } = computeLayout(i, { name: disk.name, size: disk.size, biosBootMethod: m0.biosBootMethod, architecture: m0.architecture });
    if (!layout) return fail(`the requested partitions do not fit:\n${problems.join('\n')}`, 'LayoutDoesNotFit'); // refused above already
    const script = layoutScript(i.scriptName, disk.name, disk.size, layout.json);
    const spares = layout.partitions.filter((p) => p.role === 'spare');
    const partitionsMatch = layoutMismatches(disk, layout).length === 0;
    const poolsThere = i.pools.every((p) => pools0.some((x) => x.name === p.name && x.health === 'ONLINE'));
    await rb.inspect({
      name: 'decide',
      description: 'compute the layout JSON from the disk size and compare with what is there',
      run: async () => ({ value: null, commands: [] }),
      summarize: () =>
        `${layout.partitions.map((p) => `${disk.name}-part${p.index} ${p.role} ${p.layoutSize} (${p.bytes} B)`).join(', ')}; ${deployed && partitionsMatch && poolsThere ? 'already in the target state' : deployed && partitionsMatch ? 'partitions match, pools missing' : 'repartition needed'}; layout ${JSON.stringify(layout.json)}`,
    });

    let ev: CommissioningEvidence | null = null;
    if (!(deployed && partitionsMatch)) {
      // A busy or Broken machine, or one MAAS cannot power (manual, none), was refused after inspect-machine.
      // 2. The commissioning script, idempotent by content; undone if the run stops before the release.
      // The undo is decided by what the inspection found BEFORE the upload, not by what the upload
      // saw: a worker killed after MAAS took the upload but before the step was recorded retries it,
      // finds its own script "unchanged", and would otherwise leave it behind. The same undo settles
      // an upload cut short by a cancel (it may have landed). A history recorded before the
      // inspection read the script (m0.script undefined) keeps the old rule.
      const before = m0.script ? m0.script.content : undefined;
      const undoScript = (prior: string | null) =>
        prior === script
          ? undefined
          : { description: prior === null ? `delete script ${i.scriptName}` : `put back the previous ${i.scriptName}`, run: () => maas.maasRestoreScript(i.maas, i.scriptName, prior) };
      const settleScript = before === undefined ? undefined : undoScript(before);
      await rb.mutate({
        name: 'upload-script',
        description: `upload commissioning script ${i.scriptName} (noauto, parallel disabled, hardware_type node) that writes the layout`,
        plan: () => [displayCall(i.maas, calls.uploadScript(i.scriptName, script, before != null)), `# script ${i.scriptName}:\n${script}`],
        run: () => maas.maasEnsureScript(i.maas, i.scriptName, script),
        summarize: (u) => u.action,
        compensate: (u) => (before !== undefined ? undoScript(before) : u.action === 'unchanged' ? undefined : undoScript(u.previous)),
        settle: settleScript && {
          name: 'settle-upload-script',
          description: `the upload was cut short and may have landed: ${settleScript.description}`,
          plan: () => [displayCall(i.maas, before === null ? calls.deleteScript(i.scriptName) : calls.uploadScript(i.scriptName, before ?? '', true))],
          run: settleScript.run,
        },
      });

      // 3. Release (approval: it wipes the machine), then the point of no return.
      if (['Deployed', 'Allocated', 'Failed deployment'].includes(m0.status)) {
        await rb.mutate({
          name: 'release',
          description: `release ${m0.hostname} (${m0.status}): this WIPES the machine; it is then re-commissioned with a new layout and redeployed`,
          approval: { reason: 'releasing wipes the machine' },
          plan: () => [displayCall(i.maas, calls.release(sid, 'maasRepartition: repartition'))],
          run: () => maas.maasRelease(i.maas, sid, i.disk, 'maasRepartition: repartition', waitMs, pollMs),
          summarize: (m) => m.status,
        });
      }
      rb.commit(`${m0.hostname} is being repartitioned through MAAS; from here a failure leaves it for an operator (marked broken after two failures), never back in the pool`);

      // 4. Commission with only this script, up to twice; prove the layout was applied.
      ev = await commissionUntilApplied(rb, i, maas, m0, layout, waitMs, pollMs);

      // 5. Deploy, up to twice; Deployed is not usable: wait for cloud-init.
      await deployUntilDone(rb, i, maas, onHost, m0, layout, ev?.machine.lastEventId ?? m0.lastEventId, waitMs, pollMs);
    }

    // 6. One pool per spare partition, on its stable by-partuuid path.
    const spareDnames = spares.map((p) => `/dev/disk/by-dname/${disk.name}-part${p.index}`);
    const resolved = rb.planning
      ? spareDnames.map((dname): ResolvedPartition => ({ dname, device: '/dev/<resolved after deploy>', size: 0, stable: `/dev/disk/by-partuuid/<partuuid of ${dname}>` }))
      : await rb.inspect({
          name: 'resolve-partitions',
          host: i.host,
          description: 'resolve each spare partition (by-dname, which OpenZFS does not search) to its by-partuuid link',
          run: () => onHost.resolvePartitions(i.host, spareDnames),
          summarize: (r) => r.map((x) => `${x.dname} → ${x.stable} (${x.device}, ${x.size} B)`).join('; '),
        });
    if (rb.planning) {
      for (const d of spareDnames) rb.audit.planned.push({ step: 'resolve-partitions', host: i.host, description: 'read-only, after deploy', commands: [resolvePartitionCommand(d).display] });
    }
    const pools = await createPools(
      rb,
      i,
      onHost,
      runId,
      resolved.map((r, k) => ({ vdev: r.stable, maxBytes: spares[k].bytes })),
      'partition',
    );
    const installEvents = ev ? eventLines(ev) : [];
    return {
      machine: { systemId: sid, hostname: m0.hostname, status: rb.planning ? m0.status : 'Deployed' },
      strategy: i.strategy,
      outcome: rb.planning ? 'planned' : deployed && partitionsMatch ? (pools.every((p) => !p.createdByThisRun) ? 'already-in-target-state' : 'repartitioned') : 'repartitioned',
      layout: layout.json,
      partitions: resolved.map((r, k) => ({
        name: `${disk.name}-part${spares[k].index}`,
        bytes: rb.planning ? spares[k].bytes : r.size,
        maasPath: r.dname,
        stablePath: r.stable,
        pool: i.pools[k].name,
      })),
      pools,
      evidence: { events: installEvents, scriptOutput: ev?.results.find((r) => r.name === i.scriptName)?.stdoutTail ?? '' },
    };
  });
}

type Acts = typeof activities;

async function commissionUntilApplied(
  rb: Runbook<MaasRepartitionInput>,
  i: MaasRepartitionInput,
  maas: Acts,
  m0: MachineView,
  layout: ComputedLayout,
  waitMs: number,
  pollMs: number,
): Promise<CommissioningEvidence | null> {
  const sid = m0.systemId;
  let previousSet = m0.commissioningSet;
  let since = m0.lastEventId;
  const verdicts: Verdict[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    const done = await rb.mutate({
      name: `commission-${attempt}`,
      description: `commission ${m0.hostname} with only ${i.scriptName} and no tests; wait for the end of Commissioning`,
      plan: () => [displayCall(i.maas, calls.commission(sid, i.scriptName))],
      run: () => maas.maasCommission(i.maas, sid, i.disk, i.scriptName, previousSet, waitMs, pollMs),
      summarize: (m) => m.status,
      settle: {
        name: `abort-commission-${attempt}`,
        description: 'abort commissioning if MAAS is still at it (the run was cancelled or the wait failed)',
        plan: () => [displayCall(i.maas, calls.abort(sid, 'maasRepartition cancelled'))],
        run: () => maas.maasAbortIfRunning(i.maas, sid, 'Commissioning', 'maasRepartition cancelled'),
      },
    });
    if (done === undefined) return null; // plan mode
    const ev = await rb.inspect({
      name: `check-commissioning-${attempt}`,
      description: 'new result set all passed, no "Cannot apply custom layout", block devices as requested',
      run: () => maas.maasEvidence(i.maas, sid, i.disk, 'commissioning', since),
      summarize: (e) => `set ${String(e.setId)} ${e.setStatus}; ${e.events.length} events; ${e.machine.disk?.partitions.length ?? 0} partitions`,
    });
    const verdict = judgeCommissioning(ev, previousSet, layout, i.scriptName);
    if (verdict.ok) return ev;
    verdicts.push(verdict);
    previousSet = ev.setId ?? previousSet;
    since = ev.machine.lastEventId;
    if (attempt === 2) {
      const broken = await markBroken(rb, i, maas, sid, `maasRepartition: commissioning with ${i.scriptName} failed twice: ${verdicts.at(-1)!.problems[0]}`);
      fail(failureReport(`commissioning ${m0.hostname} with the custom layout failed twice; mark-broken: ${broken}`, verdicts, ev, i.scriptName), 'MaasCommissioningFailed');
    }
  }
  return null;
}

async function deployUntilDone(
  rb: Runbook<MaasRepartitionInput>,
  i: MaasRepartitionInput,
  maas: Acts,
  onHost: Acts,
  m0: MachineView,
  layout: ComputedLayout,
  sinceEventId: number,
  waitMs: number,
  pollMs: number,
): Promise<void> {
  const sid = m0.systemId;
  let previousSet = m0.installationSet;
  let since = sinceEventId;
  const problems: string[] = [];
  const events: string[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (attempt === 2) {
      // From Failed deployment MAAS deploys only after a release (already approved: past the point of no return).
      await rb.mutate({
        name: 'release-failed-deployment',
        description: `release ${m0.hostname} after its failed deployment, to deploy again`,
        plan: () => [displayCall(i.maas, calls.release(sid, 'maasRepartition: redeploy'))],
        run: () => maas.maasRelease(i.maas, sid, i.disk, 'maasRepartition: redeploy', waitMs, pollMs),
      });
    }
    const done = await rb.mutate({
      name: `deploy-${attempt}`,
      description: `deploy ${i.distroSeries} on ${m0.hostname} and wait for the end of Deploying`,
      plan: () => [displayCall(i.maas, calls.deploy(sid, i.distroSeries))],
      run: () => maas.maasDeploy(i.maas, sid, i.disk, i.distroSeries, previousSet, waitMs, pollMs),
      summarize: (m) => m.status,
      settle: {
        name: `abort-deploy-${attempt}`,
        description: 'abort deploying if MAAS is still at it (the run was cancelled or the wait failed)',
        plan: () => [displayCall(i.maas, calls.abort(sid, 'maasRepartition cancelled'))],
        run: () => maas.maasAbortIfRunning(i.maas, sid, 'Deploying', 'maasRepartition cancelled'),
      },
    });
    if (done === undefined) {
      rb.audit.planned.push({ step: 'cloud-init', host: i.host, description: 'read-only: wait for cloud-init after Deployed', commands: [cloudInitWaitCommand().display] });
      return; // plan mode
    }
    if (done.status === 'Deployed') {
      await rb.inspect({
        name: 'cloud-init',
        host: i.host,
        description: 'Deployed is not usable: wait for cloud-init status --wait',
        run: () => onHost.cloudInitWait(i.host, waitMs),
        summarize: (s) => `cloud-init ${s}`,
      });
      const after = await rb.inspect({
        name: 'check-deployed-layout',
        description: 'block devices after deploy as requested',
        run: () => maas.maasInspectMachine(i.maas, sid, i.disk),
        summarize: (m) => `${m.disk?.partitions.length ?? 0} partitions`,
      });
      const mismatch = layoutMismatches(after.disk, layout);
      if (mismatch.length) fail(`after deploy, ${m0.hostname}'s block devices do not match the layout: ${mismatch.join('; ')}`, 'LayoutLost');
      return;
    }
    const log = await rb.inspect({
      name: `install-log-${attempt}`,
      description: 'the installation (curtin) log of the failed deployment',
      run: () => maas.maasInstallLog(i.maas, sid),
      summarize: (l) => l.trim().split('\n').at(-1) ?? '',
    });
    problems.push(`attempt ${attempt}: ${done.status}${done.errorDescription ? ` (${done.errorDescription})` : ''}; install log tail:\n${log.slice(-800)}`);
    // What MAAS logged since the deploy began: the failure names these events.
    const after = await rb.inspect({
      name: `reread-${attempt}`,
      description: 'the machine, its installation result set and the MAAS events of this deployment',
      run: () => maas.maasEvidence(i.maas, sid, i.disk, 'installation', since),
      summarize: (e) => `${e.machine.status}; ${e.events.length} events`,
    });
    events.push(...eventLines(after));
    previousSet = after.machine.installationSet;
    since = after.machine.lastEventId;
    if (done.status !== 'Failed deployment' && done.status !== 'Allocated') break;
  }
  const broken = await markBroken(rb, i, maas, sid, `maasRepartition: deployment failed twice: ${problems[0]?.split('\n')[0] ?? ''}`);
  fail(`deploying ${m0.hostname} failed twice; mark-broken: ${broken}\n${problems.join('\n')}\nMAAS events:\n${events.map((l) => `  ${l}`).join('\n')}`, 'MaasDeploymentFailed');
}

async function markBroken(rb: Runbook<MaasRepartitionInput>, i: MaasRepartitionInput, maas: Acts, sid: string, reason: string): Promise<string> {
  const comment = reason.slice(0, 250);
  const outcome = await rb.mutate({
    name: 'mark-broken',
    description: 'mark the machine broken (not released back into the pool)',
    plan: () => [displayCall(i.maas, calls.markBroken(sid, comment))],
    run: () => maas.maasMarkBroken(i.maas, sid, comment),
    summarize: (s) => s,
  });
  return outcome ?? 'planned';
}

async function createPools(
  rb: Runbook<MaasRepartitionInput>,
  i: MaasRepartitionInput,
  onHost: Acts,
  runId: string,
  vdevs: Array<{ vdev: string; maxBytes: number }>,
  kind: 'partition' | 'file',
): Promise<MaasRepartitionResult['pools']> {
  const out: MaasRepartitionResult['pools'] = [];
  const fileBytes = roundDown4MiB(sizeBytes(i.loopFiles.size));
  for (const [k, p] of i.pools.entries()) {
    const spec: PoolSpec = { pool: p.name, mountpoint: p.mountpoint, vdev: vdevs[k].vdev, ashift: i.poolOptions.ashift, atime: i.poolOptions.atime };
    // What the step's verify read (health, size, mountpoint) is also what the result reports.
    let facts: PoolFacts | undefined;
    const created = await rb.mutate({
      name: `create-pool-${k + 1}`,
      host: i.host,
      description: `zpool create ${p.name} on ${spec.vdev} (ashift=${spec.ashift}, atime=${spec.atime}, mountpoint ${p.mountpoint})`,
      plan: () => [(kind === 'file' ? createFilePoolCommand(spec, fileBytes, runId) : createPoolCommand(spec, runId)).display],
      run: () => onHost.createPool(i.host, spec, runId, kind, fileBytes),
      verify: async (c) => {
        const read = await onHost.verifyPool(i.host, c.pool);
        facts = read.value;
        const problems = poolProblems(read.value, p.mountpoint, vdevs[k].maxBytes, i.poolOptions.atime);
        return { value: { ok: problems.length === 0, detail: problems.join('; ') || 'ONLINE' }, commands: read.commands };
      },
      summarize: (c) => (c.ours ? 'created' : 'already there'),
      compensate: (c) =>
        c.ours
          ? {
              description: `zpool destroy ${p.name} (created by this run)${kind === 'file' ? ` and remove ${spec.vdev}` : ''}`,
              run: () => onHost.destroyPool(i.host, p.name, runId, kind === 'file' ? spec.vdev : undefined),
            }
          : undefined,
      // A create cut short (cancelled, or failed after its retries) may still have made the pool,
      // and no compensation is registered for a step that did not complete: destroy it if it carries
      // this run's mark (a pool or file the run did not make is never touched).
      settle: {
        name: `settle-create-pool-${k + 1}`,
        host: i.host,
        description: `the create was cut short and may have landed: zpool destroy ${p.name} if this run made it${kind === 'file' ? `, and remove ${spec.vdev}` : ''}`,
        plan: () => [(kind === 'file' ? destroyFilePoolCommand(p.name, spec.vdev, runId) : destroyOwnedPoolCommand(p.name, runId)).display],
        run: () => onHost.destroyPool(i.host, p.name, runId, kind === 'file' ? spec.vdev : undefined),
      },
    });
    if (created === undefined) {
      if (rb.planning) rb.audit.planned.at(-1)!.commands.push(`# undo: ${(kind === 'file' ? destroyFilePoolCommand(p.name, spec.vdev, runId) : destroyOwnedPoolCommand(p.name, runId)).display}`);
      continue;
    }
    const f = facts!; // set by the verify that let the step complete
    out.push({ name: p.name, vdev: spec.vdev, health: f.health, mountpoint: f.mountpoint, bytes: f.available + f.used, createdByThisRun: created.ours });
  }
  return out;
}

function poolProblems(f: PoolFacts, mountpoint: string, maxBytes: number, atime: string): string[] {
  const problems: string[] = [];
  if (f.health !== 'ONLINE') problems.push(`health ${f.health}`);
  if (f.mountpoint !== mountpoint || f.mounted !== 'yes') problems.push(`mountpoint ${f.mountpoint} (mounted ${f.mounted})`);
  if (f.available + f.used > maxBytes) problems.push(`size ${f.available + f.used} exceeds its vdev (${maxBytes})`);
  if (f.atime !== atime) problems.push(`atime ${f.atime}`);
  return problems;
}

/** strategy loop-files: pools on sparse files on the deployed host (file vdevs, not losetup devices). */
async function loopFiles(rb: Runbook<MaasRepartitionInput>, i: MaasRepartitionInput, m0: MachineView, deployed: boolean, onHost: Acts, runId: string): Promise<MaasRepartitionResult> {
  if (!deployed) fail(`strategy loop-files needs a deployed machine; ${m0.hostname} is ${m0.status} in MAAS`, 'NotDeployed');
  const bytes = roundDown4MiB(sizeBytes(i.loopFiles.size));
  if (bytes < 64 * 1024 * 1024) fail(`loopFiles.size ${i.loopFiles.size} is under ZFS's 64 MiB minimum for a vdev`, 'FileTooSmall');
  const files = i.pools.map((p) => `${i.loopFiles.dir}/${p.name}.img`);
  const pools = await createPools(
    rb,
    i,
    onHost,
    runId,
    files.map((f) => ({ vdev: f, maxBytes: bytes })),
    'file',
  );
  return {
    machine: { systemId: m0.systemId, hostname: m0.hostname, status: m0.status },
    strategy: 'loop-files',
    outcome: rb.planning ? 'planned' : 'pools-on-files',
    partitions: [],
    pools,
    evidence: { events: [], scriptOutput: '' },
  };
}
