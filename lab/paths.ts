import path from 'node:path';

// Where the lab keeps its state. Everything lab up creates lives under labDir(), so lab down (and a
// test with its own RUNBOOK_LAB_DIR) can find and remove exactly that.

export const repoRoot = path.resolve(__dirname, '..');

/** A lab host name doubles as a folder name, so it is kept to the inventory's host-name pattern. */
const HOST_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * The lab's state folder: env RUNBOOK_LAB_DIR, else <repo>/.lab. Read on every call, so a test can
 * point the lab elsewhere after this module is loaded.
 */
export function labDir(): string {
  const fromEnv = process.env.RUNBOOK_LAB_DIR;
  const dir = fromEnv ? path.resolve(fromEnv) : path.join(repoRoot, '.lab');
  // Inside a host's namespace /root and /run are the host's own folders (bind mounts), so lab state
  // under them would be invisible to sshd there. Whitespace and quotes would need sshd_config quoting.
  for (const hidden of ['/root', '/run', '/var/run', '/usr/local/sbin']) {
    if (dir === hidden || dir.startsWith(`${hidden}/`)) {
      throw new Error(`the lab folder ${dir} is under ${hidden}, which each lab host replaces with its own; set RUNBOOK_LAB_DIR to a folder elsewhere`);
    }
  }
  if (/[\s"'\\]/.test(dir)) throw new Error(`the lab folder "${dir}" contains whitespace, quotes or backslashes, which sshd_config cannot take; set RUNBOOK_LAB_DIR to a plainer path`);
  return dir;
}

export function hostsDir(): string {
  return path.join(labDir(), 'hosts');
}

export function hostDir(name: string): string {
  if (!HOST_NAME.test(name)) throw new Error(`"${name}" is not a lab host name (lower-case letters, digits and dashes)`);
  return path.join(hostsDir(), name);
}

/** The inventory lab up writes and workers read (set RUNBOOK_INVENTORY to this path when the lab is not at <repo>/.lab). */
export function inventoryPath(): string {
  return path.join(labDir(), 'inventory.json');
}

/** The operator's private key: every lab host's sshd accepts its public half for root. */
export function operatorKeyPath(): string {
  return path.join(labDir(), 'keys', 'operator');
}

/** Serialises lab up/down between processes (the CLI and a test run, say). */
export function lockPath(): string {
  return path.join(labDir(), 'lock');
}
