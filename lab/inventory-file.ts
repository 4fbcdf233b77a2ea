import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inventorySchema, type Inventory, type InventoryHost, type MaasEndpoint } from '../activities/ssh/inventory';
import { inventoryPath } from './paths';

// lab up merges its hosts into the inventory and lab down removes them; hosts someone added by hand
// stay. The file is validated with the same schema workers load it with.

function readInventory(file: string): Inventory {
  if (!existsSync(file)) return { hosts: {} };
  const parsed = inventorySchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`the lab inventory ${file} is invalid (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}); fix or delete it and run lab up again`);
  }
  return parsed.data;
}

function writeInventory(file: string, inventory: Inventory): void {
  const valid = inventorySchema.parse(inventory);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(valid, null, 2)}\n`);
  renameSync(`${file}.tmp`, file); // workers never see half a file
}

export function addInventoryHosts(hosts: Record<string, InventoryHost>): string {
  const file = inventoryPath();
  const inventory = readInventory(file);
  Object.assign(inventory.hosts, hosts);
  writeInventory(file, inventory);
  return file;
}

export function removeInventoryHosts(names: string[]): void {
  const file = inventoryPath();
  if (!existsSync(file)) return;
  const inventory = readInventory(file);
  for (const name of names) delete inventory.hosts[name];
  writeInventory(file, inventory);
}

/** A MAAS endpoint a lab scenario serves (its key stays in the file the entry names). */
export function addInventoryMaas(name: string, endpoint: MaasEndpoint): string {
  const file = inventoryPath();
  const inventory = readInventory(file);
  inventory.maas = { ...inventory.maas, [name]: endpoint };
  writeInventory(file, inventory);
  return file;
}

export function removeInventoryMaas(name: string): void {
  const file = inventoryPath();
  if (!existsSync(file)) return;
  const inventory = readInventory(file);
  if (!inventory.maas?.[name]) return;
  delete inventory.maas[name];
  writeInventory(file, inventory);
}
