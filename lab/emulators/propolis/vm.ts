import { parseVcr, type InstanceProperties, type InstanceSpec, type InstanceState, type MigrationState, type MigrationStatuses, type VolumeVcr } from './api-types';
import { forbiddenStateChange, unavailable, type HttpError } from './dropshot';
import type { FaultsFile } from './faults';
import { Guest, type GuestRam } from './guest';
import { SerialConsole } from './serial';
import { Upstairs } from './upstairs';

// One VM of the emulated propolis-server: its published state (gen, state, migration) that
// state-monitor watches, the request rules of PUT /instance/state, and the life of its guest and
// boot disk. Every change of state or migration phase is a new gen, as propolis publishes them.

export interface VmDeps {
  faults: FaultsFile;
  log: (line: string) => void;
  /** Every published state, in order (tests read the exact phase sequence from it). */
  onPublish?: (vm: Vm) => void;
}

/** The boot disk: the first crucible backend a virtio/nvme disk uses. */
export function bootBackend(spec: InstanceSpec): { id: string; vcr: VolumeVcr; readonly: boolean } | null {
  for (const c of Object.values(spec.components)) {
    if (c.type !== 'virtio_disk' && c.type !== 'nvme_disk') continue;
    const b = spec.components[c.component.backend_id];
    if (b?.type === 'crucible_storage_backend') return { id: c.component.backend_id, vcr: parseVcr(b.component.request_json), readonly: b.component.readonly };
  }
  return null;
}

/** What a bad Spec is refused with at ensure (400), before any VM exists. */
export function validateSpec(spec: InstanceSpec): void {
  for (const [name, c] of Object.entries(spec.components)) {
    if (c.type === 'virtio_disk' || c.type === 'nvme_disk') {
      const b = spec.components[c.component.backend_id];
      if (!b) throw new Error(`component ${name} refers to backend ${c.component.backend_id}, which is not in the spec`);
      if (!b.type.endsWith('_storage_backend')) throw new Error(`component ${name} refers to ${c.component.backend_id}, which is a ${b.type}, not a storage backend`);
    }
    if (c.type === 'crucible_storage_backend') {
      try {
        parseVcr(c.component.request_json);
      } catch (err) {
        throw new Error(`component ${name}: ${(err as Error).message}`);
      }
    }
  }
  const slots = new Map<string, string>();
  for (const [name, c] of Object.entries(spec.components)) {
    if (c.type !== 'virtio_disk' && c.type !== 'nvme_disk') continue;
    const p = c.component.pci_path;
    const key = `${p.bus}.${p.device}.${p.function}`;
    if (slots.has(key)) throw new Error(`components ${slots.get(key)} and ${name} both use PCI path ${key}`);
    slots.set(key, name);
  }
}

export class Vm {
  gen = 1;
  state: InstanceState;
  migration: MigrationStatuses = { migration_in: null, migration_out: null };
  /** The spec, once known (a migration target learns it from its source). */
  spec: InstanceSpec | null;
  serial = new SerialConsole();
  upstairs: Upstairs | null = null;
  guest: Guest | null = null;
  /** No further state will ever be published (state-monitor for a later gen gets 410). */
  gone = false;
  migratedOut = false;
  /** A migration target's guest RAM, received before its disk is active. */
  pendingRam: GuestRam | null = null;
  private watchers = new Set<() => void>();
  private pendingStop = false;
  private busy: Promise<void> = Promise.resolve();

  constructor(
    public properties: InstanceProperties,
    spec: InstanceSpec | null,
    readonly init: 'Spec' | 'MigrationTarget',
    readonly deps: VmDeps,
  ) {
    this.spec = spec;
    this.state = init === 'Spec' ? 'Creating' : 'Migrating';
  }

  published(): { gen: number; state: InstanceState; migration: MigrationStatuses } {
    return {
      gen: this.gen,
      state: this.state,
      migration: { migration_in: this.migration.migration_in && { ...this.migration.migration_in }, migration_out: this.migration.migration_out && { ...this.migration.migration_out } },
    };
  }

  private bump(): void {
    this.gen++;
    this.deps.onPublish?.(this);
    for (const w of [...this.watchers]) w();
  }

  setState(state: InstanceState): void {
    if (this.state === state) return;
    this.deps.log(`vm ${this.properties.name}: ${this.state} -> ${state}`);
    this.state = state;
    this.bump();
    if (state === 'Destroyed') this.setGone();
  }

  setMigration(side: 'migration_in' | 'migration_out', id: string, state: MigrationState): void {
    this.deps.log(`vm ${this.properties.name}: ${side} ${id} ${state}`);
    this.migration[side] = { id, state };
    this.bump();
  }

  setGone(): void {
    this.gone = true;
    for (const w of [...this.watchers]) w();
  }

  /** Resolves when the published gen reaches `gen`; rejects (410) when it never will. */
  waitForGen(gen: number, signal: AbortSignal): Promise<'reached' | 'gone'> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.gen >= gen) done('reached');
        else if (this.gone) done('gone');
      };
      const done = (r: 'reached' | 'gone') => {
        this.watchers.delete(check);
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = () => done('gone');
      this.watchers.add(check);
      signal.addEventListener('abort', onAbort);
      check();
    });
  }

  /** Serialises the VM's own transitions (start, stop, reboot), as propolis's state driver does. */
  private queue(task: () => Promise<void>): void {
    this.busy = this.busy.then(task).catch((err: unknown) => this.deps.log(`vm ${this.properties.name}: ${(err as Error).message}`));
  }

  /** PUT /instance/state: 204 (accepted or ignored) or the error propolis answers. */
  requestState(requested: 'Run' | 'Stop' | 'Reboot'): HttpError | null {
    const s = this.state;
    if (this.init === 'MigrationTarget' && s === 'Migrating' && this.migration.migration_in?.state !== 'Finish') {
      if (requested === 'Stop') return this.stopWhileMigratingIn();
      return unavailable();
    }
    if (this.migratedOut) return requested === 'Stop' ? null : forbiddenStateChange('Instance has migrated out and is being torn down');
    if (s === 'Destroyed' || s === 'Stopped') return requested === 'Stop' ? null : forbiddenStateChange('Instance has already halted');
    if (s === 'Failed') {
      if (requested === 'Stop') {
        this.queue(async () => this.halt());
        return null;
      }
      return forbiddenStateChange('Instance failed to start or halted due to a failure');
    }
    if (s === 'Stopping') return requested === 'Stop' ? null : forbiddenStateChange('Instance is preparing to stop');
    if (s === 'Migrating' && this.migration.migration_out && this.migration.migration_out.state !== 'Error') {
      return requested === 'Run' ? null : forbiddenStateChange('Instance is migrating out');
    }
    if (s === 'Migrating' && this.init === 'MigrationTarget') {
      // Migration finished, the target is still activating its disks.
      if (requested === 'Stop') return this.stopWhileMigratingIn();
      return requested === 'Run' ? null : forbiddenStateChange('Instance is currently starting');
    }
    switch (requested) {
      case 'Run':
        if (s === 'Creating') {
          this.setState('Starting');
          this.queue(() => this.start());
        }
        return null;
      case 'Reboot':
        if (s === 'Creating') return forbiddenStateChange('Operation requires an active instance');
        if (s === 'Starting') return forbiddenStateChange('Instance is currently starting');
        if (s === 'Rebooting') return null;
        this.queue(() => this.reboot());
        return null;
      case 'Stop':
        if (s === 'Starting') {
          this.pendingStop = true;
          return null;
        }
        this.setState('Stopping');
        this.queue(async () => this.halt());
        return null;
    }
  }

  private activationCancelled = false;

  private stopWhileMigratingIn(): null {
    this.activationCancelled = true;
    this.setState('Stopping');
    this.queue(async () => this.halt());
    return null;
  }

  get cancelled(): boolean {
    return this.activationCancelled || this.pendingStop || this.gone;
  }

  /** Run from Creating: activate the boot disk with the VCR's gen, boot the guest. */
  private async start(): Promise<void> {
    try {
      const boot = this.spec ? bootBackend(this.spec) : null;
      if (!boot) throw new Error('no bootable disk: the spec has no virtio or nvme disk backed by Crucible');
      const up = new Upstairs({ region: boot.vcr.sub_volumes[0], blocked: () => this.deps.faults.blocked(), log: (l) => this.serial.print(l) });
      this.upstairs = up;
      await up.activate(() => this.cancelled);
      this.serial.print(`crucible: volume ${boot.vcr.id} active with gen ${up.gen} on ${up.targets.join(' ')}`);
      this.guest = await Guest.boot(up, this.serial, this.properties.name);
      this.guest.start('running');
      this.setState('Running');
      if (this.pendingStop) {
        this.pendingStop = false;
        this.setState('Stopping');
        await this.halt();
      }
    } catch (err) {
      this.upstairs?.close();
      if (this.pendingStop) {
        // Stopped while still activating its disk: no failure, just a stop.
        this.pendingStop = false;
        return this.halt();
      }
      this.serial.print(`propolis: start failed: ${(err as Error).message}`);
      this.setState('Failed');
    }
  }

  private async reboot(): Promise<void> {
    this.setState('Rebooting');
    await this.guest?.pause('reboot');
    try {
      if (!this.upstairs) throw new Error('no boot disk');
      this.guest = await Guest.boot(this.upstairs, this.serial, this.properties.name);
      this.guest.start('running');
      this.setState('Running');
    } catch (err) {
      this.serial.print(`propolis: reboot failed: ${(err as Error).message}`);
      this.setState('Failed');
    }
  }

  /** Stop: the guest stops, the disk is flushed and let go, the VM is destroyed. */
  async halt(): Promise<void> {
    if (this.state !== 'Stopping') this.setState('Stopping');
    await this.guest?.pause('stop');
    this.upstairs?.close();
    this.setState('Stopped');
    this.setState('Destroyed');
  }

  /** The ram of the guest and the serial device, for a migration. */
  exportGuest(): { ram: GuestRam | null; serial: { base: number; data: string } } {
    return { ram: this.guest?.ram ?? null, serial: this.serial.export() };
  }

  diskActive(): boolean {
    return Boolean(this.upstairs?.active && !this.upstairs.fenced);
  }
}
