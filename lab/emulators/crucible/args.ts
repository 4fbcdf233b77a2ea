// A small command-line parser in the manner of clap (which the real tools use): long and short
// options, `--opt value` and `--opt=value`, repeatable options, and clap's exit code 2 with an
// `error: ...` line for a bad command line.

export class UsageError extends Error {}

export interface OptSpec {
  long: string;
  short?: string;
  /** Takes a value (default) or is a flag. */
  flag?: boolean;
  /** May be given more than once. */
  multiple?: boolean;
  /** The value's name in messages, e.g. DIRECTORY. */
  value?: string;
}

export type Parsed = { values: Map<string, string[]>; flags: Set<string>; positionals: string[] };

export function parse(args: string[], specs: OptSpec[], opts: { positionals?: number } = {}): Parsed {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    let spec: OptSpec | undefined;
    let inline: string | undefined;
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
      inline = eq === -1 ? undefined : a.slice(eq + 1);
      spec = byLong.get(name);
    } else if (a.startsWith('-') && a.length >= 2 && a !== '-') {
      spec = byShort.get(a[1]);
      if (a.length > 2) inline = a.slice(2);
    } else {
      positionals.push(a);
      continue;
    }
    if (!spec) throw new UsageError(`unexpected argument '${a}' found`);
    if (spec.flag) {
      if (inline !== undefined) throw new UsageError(`unexpected value '${inline}' for '--${spec.long}' found; no more were expected`);
      flags.add(spec.long);
      continue;
    }
    const v = inline ?? args[++i];
    if (v === undefined) throw new UsageError(`a value is required for '--${spec.long} <${spec.value ?? spec.long.toUpperCase()}>' but none was supplied`);
    const list = values.get(spec.long) ?? [];
    if (list.length && !spec.multiple) throw new UsageError(`the argument '--${spec.long} <${spec.value ?? spec.long.toUpperCase()}>' cannot be used multiple times`);
    list.push(v);
    values.set(spec.long, list);
  }
  if (positionals.length > (opts.positionals ?? 0)) throw new UsageError(`unexpected argument '${positionals[opts.positionals ?? 0]}' found`);
  return { values, flags, positionals };
}

export function one(p: Parsed, long: string): string | undefined {
  return p.values.get(long)?.[0];
}

export function all(p: Parsed, long: string): string[] {
  return p.values.get(long) ?? [];
}

export function required(p: Parsed, long: string, valueName: string): string {
  const v = one(p, long);
  if (v === undefined) throw new UsageError(`the following required arguments were not provided:\n  --${long} <${valueName}>`);
  return v;
}

/** An unsigned integer option (clap's u64/u32 parsing): digits only. */
export function uint(p: Parsed, long: string, dflt: number, valueName = long.toUpperCase()): number {
  const v = one(p, long);
  if (v === undefined) return dflt;
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`invalid value '${v}' for '--${long} <${valueName}>': invalid digit found in string`);
  return Number(v);
}

export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
