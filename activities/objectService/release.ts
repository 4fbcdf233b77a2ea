import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { StepOutput, VerifyOutcome } from '../../common/step';
import { readContainingMount, readUsage, refuse } from '../lvm/read';
import type { DeletedOpenFile } from '../lvm/types';
import { serviceCommands as c } from './commands';
import { answers, serviceLabel, serviceUrl } from './http';
import { isUnder, parseLsofDeleted } from './lsof';

// Step 6: space held by deleted-but-open files comes back only when their holder closes them. The
// holder here is the object service, kept alive by a supervisor: a SIGTERM makes it finish its
// requests and exit, and the supervisor starts a fresh one. We only ever signal a process whose
// parent is that supervisor, so the service always comes back.

export interface ServiceRef {
  /** The supervisor's pid file on the host. */
  supervisorPidFile: string;
  port: number;
  healthPath: string;
  /** How long the old process may take to exit, and the new one to answer. */
  timeoutSeconds: number;
}

export interface ReleaseResult {
  changed: boolean;
  /** The filesystem the space was needed on. */
  filesystem: string;
  holders: Array<{ pid: number; command: string; files: string[]; bytes: number }>;
  heldBytes: number;
  availBytesBefore: number;
  availBytesAfter: number;
  /** From the SIGTERM to the new process answering HTTP. */
  restartMs: number | null;
  detail: string;
}

async function deletedOn(session: HostSession, filesystem: string): Promise<DeletedOpenFile[]> {
  const r = await session.check(c.deletedOpenFiles(), { okExitCodes: [0, 1] });
  return parseLsofDeleted(r.stdout).filter((f) => isUnder(f.path, filesystem));
}

async function waitUntilAnswering(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await answers(url, 1000)).ok) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

export async function releaseDeletedFiles(host: string, dir: string, service: ServiceRef): Promise<StepOutput<ReleaseResult>> {
  const session = new HostSession(sharedPool(), host);
  const mount = await readContainingMount(session, dir);
  if (!mount) refuse(`cannot tell which filesystem holds ${dir} on ${host}`, 'NoFilesystem');
  const [before] = await readUsage(session, [mount.target]);
  const files = await deletedOn(session, mount.target);
  const base = { filesystem: mount.target, availBytesBefore: before.availBytes };
  if (files.length === 0) {
    return session.output({ ...base, changed: false, holders: [], heldBytes: 0, availBytesAfter: before.availBytes, restartMs: null, detail: `no deleted file is held open on ${mount.target}` });
  }
  const supervisor = Number((await session.check(c.readPidFile(service.supervisorPidFile), { what: `reading the supervisor's pid file ${service.supervisorPidFile}` })).stdout.trim());
  if (!Number.isInteger(supervisor) || supervisor <= 1) refuse(`${service.supervisorPidFile} does not hold a pid`, 'NoSupervisor');
  const byPid = new Map<number, DeletedOpenFile[]>();
  for (const f of files) byPid.set(f.pid, [...(byPid.get(f.pid) ?? []), f]);
  const holders = [...byPid.entries()].map(([pid, fs]) => ({ pid, command: fs[0].command, ppid: fs[0].ppid, files: fs.map((f) => f.path), bytes: fs.reduce((n, f) => n + f.sizeBytes, 0) }));
  const unsupervised = holders.filter((h) => h.ppid !== supervisor);
  if (unsupervised.length) {
    refuse(
      `deleted files on ${mount.target} are held by ${unsupervised.map((h) => `${h.command} (pid ${h.pid}, parent ${h.ppid})`).join(', ')}, ` +
        `which the supervisor (pid ${supervisor}) does not run; restarting those would take them down for good, so this needs an operator`,
      'UnsupervisedHolder',
    );
  }
  const url = serviceUrl(host, service.port, service.healthPath);
  const began = Date.now();
  for (const h of holders) {
    await session.check(c.terminateSupervisedChild(h.pid, supervisor, service.timeoutSeconds), {
      what: `stopping ${h.command} (pid ${h.pid}) gracefully`,
      timeoutMs: (service.timeoutSeconds + 30) * 1000,
    });
  }
  const answering = await waitUntilAnswering(url, service.timeoutSeconds * 1000);
  const restartMs = Date.now() - began;
  if (!answering)
    refuse(
      `the service did not answer ${serviceLabel(host, service.port, service.healthPath)} within ${service.timeoutSeconds}s of its restart; check its supervisor (pid ${supervisor}) and log`,
      'ServiceDidNotReturn',
    );
  const [after] = await readUsage(session, [mount.target]);
  const heldBytes = holders.reduce((n, h) => n + h.bytes, 0);
  return session.output({
    ...base,
    changed: true,
    holders: holders.map(({ pid, command, files: f, bytes }) => ({ pid, command, files: f, bytes })),
    heldBytes,
    availBytesAfter: after.availBytes,
    restartMs,
    detail: `restarted ${holders.map((h) => `${h.command} (pid ${h.pid})`).join(', ')} through the supervisor; ${mount.target} free ${before.availBytes} -> ${after.availBytes} bytes; answering again after ${restartMs} ms`,
  });
}

/**
 * Verify of step 6: nothing deleted is held open on the filesystem any more, its free space is at
 * least `minAvailBytes` (what was free plus what was held), and the service answers.
 */
export async function checkSpaceReleased(host: string, dir: string, service: ServiceRef, minAvailBytes = 0): Promise<StepOutput<VerifyOutcome>> {
  const session = new HostSession(sharedPool(), host);
  const mount = await readContainingMount(session, dir);
  if (!mount) return session.output({ ok: false, detail: `no filesystem holds ${dir}` });
  const files = await deletedOn(session, mount.target);
  const url = serviceUrl(host, service.port, service.healthPath);
  const health = await answers(url, 2000);
  const [usage] = await readUsage(session, [mount.target]);
  const ok = files.length === 0 && health.ok && usage.availBytes >= minAvailBytes;
  const detail = [
    files.length ? `${files.length} deleted files still held open on ${mount.target} (${files.map((f) => `${f.path} by pid ${f.pid}`).join(', ')})` : `nothing deleted is held open on ${mount.target}`,
    health.ok ? `the service answers (${health.status})` : `the service does not answer ${serviceLabel(host, service.port, service.healthPath)} (${health.error ?? health.status})`,
    `${usage.availBytes} bytes free${usage.availBytes < minAvailBytes ? `, expected at least ${minAvailBytes}` : ''}`,
  ].join('; ');
  return session.output({ ok, detail });
}
