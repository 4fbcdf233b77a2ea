// Benchmark: a live migration of the lab VM, measured side by side in one run.
//   hand:    the calls propolis-cli makes (seed 004): PUT /instance MigrationTarget on the
//            destination with the VCR's gen bumped by hand, then GET /instance/migration-status on
//            both every 1 s until both say Finish, then GET /instance until the destination runs.
//   runbook: liveMigrate with the migration pre-approved (a worker in this process).
// Each round migrates the same VM one way by hand and back with the runbook, so both see the same
// guest, disk and servers. Reported per side: the guest-visible downtime (the gap in the guest's
// heartbeat across the handover, read from its console) and the total migration time (from the
// destination's ensure to the destination Running: for the runbook, the `migrate` step's start to
// `wait-destination-running`'s end, from its audit).
// Usage: tsx bench/live-migrate.ts   (root; in its own network namespace: /work/bin/isolated;
// starts the dev server if it is down; its own lab folder, taken down at the end). BENCH_ROUNDS (3).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { propolisRequest } from '../activities/propolis/http';
import { instanceProperties, migrationEnsureRequest, specEnsureRequest, vcrRequestJson, type VolumeRef } from '../activities/propolis/requests';
import { parseGuestSerial } from '../activities/propolis/serial';
import { closeSharedPool } from '../activities/ssh/shared-pool';
import { labDown, labUp } from '../lab/lab';
import { scenarioContext } from '../lab/scenario-context';
import { CRUCIBLE_HOST, PORTS, REGION_DIRS } from '../lab/scenarios/crucible';
import { DESTINATION_SLED, seedBootRegions, SOURCE_SLED } from '../lab/scenarios/propolis';
import { ensureTemporalDevServer } from '../lab/temporal-dev-server';
import { connectClient } from '../workers/connection';
import { createRunbooksWorker } from '../workers/runbooks-worker';
import type { RunbookResult } from '../workflows/engine/runbook';
import type { LiveMigrateResult } from '../workflows/liveMigrate';
import { fmtMs, median } from './stats';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const log = (l: string) => process.stderr.write(`${l}\n`);
const PORT = 12400;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const call = (address: string, method: 'GET' | 'PUT', p: string, body?: unknown) => propolisRequest({ address, port: PORT }, method, p, body);

async function state(address: string): Promise<string | null> {
  const r = await call(address, 'GET', '/instance');
  return r.status === 200 ? (r.body as { instance: { state: string } }).instance.state : null;
}

async function serialReport(address: string) {
  const r = await call(address, 'GET', '/instance/serial/history?from_start=0');
  return parseGuestSerial(Buffer.from((r.body as { data: number[] }).data).toString('utf8'));
}

/** The gen the volume holds now (the gen in the last heartbeat). */
async function currentGen(address: string): Promise<number> {
  return (await serialReport(address)).heartbeats.lastGen!;
}

async function handMigration(
  from: { address: string },
  to: { address: string },
  volume: VolumeRef,
  vm: { name: string; vcpus: number; memoryMiB: number },
): Promise<{ downtimeMs: number; totalMs: number }> {
  const gen = (await currentGen(from.address)) + 1; // "increment the generation number" by hand
  const migrationId = randomUUID();
  const t0 = Date.now();
  const put = await call(to.address, 'PUT', '/instance', migrationEnsureRequest(randomUUID(), vm, { name: 'disk0', slot: 1 }, migrationId, `${from.address}:${PORT}`, vcrRequestJson(volume, gen)));
  if (put.status !== 201) throw new Error(`hand: ensure answered ${put.status} ${put.text}`);
  for (;;) {
    const [a, b] = await Promise.all([call(from.address, 'GET', '/instance/migration-status'), call(to.address, 'GET', '/instance/migration-status')]);
    const s = (a.body as { migration_out: { state: string } | null }).migration_out?.state;
    const d = (b.body as { migration_in: { state: string } | null }).migration_in?.state;
    if (s === 'Error' || d === 'Error') throw new Error('hand: migration failed');
    if (s === 'Finish' && d === 'Finish') break;
    await sleep(1000); // propolis-cli migrate polls every second
  }
  while ((await state(to.address)) !== 'Running') await sleep(1000);
  const totalMs = Date.now() - t0;
  await sleep(500);
  const handover = (await serialReport(to.address)).handovers.find((h) => h.toGen === gen)!;
  return { downtimeMs: handover.gapMs, totalMs };
}

async function main(): Promise<void> {
  await ensureTemporalDevServer(log);
  const labDir = mkdtempSync(path.join(os.tmpdir(), 'bench-live-migrate-'));
  process.env.RUNBOOK_LAB_DIR = labDir;
  process.env.RUNBOOK_INVENTORY = path.join(labDir, 'inventory.json');
  process.env.RUNBOOK_ARCHIVE = '0';
  const quiet = () => undefined;
  try {
    await labUp({ scenarios: ['crucible', 'propolis'], log: quiet });
    await seedBootRegions(scenarioContext(CRUCIBLE_HOST.name, quiet));
    const taskQueue = `bench-live-migrate-${randomUUID().slice(0, 8)}`;
    const worker = await createRunbooksWorker({ taskQueue });
    const client = await connectClient();
    const vm = { name: `bench-${randomUUID().slice(0, 6)}`, vcpus: 2, memoryMiB: 1024 };
    const targets = PORTS.map((p) => `${CRUCIBLE_HOST.address}:${p}`);
    const input = (source: string, destination: string) => ({
      source,
      destination,
      vm,
      disk: { name: 'disk0', slot: 1 },
      regions: { host: CRUCIBLE_HOST.name, downstairs: REGION_DIRS.map((dir, i) => ({ dir, port: PORTS[i] })) },
      approve: ['migrate'],
    });
    const hand: Array<{ downtimeMs: number; totalMs: number }> = [];
    const book: Array<{ downtimeMs: number; totalMs: number }> = [];
    await worker.runUntil(async () => {
      // Boot the VM by hand on sled-a (gen above dump's max: 1 on fresh regions).
      const first = await call(SOURCE_SLED.address, 'GET', '/instance');
      if (first.status !== 424) throw new Error('sled-a is not empty');
      const volumeProbe: VolumeRef = { id: randomUUID(), blockSize: 512, blocksPerExtent: 4096, extentCount: 16, targets };
      await call(SOURCE_SLED.address, 'PUT', '/instance', specEnsureRequest(randomUUID(), vm, { name: 'disk0', slot: 1 }, vcrRequestJson(volumeProbe, 1)));
      await call(SOURCE_SLED.address, 'PUT', '/instance/state', 'Run');
      while ((await state(SOURCE_SLED.address)) !== 'Running') await sleep(100);
      await sleep(1000);
      for (let round = 1; round <= ROUNDS; round++) {
        // By hand: sled-a -> sled-b. The volume id must stay the same across the migration.
        hand.push(await handMigration(SOURCE_SLED, DESTINATION_SLED, volumeProbe, vm));
        log(`round ${round}: by hand  downtime ${fmtMs(hand[hand.length - 1].downtimeMs)}, total ${fmtMs(hand[hand.length - 1].totalMs)}`);
        await sleep(1000);
        // Runbook: sled-b -> sled-a (adopts the running VM).
        const handle = await client.workflow.start('liveMigrate', {
          taskQueue,
          workflowId: `bench/liveMigrate/${randomUUID()}`,
          args: [{ ...input(DESTINATION_SLED.name, SOURCE_SLED.name), volumeId: volumeProbe.id }],
        });
        const r = (await handle.result()) as RunbookResult<LiveMigrateResult>;
        const step = (n: string) => r.audit.steps.find((s) => s.name === n)!;
        const totalMs = Date.parse(step('wait-destination-running').endedAt!) - Date.parse(step('migrate').startedAt);
        book.push({ downtimeMs: r.value.guestDowntimeMs!, totalMs });
        log(
          `round ${round}: runbook  downtime ${fmtMs(r.value.guestDowntimeMs!)}, total ${fmtMs(totalMs)} (whole run ${fmtMs(Date.parse(r.audit.endedAt ?? new Date().toISOString()) - Date.parse(r.audit.startedAt))})`,
        );
        await sleep(1000);
      }
    });
    await client.connection.close();
    const m = (xs: Array<{ downtimeMs: number; totalMs: number }>, k: 'downtimeMs' | 'totalMs') => median(xs.map((x) => x[k]));
    console.log(`\nlive migration of a ${vm.memoryMiB} MiB VM, ${ROUNDS} rounds, medians:`);
    console.log(
      `  guest-visible downtime   by hand ${fmtMs(m(hand, 'downtimeMs'))}   runbook ${fmtMs(m(book, 'downtimeMs'))}   runbook/hand ${(m(book, 'downtimeMs') / m(hand, 'downtimeMs')).toFixed(2)}`,
    );
    console.log(`  total migration time     by hand ${fmtMs(m(hand, 'totalMs'))}   runbook ${fmtMs(m(book, 'totalMs'))}   runbook/hand ${(m(book, 'totalMs') / m(hand, 'totalMs')).toFixed(2)}`);
    console.log('  (by hand polls every 1 s as propolis-cli does; the runbook follows both sides every 100 ms and');
    console.log("   waits for the destination Running and the source Destroyed. Downtime is the servers': the gap in the guest's own heartbeat.)");
  } finally {
    closeSharedPool();
    await labDown({ log: quiet }).catch(() => undefined);
    rmSync(labDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
