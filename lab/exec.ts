import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { addProcess, readManifest } from './manifest';
import { hostDir } from './paths';
import { isRunning, outerPidOf, processGroupMembers, processRef } from './processes';
import { shq } from '../activities/ssh/command';

// Runs commands inside a lab host by entering its namespaces with nsenter, not over ssh: scenario
// builders and independent checks must work even when the host's sshd is down or broken.

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the script's stdin; without it stdin is /dev/null, so nothing waits for input. */
  input?: string;
  /** Kill the script (its process group) after this long and reject; default 10 minutes. */
  timeoutMs?: number;
}

/** The environment an ssh session on a lab host gets, rather than this node process's own. */
const HOST_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  USER: 'root',
  LOGNAME: 'root',
  SHELL: '/bin/bash',
  LANG: 'C.UTF-8',
};

/** The running host's namespace init pid, or an error that says how to get the host up. */
export function runningInitPid(host: string): number {
  const manifest = readManifest(host);
  if (!manifest || !isRunning(manifest.init)) {
    throw new Error(`lab host ${host} is not running (no live namespace in ${hostDir(host)}); run \`runbook lab up\` with its scenario first`);
  }
  return manifest.init.pid;
}

/** Run `bash -c script` in the host's mount, UTS and PID namespaces, with /root as working folder. */
export async function execInHost(host: string, script: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const initPid = runningInitPid(host);
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  return new Promise((resolve, reject) => {
    // -w without a folder takes the init's working folder, which is the host's own /root (a folder
    // given here would be opened before nsenter enters the mount namespace: the machine's /root).
    const child = spawn('nsenter', ['-t', String(initPid), '-m', '-u', '-p', '-w', '--', 'bash', '-c', script], {
      env: HOST_ENV,
      cwd: '/',
      detached: true, // its own process group, so a timeout kills the script and everything it started
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => stdout.push(b));
    child.stderr?.on('data', (b: Buffer) => stderr.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // Kill the script's process group but not nsenter itself: nsenter then reaps its child and
      // exits. Were nsenter killed first, the script's processes would be re-parented to this
      // machine's init (nsenter's PID namespace), and the host's namespace could not end until
      // that init reaped them.
      const pgid = child.pid;
      if (pgid === undefined) return;
      for (const pid of processGroupMembers(pgid)) {
        if (pid === pgid) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      setTimeout(() => {
        try {
          if (child.exitCode === null && child.signalCode === null) process.kill(pgid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 2000).unref();
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run nsenter for lab host ${host}: ${err.message} (util-linux provides nsenter; run scripts/setup.sh)`));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      const out = { code: code ?? 128 + (sig === 'SIGKILL' ? 9 : 15), stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
      if (timedOut) {
        reject(new Error(`a command in lab host ${host} ran longer than ${timeoutMs} ms and was killed: ${script.slice(0, 200)}${out.stderr ? `\nstderr: ${out.stderr.slice(-1000)}` : ''}`));
      } else {
        resolve(out);
      }
    });
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => undefined); // the script may exit without reading its input
      child.stdin?.end(opts.input);
    }
  });
}

export interface SpawnOptions {
  /** Where the process's stdout and stderr go, as a path inside the host; default a new file in the host's log folder. */
  logFile?: string;
}

let spawnCounter = 0;

/**
 * Start a long-running process (a service, a daemon) in the host, detached in its own session.
 * Returns its pid as this machine sees it and records it in the host's manifest, so lab down stops it.
 */
export async function spawnInHost(host: string, script: string, opts: SpawnOptions = {}): Promise<number> {
  const initPid = runningInitPid(host);
  const logFile = opts.logFile ?? path.join(hostDir(host), 'log', `spawn-${Date.now()}-${++spawnCounter}.log`);
  // In a non-interactive bash a background job is not a process-group leader, so setsid does not
  // fork and $! is the pid of the process itself.
  const launcher = `setsid bash -c ${shq(script)} </dev/null >>${shq(logFile)} 2>&1 & echo $!`;
  const result = await execInHost(host, launcher, { timeoutMs: 30_000 });
  const innerPid = Number(result.stdout.trim());
  if (result.code !== 0 || !Number.isInteger(innerPid) || innerPid <= 0) {
    throw new Error(`could not start a process in lab host ${host} (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  const outer = outerPidOf(initPid, innerPid);
  const ref = outer === null ? null : processRef(outer);
  if (!ref) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '(no log; the path is inside the host)';
    throw new Error(`the process started in lab host ${host} exited at once: ${script.slice(0, 200)}\nits log ${logFile}:\n${tail}`);
  }
  addProcess(host, ref);
  return ref.pid;
}
