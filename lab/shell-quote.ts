// Scripts run inside lab hosts are built by string interpolation; every interpolated value goes
// through shq so a path or name with a space or quote stays one literal word.

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one value as a single shell word, single-quote style: it's → 'it'\''s'. */
export function shq(value: string | number): string {
  const s = String(value);
  if (s === '') return "''";
  if (SAFE_WORD.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** bash`rm -f ${file}`: a script whose interpolations are quoted words; arrays become several words. */
export function bash(strings: TemplateStringsArray, ...values: Array<string | number | ReadonlyArray<string | number>>): string {
  let out = strings[0];
  values.forEach((v, i) => {
    out += (Array.isArray(v) ? (v as ReadonlyArray<string | number>).map(shq).join(' ') : shq(v as string | number)) + strings[i + 1];
  });
  return out;
}
