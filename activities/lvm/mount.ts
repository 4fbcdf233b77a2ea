import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { StepOutput, VerifyOutcome } from '../../common/step';
import { act } from './act';
import { storageCommands as c } from './commands';
import { readMountpoint, refuse } from './read';
import type { ActResult } from './types';

/** Step 2: remount read-write, only if it is mounted read-only (checked first, so a retry does nothing). */
export async function remountReadWrite(host: string, mountPoint: string): Promise<StepOutput<ActResult>> {
  const session = new HostSession(sharedPool(), host);
  const mount = await readMountpoint(session, mountPoint);
  if (!mount) refuse(`${mountPoint} is not mounted on ${host}; mount it first (this runbook repairs a mounted volume)`, 'NotMounted');
  if (!mount.readOnly) return session.output({ changed: false, detail: `${mountPoint} is already mounted read-write` });
  await act(session, c.remountReadWrite(mountPoint), { what: `remounting ${mountPoint} read-write` });
  return session.output({ changed: true, detail: `remounted ${mount.source} on ${mountPoint} read-write` });
}

/** Verify of step 2: the mount says rw and a real write (synced, then removed) succeeds. */
export async function probeWritable(host: string, mountPoint: string): Promise<StepOutput<VerifyOutcome>> {
  const session = new HostSession(sharedPool(), host);
  const mount = await readMountpoint(session, mountPoint);
  if (!mount || mount.readOnly) return session.output({ ok: false, detail: `${mountPoint} is ${mount ? 'still mounted read-only' : 'not mounted'}` });
  const probe = await session.run(c.writeProbe(mountPoint));
  const ok = probe.record.exitCode === 0 && probe.stdout.trim() === 'writable';
  return session.output({ ok, detail: ok ? `${mountPoint} is rw and a write probe succeeded` : `write probe failed: ${probe.stderr.trim()}` });
}
