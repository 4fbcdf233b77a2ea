import { ApplicationFailure } from '@temporalio/common';
import { sh } from '../ssh/command';
import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { StepOutput } from '../../common/step';
import { drillDoCommand, drillSettleCommand, drillUndoCommand } from './commands';

export async function drillDo(host: string, dir: string, step: number, stepSeconds: number): Promise<StepOutput<string>> {
  const session = new HostSession(sharedPool(), host);
  const r = await session.check(drillDoCommand(dir, step, stepSeconds), { timeoutMs: (stepSeconds + 60) * 1000 });
  return session.output(r.stdout.trim());
}

export async function drillUndo(host: string, dir: string, step: number): Promise<StepOutput<string>> {
  const session = new HostSession(sharedPool(), host);
  const r = await session.check(drillUndoCommand(dir, step));
  return session.output(r.stdout.trim());
}

/** `true` (the per-step benchmark), or `sleep <seconds>` to leave time to kill a worker mid-step. */
export async function drillTrue(host: string, seconds = 0): Promise<StepOutput<null>> {
  const session = new HostSession(sharedPool(), host);
  await session.check(seconds > 0 ? sh`sleep ${seconds}` : sh`true`);
  return session.output(null);
}

/** Fails like a real command failure: the audit gets the command and its exit code. */
export async function drillFail(host: string, step: number): Promise<StepOutput<never>> {
  const session = new HostSession(sharedPool(), host);
  const r = await session.run(sh`echo ${`step ${step} fails on purpose`} >&2; exit 3`);
  throw ApplicationFailure.create({ message: `drill step ${step} failed on purpose (exit ${r.record.exitCode})`, type: 'DrillFailure', nonRetryable: true, details: [r.record] });
}

/** Settle a step that was cut short (the engine's MutateStep.settle). */
export async function drillSettle(host: string, dir: string, step: number): Promise<StepOutput<string>> {
  const session = new HostSession(sharedPool(), host);
  const r = await session.check(drillSettleCommand(dir, step));
  return session.output(r.stdout.trim());
}

/** Read-only: the marker log, for verify steps and tests. */
export async function drillReadLog(host: string, dir: string): Promise<StepOutput<string[]>> {
  const session = new HostSession(sharedPool(), host);
  const r = await session.check(sh`cat ${`${dir}/log`} 2>/dev/null || true`);
  return session.output(r.stdout.split('\n').filter(Boolean));
}
