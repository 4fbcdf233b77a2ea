import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { InstanceSpec, ReplacementComponent } from './api-types';
import { LineChannel } from './channel';
import { Guest, type GuestRam } from './guest';
import { SerialConsole } from './serial';
import { Upstairs } from './upstairs';
import { bootBackend, type Vm } from './vm';

// Live migration between two emulated propolis-servers. The destination, created with
// init MigrationTarget, calls its source's GET /instance/migrate/{id}/start (api-version 1.0.0, as
// propolis's destination does) and upgrades the connection (a websocket in reality; here an
// HTTP/1.1 Upgrade to a stream of JSON lines). Each side publishes the phases in propolis's order:
//   source      Sync RamPush Pause RamPushDirty Device Server Finish
//   destination Sync RamPush RamPushDirty Pause Device RamPull Server Finish
// The guest keeps running on the source through RamPush, pauses, and its RAM (counter, serial
// buffer) goes over; the source halts (Destroyed) once the destination has everything. Only then
// does the destination activate its disk with the new gen from replace_components, which fences the
// source's upstairs, and resume the guest. Any failure before Finish: the source resumes Running.

export const MIGRATION_UPGRADE = 'propolis-lab-migration';

function ramPushMs(vm: Vm, override: number | undefined): number {
  if (override !== undefined) return override;
  return 150 + Math.round((vm.spec?.board.memory_mb ?? 1024) / 8);
}

/** Source side, after the upgrade was accepted. */
export async function migrateOut(vm: Vm, migrationId: string, socket: Duplex, head: Buffer): Promise<void> {
  const ch = new LineChannel(socket, head);
  let paused = false;
  try {
    vm.setState('Migrating');
    vm.setMigration('migration_out', migrationId, 'Sync');
    ch.send({ t: 'sync', spec: vm.spec });
    await ch.next('sync-ok');

    vm.setMigration('migration_out', migrationId, 'RamPush');
    const total = ramPushMs(vm, vm.deps.faults.get().ramPushMs);
    const chunks = 8;
    for (let i = 0; i < chunks; i++) {
      while (vm.deps.faults.get().holdRamPush) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, total / chunks));
      ch.send({ t: 'ram', chunk: i, of: chunks });
      await ch.next('ram-ok');
    }

    vm.setMigration('migration_out', migrationId, 'Pause');
    await vm.guest?.pause('paused for migration');
    paused = true;
    // A last flush, so the journal on disk is complete before the destination takes the disk.
    await vm.upstairs?.flush().catch(() => undefined);

    vm.setMigration('migration_out', migrationId, 'RamPushDirty');
    ch.send({ t: 'ram-dirty', ...vm.exportGuest() });
    await ch.next('ram-dirty-ok');

    vm.setMigration('migration_out', migrationId, 'Device');
    ch.send({ t: 'device' });
    await ch.next('device-ok');

    vm.setMigration('migration_out', migrationId, 'Server');
    ch.send({ t: 'server' });
    await ch.next('server-ok');

    vm.setMigration('migration_out', migrationId, 'Finish');
    ch.send({ t: 'finish' });
    ch.close();
    // The source halts once the destination has everything; its upstairs is left to be fenced.
    vm.migratedOut = true;
    vm.serial.print(`propolis: migrated out (migration ${migrationId})`);
    vm.setState('Destroyed');
  } catch (err) {
    vm.serial.print(`propolis: migration ${migrationId} out failed: ${(err as Error).message}; resuming`);
    vm.setMigration('migration_out', migrationId, 'Error');
    try {
      ch.send({ t: 'error', message: (err as Error).message });
      ch.close();
    } catch {
      // The connection is already gone.
    }
    if (paused) vm.guest?.start('resumed after a failed migration');
    vm.setState('Running');
  }
}

/** Amends the source's spec with the destination's replacements (preamble.rs amend_spec's rules). */
export function amendSpec(spec: InstanceSpec, replace: Record<string, ReplacementComponent>): InstanceSpec {
  const out: InstanceSpec = JSON.parse(JSON.stringify(spec)) as InstanceSpec;
  for (const [id, r] of Object.entries(replace)) {
    const have = out.components[id];
    if (!have) throw new Error(`InstanceSpecsIncompatible: replacement component ${id} is not in the source's spec`);
    if (r.component === 'CrucibleStorageBackend') {
      if (have.type !== 'crucible_storage_backend') throw new Error(`InstanceSpecsIncompatible: replacement component ${id} is a Crucible backend, the source's is a ${have.type}`);
      out.components[id] = { type: 'crucible_storage_backend', component: { readonly: r.spec.readonly, request_json: r.spec.request_json } };
    } else if (r.component === 'VirtioNetworkBackend') {
      if (have.type !== 'virtio_network_backend') throw new Error(`InstanceSpecsIncompatible: replacement component ${id} is a network backend, the source's is a ${have.type}`);
      out.components[id] = { type: 'virtio_network_backend', component: { vnic_name: r.spec.vnic_name } };
    }
  }
  return out;
}

/** Destination side: runs in the background after ensure answered 201. */
export async function migrateIn(vm: Vm, info: { migrationId: string; srcAddr: string; replace: Record<string, ReplacementComponent> }): Promise<void> {
  const id = info.migrationId;
  const faults = vm.deps.faults;
  let ch: LineChannel | null = null;
  try {
    const [host, port] = [info.srcAddr.slice(0, info.srcAddr.lastIndexOf(':')).replace(/^\[|\]$/g, ''), Number(info.srcAddr.slice(info.srcAddr.lastIndexOf(':') + 1))];
    const { socket, head } = await new Promise<{ socket: Duplex; head: Buffer }>((resolve, reject) => {
      const req = http.request({ host, port, method: 'GET', path: `/instance/migrate/${id}/start`, headers: { 'api-version': '1.0.0', connection: 'Upgrade', upgrade: MIGRATION_UPGRADE } });
      req.setTimeout(10_000, () => req.destroy(new Error(`the source ${info.srcAddr} did not answer`)));
      req.on('upgrade', (_res, s, h) => resolve({ socket: s, head: h }));
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => reject(new Error(`the source ${info.srcAddr} refused the migration: HTTP ${res.statusCode} ${body}`)));
      });
      req.on('error', (e) => reject(new Error(`cannot reach the source ${info.srcAddr}: ${e.message}`)));
      req.end();
    });
    ch = new LineChannel(socket, head);

    const sync = await ch.next('sync');
    vm.spec = amendSpec(sync.spec as InstanceSpec, info.replace);
    const boot = bootBackend(vm.spec);
    if (!boot) throw new Error('the source spec has no Crucible boot disk');
    ch.send({ t: 'sync-ok' });

    vm.setMigration('migration_in', id, 'RamPush');
    for (;;) {
      const m = await ch.next();
      if (m.t !== 'ram') {
        if (m.t !== 'ram-dirty') throw new Error(`migration protocol: unexpected ${String(m.t)} in RamPush`);
        vm.setMigration('migration_in', id, 'RamPushDirty');
        vm.serial = SerialConsole.import(m.serial as { base: number; data: string });
        vm.pendingRam = m.ram as GuestRam | null;
        ch.send({ t: 'ram-dirty-ok' });
        break;
      }
      if (Number(m.chunk) >= Number(m.of) / 2 - 1 && faults.take('dieDuringRamPush')) {
        vm.deps.log(`fault injected: dying mid-RamPush of migration ${id}`);
        process.exit(137);
      }
      ch.send({ t: 'ram-ok' });
    }

    vm.setMigration('migration_in', id, 'Pause');
    await ch.next('device');
    vm.setMigration('migration_in', id, 'Device');
    if (faults.take('failAfterActivating')) {
      // propolis#230: the target took the volume over (gen above the source's), then the migration
      // failed. Its upstairs stays active; the source will resume on a volume it no longer holds.
      const up = new Upstairs({ region: boot.vcr.sub_volumes[0], blocked: () => faults.blocked(), log: (l) => vm.serial.print(l) });
      vm.upstairs = up;
      await up.activate(() => vm.cancelled);
      vm.serial.print(`crucible: volume ${boot.vcr.id} active with gen ${up.gen} on ${up.targets.join(' ')} (activated early)`);
      vm.deps.log(`fault injected: activated the disk with gen ${up.gen}, then failing migration ${id} in Device`);
      throw new Error('fault injected: the destination failed in Device after activating its disk');
    }
    ch.send({ t: 'device-ok' });
    vm.setMigration('migration_in', id, 'RamPull');
    await ch.next('server');
    vm.setMigration('migration_in', id, 'Server');
    ch.send({ t: 'server-ok' });
    await ch.next('finish');
    vm.setMigration('migration_in', id, 'Finish');
    ch.close();
  } catch (err) {
    vm.serial.print(`propolis: migration ${id} in failed: ${(err as Error).message}`);
    try {
      ch?.send({ t: 'error', message: (err as Error).message });
      ch?.close();
    } catch {
      // gone already
    }
    vm.setMigration('migration_in', id, 'Error');
    vm.setState('Failed');
    return;
  }

  // Start after migration: activate the disk with the new gen (this fences the source), then
  // resume the guest. A downstairs it cannot reach keeps it here, activating, while its
  // migration already reports Finish.
  const ram = vm.pendingRam;
  try {
    const boot = bootBackend(vm.spec!)!;
    const up = new Upstairs({ region: boot.vcr.sub_volumes[0], blocked: () => faults.blocked(), log: (l) => vm.serial.print(l) });
    vm.upstairs = up;
    await up.activate(() => vm.cancelled);
    vm.serial.print(`crucible: volume ${boot.vcr.id} active with gen ${up.gen} on ${up.targets.join(' ')} (migrated in)`);
    if (!ram) throw new Error('the source sent no guest state');
    const repaired = await up.reconcile({ start: ram.boot.areaStart, count: ram.boot.journalCapacity + 1 });
    if (repaired) vm.serial.print(`crucible: ${repaired}`);
    const guest = Guest.migratedIn(up, vm.serial, ram);
    vm.guest = guest;
    await guest.checkJournal(`after migration ${id}`);
    guest.start('resumed after migration');
    vm.setState('Running');
    // The image's files, read back through the new upstairs once the guest runs again (as a guest
    // would check them; not inside the handover, where it would only add to the downtime).
    void guest.checkImage(`after migration ${id}`).catch((err: unknown) => vm.serial.print(`lab-guest: image check (after migration ${id}): NOT intact: ${(err as Error).message}`));
  } catch (err) {
    if (vm.cancelled) return;
    vm.serial.print(`propolis: start after migration failed: ${(err as Error).message}`);
    vm.upstairs?.close();
    vm.setState('Failed');
  }
}
