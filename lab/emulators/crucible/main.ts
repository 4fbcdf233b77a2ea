import { UsageError } from './args';
import { createCommand } from './create';
import { dscCommand } from './dsc';
import { dumpCommand } from './dump';
import { exportCommand, verifyCommand } from './export-verify';
import { CommandError, logCommand, type Io } from './io';
import { RegionError } from './region';
import { runCommand } from './server';

// Entry point of the bundle: `node crucible-emu.cjs <program> [args]`, where program is
// `crucible-downstairs` or `dsc` (one wrapper script each). Exit codes as the Rust tools: 0 done,
// 1 an error (`Error: ...` on stderr), 2 a bad command line (clap), 101 a panic.

export const PROGRAMS = ['crucible-downstairs', 'dsc'] as const;

export const DOWNSTAIRS_VERSION = 'Crucible Version: 0.0.1 (lab emulator, durable-runbooks lab/emulators/crucible)';

async function downstairs(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create':
      return createCommand(rest, io);
    case 'run':
      return await runCommand(rest, io);
    case 'dump':
      return dumpCommand(rest, io);
    case 'export':
      return exportCommand(rest, io);
    case 'verify':
      return verifyCommand(rest, io);
    case 'version':
      io.out(`${DOWNSTAIRS_VERSION}\n`);
      return 0;
    case 'clone':
    case 'serve':
    case 'extent-info':
      throw new CommandError(`'${sub}' is not modelled by the lab emulator`);
    case undefined:
      throw new UsageError("'crucible-downstairs' requires a subcommand but one was not provided\n  [subcommands: create, dump, export, run, verify, version]");
    default:
      throw new UsageError(`unrecognized subcommand '${sub}'`);
  }
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [program, ...args] = argv;
  if (program === 'crucible-downstairs' && (args[0] === 'create' || args[0] === 'run')) logCommand(io, args.join(' '));
  try {
    if (program === 'dsc') return await dscCommand(args, io);
    if (program === 'crucible-downstairs') return await downstairs(args, io);
    throw new UsageError(`unknown program ${program ?? ''}`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}\n\nFor more information, try '--help'.\n`);
      return 2;
    }
    if (err instanceof CommandError || err instanceof RegionError) {
      io.err(`Error: ${err.message}\n`);
      return 1;
    }
    const e = err as NodeJS.ErrnoException;
    if (e && typeof e.code === 'string') {
      io.err(`Error: ${e.message}\n`);
      return 1;
    }
    throw err;
  }
}
