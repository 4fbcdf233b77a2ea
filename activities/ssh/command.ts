// The only way a runbook builds a remote command. Every interpolated value is quoted as one literal
// shell word, as zx's `$` does, so no input can inject shell. Pure code: workflows import it too, to
// show the exact commands a plan would run.

const SECRET = Symbol('secret');
const RAW = Symbol('raw');

export interface Secret {
  readonly [SECRET]: string;
}
export interface Raw {
  readonly [RAW]: string;
}

/** A value that is quoted like any other but shown as *** in audit records and errors. */
export function secret(value: string): Secret {
  return { [SECRET]: value };
}

/** A fragment that is deliberately NOT quoted, for fixed syntax such as `|` or `2>&1` written by us, never for input. */
export function raw(fragment: string): Raw {
  return { [RAW]: fragment };
}

export interface ShellCommand {
  /** What runs on the host. */
  readonly text: string;
  /** The same with secrets replaced by ***, for audit records, errors and plans. */
  readonly display: string;
}

type Interpolation = string | number | bigint | boolean | Secret | Raw | ShellCommand | ReadonlyArray<string | number | Secret>;

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one value as a single shell word. */
export function quote(value: string): string {
  if (value === '') return "''";
  if (SAFE_WORD.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function isSecret(v: unknown): v is Secret {
  return typeof v === 'object' && v !== null && SECRET in v;
}
function isRaw(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && RAW in v;
}
function isCommand(v: unknown): v is ShellCommand {
  return typeof v === 'object' && v !== null && 'text' in v && 'display' in v;
}

function render(v: Interpolation): { text: string; display: string } {
  if (isSecret(v)) return { text: quote(v[SECRET]), display: '***' };
  if (isRaw(v)) return { text: v[RAW], display: v[RAW] };
  if (isCommand(v)) return { text: v.text, display: v.display };
  if (Array.isArray(v)) {
    const parts = v.map((item) => render(item as Interpolation));
    return { text: parts.map((p) => p.text).join(' '), display: parts.map((p) => p.display).join(' ') };
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
    const q = quote(String(v));
    return { text: q, display: q };
  }
  throw new TypeError(`cannot interpolate a ${typeof v} into a shell command`);
}

/**
 * sh`lvextend -L ${size} ${lv}` → a ShellCommand whose interpolations are quoted words.
 * Arrays become several words; a nested ShellCommand is inserted as already built.
 */
export function sh(strings: TemplateStringsArray, ...values: Interpolation[]): ShellCommand {
  let text = strings[0];
  let display = strings[0];
  values.forEach((value, i) => {
    const r = render(value);
    text += r.text + strings[i + 1];
    display += r.display + strings[i + 1];
  });
  return { text, display };
}

/** Join commands with `&&`, so the first failure stops the rest. */
export function and(...commands: ShellCommand[]): ShellCommand {
  return { text: commands.map((c) => c.text).join(' && '), display: commands.map((c) => c.display).join(' && ') };
}

/**
 * For the lab and tests, which build local scripts as plain strings: the same quoting rule as `sh`
 * (one rule to audit), returning the text. shq(x) is one quoted word; bash`…` is sh`…`.text.
 */
export function shq(value: string | number): string {
  return quote(String(value));
}

export function bash(strings: TemplateStringsArray, ...values: Interpolation[]): string {
  return sh(strings, ...values).text;
}
