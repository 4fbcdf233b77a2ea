import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { hostNameSchema } from '../../common/identifiers';

/**
 * Where a worker finds a private key. The key itself never enters workflow input, results or
 * history: workflows name hosts, and only the worker resolves a name to an address and a key.
 */
export const keyRefSchema = z.union([z.object({ file: z.string().min(1) }).strict(), z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name') }).strict()]);
export type KeyRef = z.infer<typeof keyRefSchema>;

/** An OpenSSH public key line, e.g. "ssh-ed25519 AAAAC3Nza... comment": the host key we pin. */
const publicKeyLine = z.string().regex(/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+( .*)?$/, 'an OpenSSH public key line');

export const inventoryHostSchema = z
  .object({
    address: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/)
      .default('root'),
    key: keyRefSchema,
    hostKey: publicKeyLine,
    /** Hosts only reachable from a site get their activities on task queue `site-<site>`. */
    site: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/)
      .optional(),
    tags: z.array(z.string()).default([]),
  })
  .strict();
export type InventoryHost = z.infer<typeof inventoryHostSchema>;

/**
 * A MAAS region API endpoint. The API key (consumer:token:secret) is read by the worker from the
 * file or environment variable named here, like an SSH key; workflows name only the endpoint.
 */
export const maasEndpointSchema = z
  .object({
    /** The MAAS URL up to and including /MAAS/ (the API is <url>api/2.0/). */
    url: z.string().regex(/^https?:\/\/[^\s]+\/MAAS\/$/, 'a URL ending in /MAAS/'),
    key: keyRefSchema,
    site: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/)
      .optional(),
  })
  .strict();
export type MaasEndpoint = z.infer<typeof maasEndpointSchema>;

export const inventorySchema = z
  .object({
    hosts: z.record(hostNameSchema, inventoryHostSchema),
    maas: z.record(hostNameSchema, maasEndpointSchema).optional(),
  })
  .strict();
export type Inventory = z.infer<typeof inventorySchema>;

export const repoRoot = path.resolve(__dirname, '..', '..');

/**
 * RUNBOOK_INVENTORY wins; otherwise the inventory that `runbook lab up` writes, in the lab folder
 * (RUNBOOK_LAB_DIR, else <repo>/.lab, as lab/paths.ts has it).
 */
export function defaultInventoryPath(): string {
  const labDir = process.env.RUNBOOK_LAB_DIR ? path.resolve(process.env.RUNBOOK_LAB_DIR) : path.join(repoRoot, '.lab');
  return process.env.RUNBOOK_INVENTORY ?? path.join(labDir, 'inventory.json');
}

export function loadInventory(file = defaultInventoryPath()): Inventory {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the inventory ${file}: ${(err as Error).message} (run \`runbook lab up\` or set RUNBOOK_INVENTORY)`);
  }
  const parsed = inventorySchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`the inventory ${file} is invalid: ${problems}`);
  }
  // Relative key files are relative to the inventory file, so a lab inventory can move with its folder.
  for (const host of [...Object.values(parsed.data.hosts), ...Object.values(parsed.data.maas ?? {})]) {
    if ('file' in host.key && !path.isAbsolute(host.key.file)) host.key = { file: path.resolve(path.dirname(file), host.key.file) };
  }
  return parsed.data;
}
