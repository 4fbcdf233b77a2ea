import { sh, type ShellCommand } from '../ssh/command';

// The engine drill's side effects: a marker log on a host, written at most once per step even when a
// worker dies mid-step and the step is retried while the first attempt's remote command still runs.
// Pure: workflows import these to show a plan's exact commands.

export function drillDoCommand(dir: string, step: number, stepSeconds: number): ShellCommand {
  const done = `${dir}/step-${step}.done`;
  // flock serialises a retry behind an orphaned first attempt; the .done check makes the retry a no-op.
  const script = sh`if [ -e ${done} ]; then echo already-done; else sleep ${stepSeconds}; echo ${`do ${step}`} >> ${`${dir}/log`}; touch ${done}; echo done; fi`;
  return sh`mkdir -p ${dir} && flock ${`${dir}/lock`} sh -c ${script.text}`;
}

export function drillUndoCommand(dir: string, step: number): ShellCommand {
  const done = `${dir}/step-${step}.done`;
  const script = sh`if [ -e ${done} ]; then echo ${`undo ${step}`} >> ${`${dir}/log`}; rm -f ${done}; echo undone; else echo nothing-to-undo; fi`;
  return sh`mkdir -p ${dir} && flock ${`${dir}/lock`} sh -c ${script.text}`;
}

/** What a step cut short leaves to settle: appends "settle <step>" once. */
export function drillSettleCommand(dir: string, step: number): ShellCommand {
  const settled = `${dir}/step-${step}.settled`;
  const script = sh`if [ -e ${settled} ]; then echo already-settled; else echo ${`settle ${step}`} >> ${`${dir}/log`}; touch ${settled}; echo settled; fi`;
  return sh`mkdir -p ${dir} && flock ${`${dir}/lock`} sh -c ${script.text}`;
}
