import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { hostDir } from './paths';
import type { ProcessRef } from './processes';

// One JSON file per lab host recording exactly what lab up started for it, so lab down stops that
// and nothing else: by pid (with start time) and by path, never by process name.

const processRefSchema = z.object({ pid: z.number().int().positive(), start: z.string().min(1) }).strict();

export const hostManifestSchema = z
  .object({
    host: z.string(),
    address: z.string(),
    scenario: z.string(),
    startedAt: z.string(),
    /** False until the scenario's build finished; lab up rebuilds a host whose build never finished. */
    built: z.boolean(),
    /** The scenario was built at full size; its check is run with the same option. */
    fullSize: z.boolean(),
    /** The `unshare` process (in this machine's PID namespace); it exits when the namespace's init does. */
    unshare: processRefSchema,
    /** PID 1 of the host's PID namespace (unshare's child). Killing it kills every process in the host. */
    init: processRefSchema,
    /** The listening sshd, or null while it is stopped (a simulated dead host). */
    sshd: processRefSchema.nullable(),
    /** Extra processes registered by scenarios or spawned with spawnInHost, as this machine sees them. */
    pids: z.array(processRefSchema),
    /** Files backing loop devices; lab down detaches every loop device `losetup -j <file>` lists. */
    loopBackingFiles: z.array(z.string()),
    /** Paths outside the host's folder that a scenario created; lab down removes them. */
    paths: z.array(z.string()),
  })
  .strict();
export type HostManifest = z.infer<typeof hostManifestSchema>;

export function manifestPath(host: string): string {
  return path.join(hostDir(host), 'manifest.json');
}

export function readManifest(host: string): HostManifest | null {
  const file = manifestPath(host);
  if (!existsSync(file)) return null;
  const parsed = hostManifestSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`the lab manifest ${file} is invalid (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}); stop what it lists by hand, then delete it`);
  }
  return parsed.data;
}

/** Written to a temporary file and renamed, so a crash never leaves half a manifest. */
export function writeManifest(manifest: HostManifest): void {
  const file = manifestPath(manifest.host);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function updateManifest(host: string, change: (m: HostManifest) => void): HostManifest {
  const manifest = readManifest(host);
  if (!manifest) throw new Error(`lab host ${host} has no manifest (it is not up); run \`runbook lab up\` first`);
  change(manifest);
  writeManifest(manifest);
  return manifest;
}

export function addProcess(host: string, ref: ProcessRef): void {
  updateManifest(host, (m) => {
    if (!m.pids.some((p) => p.pid === ref.pid && p.start === ref.start)) m.pids.push(ref);
  });
}
