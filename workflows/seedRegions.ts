import { ActivityCancellationType, ApplicationFailure, uuid4 } from '@temporalio/workflow';
import type * as activities from '../activities';
import { crucibleCommands as c, runScript, serviceName, type CreateSpec, type ServiceSpec } from '../activities/crucible/commands';
import { seedRegionsDefinition } from '../runbooks/seedRegions/definition';
import type { SeededRegion, SeedRegionsResult } from '../runbooks/seedRegions/result';
import { Runbook, type RunbookResult } from './engine/runbook';
import { decideSeeding, type RegionDecision } from './seedRegions/decide';

/**
 * seedRegions: three Crucible regions seeded from an OS image (seeds 003/004), verified against the
 * image, started under runit, and the VCR's geometry and targets as the result. Steps:
 *   inspect -> [replace-foreign-regions, approval] -> register-undo -> create-regions ->
 *   verify-regions -> start-downstairs.
 * The undo that removes the regions is registered BEFORE the create (register-undo), as Omicron's
 * disk-create saga does, because a create can half-succeed (a failed import leaves a directory) and
 * a step's own compensation runs only after it succeeds. runbooks/seedRegions/README.md tells it
 * for operators.
 */

export type { SeedRegionsResult } from '../runbooks/seedRegions/result';

type Acts = typeof activities;

const ACTION_NAME: Record<RegionDecision['action']['kind'], SeededRegion['action']> = {
  create: 'created',
  'recreate-partial': 'recreated-partial',
  keep: 'kept',
  'replace-foreign': 'replaced-foreign',
};

export async function seedRegions(input: unknown): Promise<RunbookResult<SeedRegionsResult | { blockers: string[]; planned: true }>> {
  return Runbook.run(seedRegionsDefinition, input, async (rb, i) => {
    const { host, address } = i;
    const acts = rb.on<Acts>(host, { startToCloseTimeout: '2 hours', heartbeatTimeout: '5 seconds' });
    // A cancelled create must have stopped on the host before the undo removes its directory, or the
    // import could go on writing after the undo: wait for the activity to confirm its cancellation.
    const createActs = rb.on<Acts>(host, { startToCloseTimeout: '2 hours', heartbeatTimeout: '5 seconds', cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED });
    const svdirOf = (port: number) => `${i.serviceDir}/${serviceName(port)}`;
    const targets = i.regions.map((r) => ({ dir: r.dir, port: r.port, svdir: svdirOf(r.port) }));

    // 1. Inspect: the image, each directory, pool, port and service. Everything below is decided from it.
    const facts = await rb.inspect({
      name: 'inspect',
      host,
      description: `the image ${i.image.path}, the three region directories, their pools, ports and services`,
      run: () => acts.inspectSeeding(host, i.image.path, i.blockSize ?? null, address, targets),
      summarize: (f) =>
        `image ${f.image.bytes} bytes sha256 ${f.image.sha256.slice(0, 12)}…${f.image.sectorSize ? ` (GPT, ${f.image.sectorSize}-byte sectors)` : ''}; ${f.regions.map((r) => `${r.dir}: ${r.state.kind}`).join(', ')}`,
    });
    const decision = decideSeeding(i, facts, () => uuid4());
    const g = decision.geometry;
    if (decision.blockers.length) {
      if (rb.planning) return { blockers: decision.blockers, planned: true as const };
      throw ApplicationFailure.nonRetryable(`nothing was changed: ${decision.blockers.join('; ')}`, 'CannotSeed', { blockers: decision.blockers });
    }
    const dsBin = facts.tools.crucibleDownstairs!;
    const toMake = decision.regions.filter((r) => r.action.kind !== 'keep');
    const specs: CreateSpec[] = toMake.map((r) => ({ dir: r.dir, uuid: r.uuid, blockSize: g.blockSize, extentSize: g.extentSize, extentCount: g.extentCount, image: i.image.path }));

    // 2a. Foreign regions (or files) in a target directory: replacing them destroys data. Approval gate; no undo.
    const foreign = decision.regions.flatMap((r) => (r.action.kind === 'replace-foreign' ? [{ dir: r.dir, foundUuid: r.action.foundUuid, why: r.action.why }] : []));
    if (foreign.length) {
      await rb.mutate({
        name: 'replace-foreign-regions',
        host,
        description: `DESTROY what is in ${foreign.map((f) => `${f.dir} (${f.why})`).join('; ')}, to seed the image there`,
        approval: { reason: 'removes regions (or files) this run did not make: their data is lost' },
        plan: () => foreign.map((f) => c.removeDir(f.dir).display),
        run: () =>
          acts.removeForeignRegions(
            host,
            foreign.map(({ dir, foundUuid }) => ({ dir, foundUuid })),
          ),
        summarize: (v) => `removed ${v.join(', ') || 'nothing (already gone)'}`,
      });
    }

    // 2b. The undo of the create, registered before it: removes exactly what this run makes.
    if (toMake.length) {
      await rb.mutate({
        name: 'register-undo',
        host,
        description: `register the undo of create-regions (remove ${toMake.map((r) => r.dir).join(', ')} while they hold this run's regions), then confirm the directories are as inspected`,
        plan: () => [],
        run: () =>
          acts.confirmSeedTargets(
            host,
            toMake.map((r) => ({ dir: r.dir, uuid: r.uuid, allowedUuids: [r.uuid] })),
          ),
        compensate: () => ({
          description: `remove the regions this run made (${toMake.map((r) => `${r.dir} = ${r.uuid}`).join(', ')}); anything else there stays`,
          run: () =>
            acts.removeSeededRegions(
              host,
              toMake.map((r) => ({ dir: r.dir, uuid: r.uuid })),
            ),
        }),
        summarize: (v) => `undo registered for ${v.length} directories`,
      });

      // 2c. Create each region from the image (crucible-downstairs create --import-path).
      await rb.mutate({
        name: 'create-regions',
        host,
        description: `create ${specs.length} region(s) from ${i.image.path}: ${g.blockSize}-byte blocks, ${g.extentSize} blocks per extent, ${g.extentCount} extents`,
        plan: () => specs.map((s) => c.create(s).display),
        run: () => createActs.createRegions(host, specs, facts.image.bytes, facts.image.paddedSha256),
        summarize: (v) => v.map((x) => `${x.dir}: ${x.action}`).join('; '),
        // A failed import is retried: the next attempt finds the partial directory, removes it and creates again.
        retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['ForeignRegion', 'RegionInUse'] },
      });
    }

    const services: ServiceSpec[] = decision.regions.map((r) => ({ svdir: svdirOf(r.port), dir: r.dir, port: r.port, address, uuid: r.uuid }));
    if (rb.planning) {
      await rb.mutate({
        name: 'start-downstairs',
        host,
        description: `run the three downstairs as runit services under ${i.serviceDir} (runsv restarts them if they die)`,
        plan: () => services.flatMap((s) => [c.installService(s.svdir, runScript(dsBin, s)).display, c.startSupervisor(s.svdir).display, c.svUp(s.svdir).display]),
        run: () => Promise.reject(new Error('unreachable in plan mode')),
      });
      return { blockers: [], planned: true as const };
    }

    // 3. Verify each region against the image and the three against each other; read the real geometry back.
    const verified = await rb.inspect({
      name: 'verify-regions',
      host,
      description: `export the image's ${g.imageBlocks} blocks from each region and compare with the image zero-padded to a block; dump the three`,
      run: () =>
        acts.verifyRegions(
          host,
          decision.regions.map((r) => ({ dir: r.dir, uuid: r.uuid })),
          facts.image.bytes,
          facts.image.paddedSha256,
        ),
      summarize: (v) => `${v.block_size} B × ${v.blocks_per_extent} × ${v.extent_count} extents, max gen ${v.maxGen}, all three hold the image`,
    });

    // 4. The three downstairs under runit: restarted if they die, stopped by the undo.
    const started = await rb.mutate({
      name: 'start-downstairs',
      host,
      description: `run the three downstairs as runit services under ${i.serviceDir} (runsv restarts them if they die)`,
      plan: () => services.flatMap((s) => [c.installService(s.svdir, runScript(dsBin, s)).display, c.startSupervisor(s.svdir).display, c.svUp(s.svdir).display]),
      run: () => acts.superviseDownstairs(host, dsBin, services, i.startTimeoutSeconds),
      verify: () => acts.checkDownstairs(host, services),
      compensate: (v) => {
        const changed = v.filter((x) => x.changed).map((x) => x.svdir);
        return changed.length ? { description: `stop and remove the services this run installed: ${changed.join(', ')}`, run: () => acts.removeDownstairsServices(host, changed) } : undefined;
      },
      summarize: (v) => v.map((x) => `${x.port}: pid ${x.pid}${x.changed ? '' : ' (already running)'}`).join('; '),
    });

    return {
      targets: decision.regions.map((r) => `${address}:${r.port}`),
      block_size: verified.block_size,
      blocks_per_extent: verified.blocks_per_extent,
      extent_count: verified.extent_count,
      maxGen: verified.maxGen,
      maxFlush: verified.maxFlush,
      regions: decision.regions.map((r) => ({
        dir: r.dir,
        uuid: r.uuid,
        port: r.port,
        target: `${address}:${r.port}`,
        action: ACTION_NAME[r.action.kind],
        service: started?.find((s) => s.port === r.port)?.svdir ?? svdirOf(r.port),
      })),
      image: { path: facts.image.path, bytes: facts.image.bytes, sha256: facts.image.sha256 },
    };
  });
}
