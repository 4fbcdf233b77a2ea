// How LVM talks: log_print lines go to stdout, errors, warnings and verbose lines to stderr, every
// line indented by two spaces (LVM's message prefix, lib/log/log.c).

let verbosity = 0;
let quiet = false;

export function setVerbosity(level: number, silent: boolean): void {
  verbosity = level;
  quiet = silent;
}

/** log_print: normal output. */
export function print(msg: string): void {
  process.stdout.write(`  ${msg}\n`);
}

/** log_print_unless_silent. */
export function printUnlessQuiet(msg: string): void {
  if (!quiet) print(msg);
}

export function error(msg: string): void {
  process.stderr.write(`  ${msg}\n`);
}

export function warn(msg: string): void {
  if (!quiet) process.stderr.write(`  ${msg}\n`);
}

/** log_verbose (-v). */
export function verbose(msg: string): void {
  if (verbosity >= 1) process.stderr.write(`  ${msg}\n`);
}

/** Raw stdout (reports print whole prefixed lines themselves). */
export function raw(text: string): void {
  process.stdout.write(text);
}
