import path from 'node:path';
import { count, has, parseArgs } from './args';
import { lvextend } from './commands/lvextend';
import { pvmove } from './commands/pvmove';
import { displayCommand, reportCommand } from './commands/reports';
import { lvchange, pvchange, pvcreate, pvremove, pvresize, vgchange, vgextend, vgreduce } from './commands/pv-vg';
import { DeviceError } from './devices';
import { ECMD_FAILED, EINVALID_CMD_LINE, LvmError, checkConsistency } from './model';
import { error, setVerbosity } from './output';
import { StateError, readState } from './state';

// Entry point of the bundled emulator: `node lvm-emu.cjs <command> [args]`, run by one wrapper
// script per command name (pvs, lvextend, ...). Exit codes are LVM's: 0 done, 3 bad command line,
// 5 failed.

export const COMMANDS = [
  'pvs',
  'vgs',
  'lvs',
  'pvdisplay',
  'vgdisplay',
  'lvdisplay',
  'pvcreate',
  'pvremove',
  'pvchange',
  'pvresize',
  'pvmove',
  'vgextend',
  'vgreduce',
  'vgchange',
  'lvchange',
  'lvextend',
  'lvresize',
  'lvm',
] as const;
export type CommandName = (typeof COMMANDS)[number];

function dispatch(command: string, argv: string[]): number {
  switch (command) {
    case 'pvs':
    case 'vgs':
    case 'lvs':
      return reportCommand(command, argv);
    case 'pvdisplay':
    case 'vgdisplay':
    case 'lvdisplay':
      return displayCommand(command, argv);
    case 'pvcreate':
      return pvcreate(argv);
    case 'pvremove':
      return pvremove(argv);
    case 'pvchange':
      return pvchange(argv);
    case 'pvresize':
      return pvresize(argv);
    case 'pvmove':
      return pvmove(argv);
    case 'vgextend':
      return vgextend(argv);
    case 'vgreduce':
      return vgreduce(argv);
    case 'vgchange':
      return vgchange(argv);
    case 'lvchange':
      return lvchange(argv);
    case 'lvextend':
    case 'lvresize':
      return lvextend(command, argv);
    case 'lvm': {
      // `lvm <command> ...` as the real multiplexer; `lvm version` says what this is.
      const [sub, ...rest] = argv;
      if (sub === 'version' || sub === undefined) {
        process.stdout.write('  LVM version:     2.03.16(2) (lab emulator: LVM metadata in a state file, LVs on loop devices)\n');
        return 0;
      }
      if (sub === 'fsck-metadata') {
        // An emulator-only self-check used by tests: the invariants lvm2's check_pv_segments enforces.
        const problems = checkConsistency(readState());
        for (const p of problems) error(p);
        return problems.length ? ECMD_FAILED : 0;
      }
      return dispatch(sub, rest);
    }
    default:
      error(`No such command '${command}'.  Try 'help'.`);
      return EINVALID_CMD_LINE;
  }
}

export function main(argv: string[]): number {
  const [first, ...rest] = argv;
  const command = first ? path.basename(first) : '';
  // -v / -q are read before the command parses its own options, so early messages honour them.
  try {
    const common = parseArgs(
      command,
      rest.filter((a) => /^-(v+|q+)$|^--(verbose|quiet)$/.test(a)),
      [],
    );
    setVerbosity(count(common, 'verbose'), has(common, 'quiet'));
  } catch {
    setVerbosity(0, false);
  }
  try {
    return dispatch(command, rest);
  } catch (err) {
    if (err instanceof LvmError) {
      error(err.message);
      return err.exitCode;
    }
    if (err instanceof StateError || err instanceof DeviceError) {
      error(err.message);
      return ECMD_FAILED;
    }
    error(`Internal error in the LVM emulator: ${(err as Error).stack ?? String(err)}`);
    return ECMD_FAILED;
  }
}
