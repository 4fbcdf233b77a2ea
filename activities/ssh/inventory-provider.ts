import { statSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { defaultInventoryPath, loadInventory, type Inventory, type InventoryHost } from './inventory';
import { UNKNOWN_HOST } from './errors';

/**
 * The worker's view of the inventory. It re-reads the file when it changes, so a rebuilt lab host or a
 * re-pinned key is picked up without restarting workers.
 */
export class InventoryProvider {
  private cached?: { mtimeMs: number; inventory: Inventory };

  constructor(private readonly file = defaultInventoryPath()) {}

  current(): Inventory {
    const mtimeMs = statSync(this.file, { throwIfNoEntry: false })?.mtimeMs ?? -1;
    if (!this.cached || this.cached.mtimeMs !== mtimeMs) this.cached = { mtimeMs, inventory: loadInventory(this.file) };
    return this.cached.inventory;
  }

  host(name: string): InventoryHost {
    const host = this.current().hosts[name];
    if (!host) {
      const known = Object.keys(this.current().hosts).sort().join(', ') || 'none';
      throw ApplicationFailure.nonRetryable(`unknown host ${name}: not in the inventory ${this.file} (known: ${known})`, UNKNOWN_HOST);
    }
    return host;
  }
}
