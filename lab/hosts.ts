import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execInHost } from './exec';
import { clearHostFolder, mountsUnder, prepareHostFolder } from './host-folder';
import { ensureHostKey } from './keys';
import { detachLoopDevice, loopDevicesBackedBy, loopDevicesUnder } from './loop-devices';
import { manifestPath, readManifest, updateManifest, writeManifest, type HostManifest } from './manifest';
import { hostDir } from './paths';
import { requireRoot } from './require-root';
import { childrenOf, descendantsOf, isRunning, outerPidOf, processRef, terminate, waitGone, type ProcessRef } from './processes';
import { bash } from '../activities/ssh/command';
import { renderSshdConfig, sshdConfigPath, sshdLogFile, sshdPidFile } from './sshd-config';
import { waitForSshBanner } from './sshd-ready';

// One lab host = one `unshare` with its own UTS, mount and PID namespace, whose PID 1 (a small bash
// loop) keeps the namespace alive, plus a real /usr/sbin/sshd started inside it.

export type Log = (line: string) => void;
const quiet: Log = () => undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tail(file: string, chars = 1500): string {
  return existsSync(file) ? readFileSync(file, 'utf8').slice(-chars).trim() : '';
}

/**
 * PID 1 of the host. It sets the hostname and bind-mounts the host's own folders over /root,
 * /usr/local/sbin and /run, says "ready", then only reaps orphans (bash reaps any child on SIGCHLD):
 * when it dies, the kernel kills every process in the namespace and the mounts go with it.
 */
const INIT_SCRIPT = [
  'set -eu',
  'hostname "$1"',
  'mount --bind "$2/root" /root',
  'mount --bind "$2/bin" /usr/local/sbin',
  'mount --bind "$2/run" /run',
  'cd /root',
  'echo ready',
  'exec >/dev/null',
  'while :; do sleep 86400 & wait $! || true; done',
].join('\n');

/** Start the host's namespace (not sshd). The host must not be running; leftovers of a crashed run are cleaned first. */
export async function startNamespace(host: string, address: string, scenario: string, fullSize: boolean, log: Log = quiet): Promise<HostManifest> {
  const old = readManifest(host);
  if (old && isRunning(old.init)) throw new Error(`lab host ${host} is already running (init pid ${old.init.pid}); stop it first`);
  if (old) {
    log(`${host}: cleaning up after a previous run that was not stopped`);
    await stopHost(host, log);
  }
  clearHostFolder(host);
  prepareHostFolder(host);
  ensureHostKey(host);
  const dir = hostDir(host);
  const initLog = path.join(dir, 'log', 'init.log');
  const errFd = openSync(initLog, 'a');
  const child = spawn(
    'unshare',
    ['--uts', '--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', 'bash', '-c', INIT_SCRIPT, 'lab-init', host, dir],
    // Its own session: a Ctrl-C on `runbook lab up` must not take the lab down with it.
    { detached: true, cwd: '/', stdio: ['ignore', 'pipe', errFd] },
  );
  closeSync(errFd);
  const ready = await new Promise<boolean>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => resolve(false), 10_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run unshare for lab host ${host}: ${err.message} (util-linux provides it; run scripts/setup.sh)`));
    });
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  const unshare = child.pid === undefined ? null : processRef(child.pid);
  const initPid = child.pid === undefined ? undefined : childrenOf(child.pid)[0];
  const init = initPid === undefined ? null : processRef(initPid);
  child.stdout?.destroy();
  child.unref();
  if (!ready || !unshare || !init) {
    if (child.pid !== undefined && child.exitCode === null) {
      const refs = [init, unshare].filter((r): r is ProcessRef => r !== null);
      await terminate(refs, 0, `stopping the half-started namespace of lab host ${host}`);
    }
    throw new Error(`the namespace for lab host ${host} did not start: ${tail(initLog) || 'no output'} (see ${initLog})`);
  }
  const manifest: HostManifest = {
    host,
    address,
    scenario,
    startedAt: new Date().toISOString(),
    built: false,
    fullSize,
    unshare,
    init,
    sshd: null,
    pids: [],
    loopBackingFiles: [],
    paths: [],
  };
  writeManifest(manifest);
  log(`${host}: namespace up (init pid ${init.pid})`);
  return manifest;
}

/** Start the host's sshd in its namespace and wait until it accepts connections. A no-op when it runs. */
export async function startSshd(host: string, log: Log = quiet): Promise<ProcessRef> {
  requireRoot();
  const manifest = readManifest(host);
  if (!manifest || !isRunning(manifest.init)) throw new Error(`lab host ${host} is not running; run \`runbook lab up\` with its scenario first`);
  if (manifest.sshd && isRunning(manifest.sshd)) return manifest.sshd;
  const pidFile = sshdPidFile(host);
  const logFile = sshdLogFile(host);
  writeFileSync(sshdConfigPath(host), renderSshdConfig(host, manifest.address));
  rmSync(pidFile, { force: true });
  // sshd daemonizes, then binds and writes its PidFile; -E keeps its log in the host folder (no syslog here).
  const started = await execInHost(host, bash`/usr/sbin/sshd -f ${sshdConfigPath(host)} -E ${logFile}`, { timeoutMs: 15_000 });
  if (started.code !== 0) {
    throw new Error(`sshd for lab host ${host} refused to start (exit ${started.code}): ${(started.stderr + tail(logFile, 500)).trim()}`);
  }
  const deadline = Date.now() + 10_000;
  let ref: ProcessRef | null = null;
  while (!ref && Date.now() < deadline) {
    const inner = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
    const outer = Number.isInteger(inner) && inner > 0 ? outerPidOf(manifest.init.pid, inner) : null;
    ref = outer === null ? null : processRef(outer);
    if (!ref) await sleep(10);
  }
  const accepting = ref !== null && (await waitForSshBanner(manifest.address, 22, 10_000, () => ref !== null && isRunning(ref)));
  if (!ref || !accepting) {
    if (ref) await terminate([ref], 1000, `stopping the sshd of lab host ${host} that does not answer`);
    throw new Error(
      `sshd for lab host ${host} did not accept connections on ${manifest.address}:22: ${tail(logFile, 800) || 'no log'} ` +
        `(see ${logFile}; if the address is taken, \`ss -ltnp 'sport = :22'\` shows by whom)`,
    );
  }
  const sshd = ref;
  updateManifest(host, (m) => {
    m.sshd = sshd;
  });
  log(`${host}: sshd accepting on ${manifest.address}:22 (pid ${sshd.pid})`);
  return sshd;
}

/**
 * Stop only the host's sshd, keeping its namespace and services: a host that stopped answering.
 * Open connections drop too (sshd's per-connection processes and their commands are killed), as
 * they would when a machine dies. startSshd brings it back.
 */
export async function stopSshd(host: string, log: Log = quiet): Promise<void> {
  requireRoot();
  const manifest = readManifest(host);
  if (!manifest) throw new Error(`lab host ${host} has no manifest (it is not up); nothing to stop`);
  if (manifest.sshd && isRunning(manifest.sshd)) {
    const listener = manifest.sshd;
    const sessions = descendantsOf(listener.pid)
      .map(processRef)
      .filter((r): r is ProcessRef => r !== null);
    await terminate([listener, ...sessions], 2000, `stopping the sshd of lab host ${host}`);
    log(`${host}: sshd stopped (pid ${listener.pid}${sessions.length ? ` and ${sessions.length} session processes` : ''})`);
  }
  updateManifest(host, (m) => {
    m.sshd = null;
  });
}

function removeRecordedPath(p: string): void {
  // A scenario's path is removed recursively, so refuse anything that could be the system itself.
  if (!path.isAbsolute(p) || path.resolve(p).split('/').filter(Boolean).length < 2) {
    throw new Error(`refusing to remove the recorded path "${p}": lab paths must be absolute and at least two levels deep`);
  }
  const mounted = mountsUnder(path.resolve(p));
  if (mounted.length) throw new Error(`cannot remove ${p}: ${mounted.join(', ')} is mounted under it; unmount it and run lab down again`);
  rmSync(p, { recursive: true, force: true });
}

/**
 * Stop everything the manifest lists, by pid and path: recorded processes, sshd, the namespace's
 * init (which takes every process inside with it) and unshare; detach loop devices by backing file;
 * remove recorded paths; then clear the host folder (keeping host key and logs) and the manifest.
 * Every step runs even if an earlier one fails; the manifest is kept if anything failed, so the
 * next lab down retries.
 */
export async function stopHost(host: string, log: Log = quiet): Promise<void> {
  const manifest = readManifest(host);
  if (!manifest) return;
  const problems: string[] = [];
  const attempt = async (what: string, step: () => Promise<void> | void) => {
    try {
      await step();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
    }
  };
  await attempt('recorded processes', () => terminate(manifest.pids, 2000, `stopping processes of lab host ${host}`));
  if (manifest.sshd) {
    const sshd = manifest.sshd;
    await attempt('sshd', () => terminate([sshd], 2000, `stopping the sshd of lab host ${host}`));
  }
  // PID 1 of a namespace ignores SIGTERM from outside; SIGKILL it and the kernel kills the rest.
  await attempt('namespace init', () => terminate([manifest.init], 0, `stopping the namespace of lab host ${host}`));
  await attempt('unshare', async () => {
    const left = await waitGone([manifest.unshare], 2000);
    if (left.length) await terminate(left, 0, `stopping unshare of lab host ${host}`);
  });
  await attempt('loop devices', () => {
    for (const file of manifest.loopBackingFiles) {
      for (const device of loopDevicesBackedBy(file)) {
        detachLoopDevice(device);
        log(`${host}: detached ${device} (${file})`);
      }
    }
    for (const { device, backingFile } of loopDevicesUnder(hostDir(host))) {
      detachLoopDevice(device);
      log(`${host}: detached ${device} (${backingFile}), which its scenario did not record`);
    }
  });
  for (const p of manifest.paths) await attempt(`path ${p}`, () => removeRecordedPath(p));
  if (problems.length) {
    throw new Error(`lab host ${host} was not stopped cleanly; its manifest ${manifestPath(host)} is kept so lab down can retry:\n  ${problems.join('\n  ')}`);
  }
  clearHostFolder(host);
  log(`${host}: stopped`);
}

export interface HostStatus {
  name: string;
  address: string;
  scenario: string;
  /** The namespace is alive. */
  running: boolean;
  /** Its sshd runs (false for a running host whose sshd was stopped). */
  sshdRunning: boolean;
  sshdPid: number | null;
  initPid: number;
  built: boolean;
}

export function hostStatus(host: string): HostStatus | null {
  const m = readManifest(host);
  if (!m) return null;
  const running = isRunning(m.init);
  const sshdRunning = running && m.sshd !== null && isRunning(m.sshd);
  return { name: host, address: m.address, scenario: m.scenario, running, sshdRunning, sshdPid: sshdRunning && m.sshd ? m.sshd.pid : null, initPid: m.init.pid, built: m.built };
}
