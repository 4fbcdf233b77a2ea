import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { hostDir, hostsDir } from './paths';

// A host's state folder (.lab/hosts/<name>/):
//   ssh/          its host key (kept across rebuilds, so pinned keys stay valid)
//   log/          init, sshd and spawned-process logs (kept after lab down, for post-mortems;
//                 moved to log.previous/ when the host starts again)
//   manifest.json what lab up started (see manifest.ts)
//   sshd_config   its sshd's configuration
//   root/         bind-mounted over /root inside the host: root's own home, no machine dotfiles
//   bin/          bind-mounted over /usr/local/sbin: scenarios put emulated tools here (first on sshd's PATH)
//   run/          bind-mounted over /run: private pid files and sockets (/run/sshd is sshd's privsep dir)
//   anything else a scenario creates (disk images, regions, ...)

const KEPT = new Set(['ssh', 'log', 'log.previous']);

/** Decode the octal escapes (\040 for a space) mountinfo uses in paths. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points in this process's mount namespace at or under dir. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => unescapeMountPath(line.split(' ')[4]))
    .filter((mp) => mp === dir || mp.startsWith(`${dir}/`));
}

/**
 * Remove everything in the host's folder except its host key and logs. Refuses when something is
 * mounted under it here, because a recursive remove would walk into the mounted filesystem.
 */
export function clearHostFolder(host: string): void {
  const dir = hostDir(host);
  if (!existsSync(dir)) return;
  const mounted = mountsUnder(dir);
  if (mounted.length) {
    throw new Error(`cannot clear lab host folder ${dir}: ${mounted.join(', ')} is mounted under it on this machine; unmount it (umount <path>) and try again`);
  }
  for (const entry of readdirSync(dir)) if (!KEPT.has(entry)) rmSync(path.join(dir, entry), { recursive: true, force: true });
}

/** Create the folders a fresh host needs, with the modes sshd insists on for its privsep dir. */
export function prepareHostFolder(host: string): void {
  const dir = hostDir(host);
  if (existsSync(path.join(dir, 'log'))) {
    rmSync(path.join(dir, 'log.previous'), { recursive: true, force: true });
    renameSync(path.join(dir, 'log'), path.join(dir, 'log.previous'));
  }
  // chmod after mkdir: mkdir's mode is filtered through the umask.
  const folders: Array<[string, number]> = [
    ['log', 0o755],
    ['root', 0o700],
    ['bin', 0o755],
    ['run', 0o755],
    ['run/sshd', 0o755],
    ['run/lock', 0o1777],
  ];
  for (const [name, mode] of folders) {
    mkdirSync(path.join(dir, name), { recursive: true });
    chmodSync(path.join(dir, name), mode);
  }
}

/** Names of hosts with a manifest, i.e. hosts lab up started (running or not). */
export function hostsWithManifest(): string[] {
  const dir = hostsDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(path.join(dir, name, 'manifest.json')))
    .sort();
}
