import { ApplicationFailure, uuid4, workflowInfo } from '@temporalio/workflow';
import type * as propolis from '../activities/propolis';
import { reserveGenCommand } from '../activities/propolis/commands';
import { backendId, callLine, migrationEnsureRequest, specEnsureRequest, vcrRequestJson, type VolumeRef } from '../activities/propolis/requests';
import type { MigrationFollow, ServerInspection } from '../activities/propolis/activities';
import type { RegionsInspection } from '../activities/propolis/regions';
import type { GuestReport } from '../activities/propolis/serial';
import type { CommonInput } from '../common/input';
import { liveMigrateDefinition } from '../runbooks/liveMigrate/definition';
import { regionDownstairs, type LiveMigrateInput } from '../runbooks/liveMigrate/schema';
import { Runbook, type RunbookResult } from './engine/runbook';
import { durationMs } from './replication/duration';

// liveMigrate (seed 004): boot a VM from three Crucible regions on a source propolis-server, then
// live-migrate it to a destination. What the seed did by hand, with what oxide-sagas.md says the
// control plane does: gens come from a ledger on the storage host, each one greater than every gen
// seen (the regions' `Max gen`, the gen the downstairs hold active, the source's VCR, the ledger)
// and recorded there durably before any server sees it, never handed out twice; the migration waits
// for approval; its outcome is decided from what both servers report, not assumed. See
// runbooks/liveMigrate/README.md for every step, undo and failure.

export interface GenRecord {
  gen: number;
  purpose: string;
  server: string | null;
  at: string | null;
}

/** The side whose gen all three downstairs hold active, or none (a split, or nobody holds them). */
export type DiskOwner = 'source' | 'destination' | 'none';

export interface LiveMigrateResult {
  vm: string;
  outcome: 'migrated' | 'recovered' | 'planned';
  /** The server the VM runs on at the end, and its instance id there. */
  runsOn: string | null;
  instanceId: string | null;
  volume: VolumeRef | null;
  /** Every gen seen before this run, and every gen this run handed out, in order. */
  gens: { seen: { dumpMaxGen: number; activeOnDownstairs: Array<number | null>; sourceVcrGen: number | null; ledgerMax: number }; history: GenRecord[] };
  migration: null | { id: string; outcome: MigrationFollow['outcome']; source: MigrationFollow['source']; destination: MigrationFollow['destination']; totalMs: number; detail: string };
  /** Downtime as the guest saw it: the gap in its heartbeat across the handover (ms). */
  guestDowntimeMs: number | null;
  guest: null | { heartbeat: { first: number; last: number }; journal: string | null; image: string | null; advancing: boolean };
  /**
   * After a failure past the destination's activation: why, which side owned the disk (from the gen
   * each downstairs held active), where the VM was restarted and with which gen.
   */
  recovery: null | { reason: string; diskOwner: DiskOwner; holders: Array<{ target: string; activeGen: number | null }>; on: string; gen: number };
}

export async function liveMigrate(input: unknown): Promise<RunbookResult<LiveMigrateResult>> {
  return Runbook.run(liveMigrateDefinition, input, async (rbTyped, i: LiveMigrateInput) => {
    const rb = rbTyped as unknown as Runbook<CommonInput>;
    // A short heartbeat timeout: an activity lost with its worker is retried within seconds (every
    // activity heartbeats at least once a second, and each is idempotent).
    const acts = (host: string) => rb.on<typeof propolis>(host, { startToCloseTimeout: '15 minutes', heartbeatTimeout: '3 seconds' });
    // Read-only looks are retried sooner still: a spurious timeout of one only repeats a read.
    const looks = (host: string) => rb.on<typeof propolis>(host, { startToCloseTimeout: '15 minutes', heartbeatTimeout: '2 seconds' });
    // Quick calls to a server: retried soon (a lost activity, a server restarting).
    const quick = { maximumAttempts: 3, initialIntervalMs: 250 };
    const storage = i.regions.host;
    const backend = backendId(i.disk);
    const port = i.port;
    const runKey = `${workflowInfo().workflowId}/${workflowInfo().runId}`;
    const history: GenRecord[] = [];
    const downstairs = regionDownstairs(i.regions);
    const regionDirs = downstairs.map((d) => d.dir);

    // 1. Inspect both servers and the three regions.
    const inspectServer = (host: string, role: string) =>
      rb.inspect({
        name: `inspect-${role}`,
        host,
        description: `is propolis-server on ${host} reachable, does it speak API 5.0.0, what instance does it hold`,
        retry: quick,
        run: () => looks(host).propolisInspectServer(host, port, backend),
        summarize: (s: ServerInspection) => s.detail,
      });
    const src = await inspectServer(i.source, 'source');
    const dst = await inspectServer(i.destination, 'destination');
    const regions = await rb.inspect({
      name: 'inspect-regions',
      host: storage,
      description: `geometry (region.json), Max gen (dump) and serving state of the three regions; the volume's gen ledger`,
      retry: quick,
      run: () => looks(storage).crucibleInspectRegions(storage, downstairs, i.volumeId ?? null),
      summarize: (r: RegionsInspection) =>
        `${r.geometry.blockSize} B blocks, ${r.geometry.blocksPerExtent} per extent, ${r.geometry.extentCount} extents; Max gen ${r.maxGen}; ${r.regions.filter((x) => x.serving).length}/3 serving; ledger ${r.ledger.length ? `up to ${Math.max(...r.ledger.map((l) => l.gen))}` : 'empty'}`,
    });

    const refuse = (msg: string): never => {
      throw ApplicationFailure.nonRetryable(msg, 'LiveMigrateRefused');
    };
    for (const s of [src, dst]) if (!s.apiOk) refuse(`${s.host}: propolis-server ${s.detail}; this runbook speaks API 5.0.0 (upgrade the server)`);
    const notServing = regions.regions.filter((r) => !r.serving);
    if (notServing.length) refuse(`the downstairs of ${notServing.map((r) => `${r.dir} (port ${r.port}: ${r.detail})`).join(', ')} on ${storage} do not serve their region; start them first`);
    const volume: VolumeRef = { id: regions.volumeId, ...regions.geometry, targets: regions.regions.map((r) => r.target) };

    // The source may already run this VM (a migration back); anything else on either server is refused.
    let adopted = false;
    if (src.instance && src.instance.state !== 'Destroyed') {
      const same = src.instance.name === i.vm.name && src.instance.disk && src.instance.disk.targets.join() === volume.targets.join();
      if (!same || src.instance.state !== 'Running') {
        refuse(
          `${i.source} holds instance ${src.instance.name} (${src.instance.id}, ${src.instance.state})${src.instance.disk ? ` on ${src.instance.disk.targets.join(' ')}` : ''}, not VM ${i.vm.name} running on these regions; stop it or choose another source`,
        );
      }
      adopted = true;
    }
    if (dst.instance && dst.instance.state !== 'Destroyed')
      refuse(
        `${i.destination} already holds instance ${dst.instance.name} (${dst.instance.id}, ${dst.instance.state}); a migration target must be an empty server: stop that instance or choose another destination`,
      );

    // 2. The gen ledger: greater than every gen seen; a supplied gen that is not is refused here,
    // before any server or region is touched.
    const ledgerMax = Math.max(0, ...regions.ledger.map((l) => l.gen));
    const active = regions.regions.map((r) => r.activeGen);
    const sourceVcrGen = src.instance?.disk?.gen ?? null;
    const seen = Math.max(regions.maxGen, ledgerMax, sourceVcrGen ?? 0, ...active.map((g) => g ?? 0));
    const gensSeen = { dumpMaxGen: regions.maxGen, activeOnDownstairs: active, sourceVcrGen, ledgerMax };
    if (i.gen !== undefined && i.gen <= seen) {
      refuse(
        `gen ${i.gen} is too low: it must be above every gen seen (dump Max gen ${regions.maxGen}, active on the downstairs ${active.map((g) => g ?? '-').join('/')}, the source's VCR ${sourceVcrGen ?? '-'}, the ledger ${ledgerMax}); use at least ${seen + 1}, or leave gen out`,
      );
    }
    if (adopted && i.gen !== undefined) refuse(`gen applies only to a VM this run starts; ${i.vm.name} already runs on ${i.source} with gen ${sourceVcrGen}`);

    /** Reserve (durably, before use) the next gen for `purpose`; in plan mode the gen it would take. */
    let highest = seen;
    const reserve = async (purpose: string, exact: number | null): Promise<number> => {
      const floor = exact ?? highest + 1;
      const key = `${runKey}/${purpose}`;
      const got = await rb.mutate({
        name: `reserve-gen-${purpose}`,
        host: storage,
        description: `record gen ${exact ?? `>= ${floor}`} for ${purpose} in volume ${volume.id}'s ledger (beside each region on ${storage}, fsync'd) before any server uses it`,
        retry: { maximumAttempts: 5, initialIntervalMs: 250 },
        plan: () => [reserveGenCommand(regionDirs, volume.id, key, purpose, floor, exact !== null).display],
        run: () => acts(storage).crucibleReserveGen(storage, regionDirs, volume.id, key, purpose, floor, exact !== null),
        summarize: (e) => `gen ${e.gen}`,
      });
      const gen = got?.gen ?? floor;
      highest = Math.max(highest, gen);
      history.push({ gen, purpose, server: null, at: got?.at ?? null });
      return gen;
    };
    const waitState = (name: string, host: string, want: string[], fail: string[], timeoutMs: number) =>
      rb.inspect({
        name,
        host,
        description: `follow state-monitor on ${host} until ${want.join('/')}`,
        retry: quick,
        run: () => looks(host).propolisWaitForState(host, port, want, fail, timeoutMs),
        summarize: (s) => `${s.state} at gen ${s.gen}`,
      });
    const guestReport = (name: string, host: string, awaitLine: string | null = null) =>
      rb.inspect({
        name,
        host,
        description: `the guest's console on ${host}: booted from the image, heartbeat advancing, journal intact`,
        retry: quick,
        run: () => looks(host).propolisGuestReport(host, port, 600, awaitLine),
        summarize: (g: GuestReport & { advancing: boolean }) =>
          `heartbeat ${g.heartbeats.first}..${g.heartbeats.last} (${g.advancing ? 'advancing' : 'NOT advancing'}), gens ${g.gens.join('->')}${g.imageChecks.length ? `; image ${g.imageChecks[g.imageChecks.length - 1]}` : ''}${g.journalChecks.length ? `; journal ${g.journalChecks[g.journalChecks.length - 1]}` : ''}`,
      });
    const startTimeout = durationMs(i.startTimeout);

    /** Create the VM from a spec on `host` with `gen`, run it, wait for Running, check its guest. */
    const startVm = async (host: string, id: string, gen: number, tag: string): Promise<(GuestReport & { advancing: boolean }) | null> => {
      const request = specEnsureRequest(id, i.vm, i.disk, vcrRequestJson(volume, gen));
      history[history.length - 1].server = host;
      await rb.mutate({
        name: `create-vm${tag}`,
        host,
        description: `PUT /instance on ${host}: VM ${i.vm.name} (${id}), ${i.vm.vcpus} vCPUs, ${i.vm.memoryMiB} MiB, ${i.disk.name} at PCI 0.${16 + i.disk.slot}.0 on Crucible volume ${volume.id} with gen ${gen}`,
        retry: quick,
        plan: () => [callLine(host, port, 'PUT', '/instance', request)],
        run: () => acts(host).propolisEnsure(host, port, request),
        summarize: (r) => (r.created ? 'created' : `already there (${r.state})`),
        compensate: () => ({ description: `stop VM ${i.vm.name} (${id}) on ${host}`, run: () => acts(host).propolisSetState(host, port, 'Stop', id) }),
      });
      await rb.mutate({
        name: `run-vm${tag}`,
        host,
        description: `PUT /instance/state "Run" on ${host}`,
        retry: quick,
        plan: () => [callLine(host, port, 'PUT', '/instance/state', 'Run')],
        run: () => acts(host).propolisSetState(host, port, 'Run', id),
      });
      if (rb.planning) return null;
      await waitState(`wait-running${tag}`, host, ['Running'], ['Failed', 'Destroyed'], startTimeout);
      const g = await guestReport(`check-guest${tag}`, host);
      // Booted from the image: its filesystem recognised AND every file its manifest lists read back
      // intact through the volume (not only a superblock).
      const image = g.imageChecks[g.imageChecks.length - 1] ?? null;
      const problems = [
        !g.booted && "the guest did not recognise the image's filesystem",
        !image && "the guest printed no check of the image's files",
        image && !/ intact$/.test(image) && `the image's files are not intact (${image})`,
        !g.advancing && `the heartbeat does not advance${g.ioErrors.length ? ` (${g.ioErrors[g.ioErrors.length - 1]})` : ''}`,
      ].filter(Boolean);
      if (problems.length) throw ApplicationFailure.nonRetryable(`${host}: ${problems.join('; ')}`, 'GuestUnhealthy');
      return g;
    };

    // 3. Create and run the VM on the source (unless it already runs there).
    const vmId = adopted ? src.instance!.id : (i.vm.id ?? uuid4());
    let sourceGen: number;
    if (adopted) {
      sourceGen = sourceVcrGen!;
      history.push({ gen: sourceGen, purpose: 'running before this run', server: i.source, at: null });
      await guestReport('check-guest', i.source);
    } else {
      sourceGen = await reserve('start', i.gen ?? null);
      await startVm(i.source, vmId, sourceGen, '');
    }

    // 4 + 5. The migration, after approval: the destination pulls the source, with the disk's VCR
    // carrying a new gen (so its activation takes the volume over and fences the source).
    const migrationId = uuid4();
    const dstId = uuid4();
    const migGen = await reserve('migrate', null);
    history[history.length - 1].server = i.destination;
    const srcAddr = `${src.address}:${port}`;
    const migRequest = migrationEnsureRequest(dstId, i.vm, i.disk, migrationId, srcAddr, vcrRequestJson(volume, migGen));
    const migrationTimeout = durationMs(i.migrationTimeout);
    await rb.mutate({
      name: 'migrate',
      host: i.destination,
      description: `migrate VM ${i.vm.name} from ${i.source} to ${i.destination} (migration ${migrationId}): PUT /instance MigrationTarget on ${i.destination} with ${backend} replaced by the VCR at gen ${migGen}; a started migration cannot be undone`,
      approval: { reason: `live-migrate ${i.vm.name} from ${i.source} (gen ${sourceGen}) to ${i.destination} (gen ${migGen})` },
      retry: quick,
      plan: () => [
        callLine(i.destination, port, 'PUT', '/instance', migRequest),
        `GET http://${i.source}:${port}/instance/migration-status and GET http://${i.destination}:${port}/instance/migration-status every 100 ms until both report Finish (or one Error)`,
        `GET http://${i.destination}:${port}/instance/state-monitor until Running; GET http://${i.source}:${port}/instance/state-monitor until Destroyed`,
      ],
      run: () => acts(i.destination).propolisEnsure(i.destination, port, migRequest),
      compensate: () => ({
        description: `wait for migration ${migrationId} to end; if it failed, tear down the destination's instance (the source resumes)`,
        run: () => acts(i.destination).propolisSettleMigration(i.source, i.destination, port, migrationId, dstId, migrationTimeout),
      }),
    });
    if (rb.planning) {
      return { vm: i.vm.name, outcome: 'planned', runsOn: null, instanceId: null, volume, gens: { seen: gensSeen, history }, migration: null, guestDowntimeMs: null, guest: null, recovery: null };
    }

    const follow = await rb.inspect({
      name: 'follow-migration',
      host: i.destination,
      description: `both sides' migration status, phase by phase (heartbeats name the phases)`,
      retry: { maximumAttempts: 6, initialIntervalMs: 250 },
      run: () => looks(i.destination).propolisFollowMigration(i.source, i.destination, port, migrationId, migrationTimeout),
      summarize: (f: MigrationFollow) => `${f.outcome}: source ${f.source.map((p) => p.phase).join('>')}; destination ${f.destination.map((p) => p.phase).join('>')}`,
    });
    const migration = { id: migrationId, outcome: follow.outcome, source: follow.source, destination: follow.destination, totalMs: follow.totalMs, detail: follow.detail };

    // 6. Decide from what the servers report.
    let destinationRunning = false;
    let hangDetail = '';
    if (follow.outcome === 'finished') {
      try {
        await waitState('wait-destination-running', i.destination, ['Running'], ['Failed', 'Destroyed'], startTimeout);
        destinationRunning = true;
      } catch (err) {
        hangDetail = `the migration reports Finish on both sides but ${i.destination} did not reach Running: ${(err as Error).message}`;
      }
    }
    if (destinationRunning) {
      await waitState('wait-source-destroyed', i.source, ['Destroyed'], [], 30_000);
      rb.commit(`VM ${i.vm.name} runs on ${i.destination}; the source's instance is gone`);
      // The guest checks the image's files through its new upstairs once it runs again: wait for that.
      const g = await guestReport('check-guest-destination', i.destination, `image check (after migration ${migrationId})`);
      const handover = g.handovers.find((h) => h.toGen === migGen);
      const journalAfter = g.journalChecks.filter((c) => c.startsWith(`after migration ${migrationId}`)).pop() ?? null;
      const imageAfter = g.imageChecks.filter((c) => c.startsWith(`after migration ${migrationId}`)).pop() ?? null;
      const problems = [
        !g.advancing && 'the heartbeat does not advance',
        g.gaps.length > 0 && `the heartbeat skipped before seq ${g.gaps.join(', ')}`,
        !handover && `no heartbeat crossed from gen ${sourceGen} to ${migGen}`,
        !journalAfter && 'the guest printed no journal check after the migration',
        journalAfter && !/readable and intact/.test(journalAfter) && `journal: ${journalAfter}`,
        !imageAfter && "the guest printed no check of the image's files after the migration",
        imageAfter && !/ intact$/.test(imageAfter) && `image: ${imageAfter}`,
      ].filter(Boolean);
      if (problems.length) throw ApplicationFailure.nonRetryable(`VM ${i.vm.name} runs on ${i.destination}, but its guest is not healthy: ${problems.join('; ')}`, 'GuestUnhealthy');
      return {
        vm: i.vm.name,
        outcome: 'migrated',
        runsOn: i.destination,
        instanceId: dstId,
        volume,
        gens: { seen: gensSeen, history },
        migration,
        guestDowntimeMs: handover?.gapMs ?? null,
        guest: { heartbeat: { first: g.heartbeats.first, last: g.heartbeats.last }, journal: journalAfter, image: imageAfter, advancing: g.advancing },
        recovery: null,
      };
    }

    // Not running on the destination. Did its upstairs ever take the volume (the source is fenced then)?
    const dstDisk = await rb.inspect({
      name: 'destination-disk-status',
      host: i.destination,
      description: `does ${i.destination} hold the volume active (GET /instance/disk/${backend}/status)?`,
      retry: quick,
      run: () => looks(i.destination).propolisDiskActive(i.destination, port, backend),
      summarize: (d) => d.detail,
    });
    // Who owns the disk now, as the downstairs themselves say: the gen each holds active.
    const holders = await rb.inspect({
      name: 'disk-holders',
      host: storage,
      description: `which gen holds each of the three downstairs active (region-info): the source's ${sourceGen} or the destination's ${migGen}`,
      retry: quick,
      run: () =>
        looks(storage).crucibleDiskHolders(
          storage,
          downstairs.map((d) => d.port),
        ),
      summarize: (h) => h.map((x) => `${x.target}: ${x.activeGen ?? 'none'}`).join(', '),
    });
    const activeGens = holders.map((h) => h.activeGen);
    const diskOwner: DiskOwner = activeGens.every((g) => g === migGen) ? 'destination' : activeGens.every((g) => g === sourceGen) ? 'source' : 'none';
    const ownerText =
      diskOwner === 'destination'
        ? `${i.destination} owns the disk (all three downstairs hold its gen ${migGen} active)`
        : diskOwner === 'source'
          ? `${i.source} owns the disk (all three downstairs hold its gen ${sourceGen} active)`
          : `neither side owns the disk (the downstairs hold ${holders.map((h) => `${h.target}: gen ${h.activeGen ?? 'none'}`).join(', ')}; the source's gen is ${sourceGen}, the destination's ${migGen})`;
    const srcNow = await inspectServer(i.source, 'source-after');
    if (follow.outcome !== 'finished' && !dstDisk.active && !activeGens.includes(migGen)) {
      // Before the destination activated: the source resumes; the destination is torn down.
      await waitState('wait-source-resumed', i.source, ['Running'], ['Failed', 'Destroyed'], startTimeout);
      await rb.mutate({
        name: 'teardown-destination',
        host: i.destination,
        description: `stop the destination's instance ${dstId} (if it still exists)`,
        retry: quick,
        plan: () => [callLine(i.destination, port, 'PUT', '/instance/state', 'Stop')],
        run: () => acts(i.destination).propolisSetState(i.destination, port, 'Stop', dstId),
      });
      // The VM is back where it was and keeps running: the failure must not undo its creation.
      rb.commit(`VM ${i.vm.name} runs on ${i.source} again; it stays running`);
      throw ApplicationFailure.nonRetryable(
        `migration ${migrationId} failed in phase ${follow.reached ?? 'Sync'} (${follow.detail}); the destination never activated the disk, so VM ${i.vm.name} runs on ${i.source} again with gen ${sourceGen}; ${ownerText}; the destination's instance was torn down; gen ${migGen} stays used`,
        'MigrationFailed',
      );
    }

    // After (or while) the destination activated: the source is Destroyed or fenced. Recover, after
    // approval, by stopping both sides and starting the VM on one with a new gen.
    const reason = `${
      hangDetail ||
      `migration ${migrationId} ended ${follow.outcome} in phase ${follow.reached ?? 'Sync'} (${follow.detail}) after the destination took the volume over; the source (${srcNow.instance?.state ?? 'no instance'}) is fenced`
    }; ${ownerText}`;
    const on = i.recoverOn === 'source' ? i.source : i.destination;
    await rb.mutate({
      name: 'recover',
      host: i.destination,
      description: `${reason}. Recovery: stop the destination's instance ${dstId}, then restart VM ${i.vm.name} on ${on} with a new gen`,
      approval: { reason: `no instance of ${i.vm.name} serves its guest; restart it on ${on}` },
      retry: quick,
      plan: () => [callLine(i.destination, port, 'PUT', '/instance/state', 'Stop')],
      run: () => acts(i.destination).propolisSetState(i.destination, port, 'Stop', dstId),
    });
    await waitState('wait-destination-stopped', i.destination, ['Destroyed'], [], 30_000);
    await rb.mutate({
      name: 'stop-fenced-source',
      host: i.source,
      description: `stop the source's instance ${vmId} (fenced or already gone)`,
      retry: quick,
      plan: () => [callLine(i.source, port, 'PUT', '/instance/state', 'Stop')],
      run: () => acts(i.source).propolisSetState(i.source, port, 'Stop', vmId),
    });
    const recGen = await reserve('recover', null);
    const recId = uuid4();
    const g = await startVm(on, recId, recGen, '-recovered');
    rb.commit(`VM ${i.vm.name} restarted on ${on} with gen ${recGen}`);
    return {
      vm: i.vm.name,
      outcome: 'recovered',
      runsOn: on,
      instanceId: recId,
      volume,
      gens: { seen: gensSeen, history },
      migration,
      guestDowntimeMs: g?.handovers.find((h) => h.toGen === recGen)?.gapMs ?? null,
      guest: g
        ? {
            heartbeat: { first: g.heartbeats.first, last: g.heartbeats.last },
            journal: g.journalChecks[g.journalChecks.length - 1] ?? null,
            image: g.imageChecks[g.imageChecks.length - 1] ?? null,
            advancing: g.advancing,
          }
        : null,
      recovery: { reason, diskOwner, holders: holders.map((h) => ({ target: h.target, activeGen: h.activeGen })), on, gen: recGen },
    };
  });
}
