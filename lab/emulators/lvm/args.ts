import { EINVALID_CMD_LINE, LvmError } from './model';

// Command-line parsing the way LVM's getopt_long does it: options and positional arguments in any
// order, "--opt value", "--opt=value", "-L4G", "-L 4G", flags that may repeat (-vv), "--" ending options.

export interface OptionSpec {
  long: string;
  short?: string;
  /** Takes a value. */
  value?: boolean;
}

/** Options every LVM command accepts (lvm(8) "common options"). */
export const COMMON_OPTIONS: OptionSpec[] = [
  { long: 'verbose', short: 'v' },
  { long: 'quiet', short: 'q' },
  { long: 'yes', short: 'y' },
  { long: 'debug', short: 'd' },
  { long: 'test', short: 't' },
  { long: 'help', short: 'h' },
  { long: 'autobackup', short: 'A', value: true },
  { long: 'config', value: true },
  { long: 'commandprofile', value: true },
  { long: 'driverloaded', value: true },
  { long: 'lockopt', value: true },
  { long: 'longhelp' },
  { long: 'nolocking' },
  { long: 'profile', value: true },
  { long: 'version' },
  { long: 'devices', value: true },
  { long: 'devicesfile', value: true },
  { long: 'journal', value: true },
];

export interface ParsedArgs {
  /** Values by long option name, in order given (flags get ""). */
  options: Map<string, string[]>;
  positional: string[];
}

export function parseArgs(command: string, argv: string[], specs: OptionSpec[]): ParsedArgs {
  const all = [...COMMON_OPTIONS, ...specs];
  const byLong = new Map(all.map((s) => [s.long, s]));
  const byShort = new Map(all.filter((s) => s.short).map((s) => [s.short as string, s]));
  const options = new Map<string, string[]>();
  const positional: string[] = [];
  const add = (spec: OptionSpec, value: string) => options.set(spec.long, [...(options.get(spec.long) ?? []), value]);
  const bad = (msg: string): never => {
    process.stderr.write(`${command}: ${msg}\n`);
    throw new LvmError('Error during parsing of command line.', EINVALID_CMD_LINE);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const spec = byLong.get(name);
      if (!spec) bad(`unrecognized option '${arg}'`);
      const s = spec as OptionSpec;
      if (s.value) {
        if (eq >= 0) add(s, arg.slice(eq + 1));
        else if (i + 1 < argv.length) add(s, argv[++i]);
        else bad(`option '--${name}' requires an argument`);
      } else {
        if (eq >= 0) bad(`option '--${name}' doesn't allow an argument`);
        add(s, '');
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      // A cluster of short options; one that takes a value consumes the rest of the word or the next word.
      for (let j = 1; j < arg.length; j++) {
        const spec = byShort.get(arg[j]);
        if (!spec) bad(`invalid option -- '${arg[j]}'`);
        const s = spec as OptionSpec;
        if (s.value) {
          const rest = arg.slice(j + 1);
          if (rest) add(s, rest);
          else if (i + 1 < argv.length) add(s, argv[++i]);
          else bad(`option requires an argument -- '${arg[j]}'`);
          break;
        }
        add(s, '');
      }
      continue;
    }
    positional.push(arg);
  }
  return { options, positional };
}

export function has(args: ParsedArgs, long: string): boolean {
  return args.options.has(long);
}

export function count(args: ParsedArgs, long: string): number {
  return args.options.get(long)?.length ?? 0;
}

/** The last value given for an option (LVM keeps the last), or undefined. */
export function value(args: ParsedArgs, long: string): string | undefined {
  const v = args.options.get(long);
  return v ? v[v.length - 1] : undefined;
}

/** y/n option values (-A y, -x n, --allocatable y). */
export function yesNo(command: string, opt: string, v: string): boolean {
  if (v === 'y' || v === 'yes') return true;
  if (v === 'n' || v === 'no') return false;
  process.stderr.write(`  Invalid argument for --${opt}: ${v}\n`);
  throw new LvmError('Error during parsing of command line.', EINVALID_CMD_LINE);
}
