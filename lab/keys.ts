import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { hostDir, operatorKeyPath } from './paths';

// Keys are generated once and kept across lab down/up, so a known_hosts or a running worker that
// pinned a lab host's key stays valid when the lab is rebuilt.

function generateKey(file: string, comment: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`ssh-keygen could not create ${file}: ${stderr || (err as Error).message} (is openssh-client installed? run scripts/setup.sh)`);
  }
  chmodSync(file, 0o600);
}

/** The lab operator's private key (ed25519, mode 600), created on first use. Returns its path. */
export function ensureOperatorKey(): string {
  const file = operatorKeyPath();
  if (!existsSync(file) || !existsSync(`${file}.pub`)) generateKey(file, 'runbook-lab-operator');
  return file;
}

export function hostKeyPath(host: string): string {
  return path.join(hostDir(host), 'ssh', 'ssh_host_ed25519_key');
}

/** The host's ed25519 key, created on first use. Returns its public key line, the one the inventory pins. */
export function ensureHostKey(host: string): string {
  const file = hostKeyPath(host);
  if (!existsSync(file) || !existsSync(`${file}.pub`)) generateKey(file, host);
  return readFileSync(`${file}.pub`, 'utf8').trim();
}
