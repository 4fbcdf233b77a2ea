// Sizes as LVM prints and parses them. Printing follows libdm's dm_size_to_string
// (device_mapper/libdm-string.c) with lvm.conf's defaults (units "r", si_unit_consistency=1):
// lower-case units are powers of 1024, upper-case of 1000, "r" is human-readable base 1024 with a
// "<" prefix when the shown value was rounded up. Arithmetic is done on exact integers (BigInt):
// glibc's %.2f rounds the exact binary value half-to-even, and so do we.

export type SuffixStyle = 'long' | 'short' | 'unit';

export interface Units {
  /** The --units letter: h H r R b B s S k K m M g G t T p P e E (default r). */
  type: string;
  /** --nosuffix clears it; human-readable units always print their suffix. */
  suffix: boolean;
}

export const DEFAULT_UNITS: Units = { type: 'r', suffix: true };

type Row = readonly [long: string, short: string, unit: string];

const UNKNOWN: Row = ['         ', '   ', ' '];
// BASE_1024 (lower case), in order e p t g m k, then bytes.
const BASE_1024: Row[] = [
  [' Exbibyte', ' EiB', 'e'],
  [' Pebibyte', ' PiB', 'p'],
  [' Tebibyte', ' TiB', 't'],
  [' Gibibyte', ' GiB', 'g'],
  [' Mebibyte', ' MiB', 'm'],
  [' Kibibyte', ' KiB', 'k'],
  [' Byte    ', ' B', 'b'],
];
// BASE_1000 (upper case), then the shared bytes row.
const BASE_1000: Row[] = [
  [' Exabyte', ' EB', 'E'],
  [' Petabyte', ' PB', 'P'],
  [' Terabyte', ' TB', 'T'],
  [' Gigabyte', ' GB', 'G'],
  [' Megabyte', ' MB', 'M'],
  [' Kilobyte', ' kB', 'K'],
  [' Byte    ', ' B ', 'B'],
];
const SPECIAL: Row[] = [
  [' Byte    ', ' B ', 'B'],
  [' Units   ', ' Un', 'U'],
  [' Sectors ', ' Se', 'S'],
];
const PREFIXES_1024 = 'eptgmk';
const PREFIXES_1000 = 'EPTGMK';

const styleIndex = (style: SuffixStyle): number => (style === 'long' ? 0 : style === 'short' ? 1 : 2);

export function isValidUnits(type: string): boolean {
  return /^[hHrRbBsSkKmMgGtTpPeE]$/.test(type);
}

/** The byte factor of a fixed unit letter (b, s, k..e, K..E); null for human-readable ones. */
function unitFactor(type: string): bigint | null {
  const i1024 = PREFIXES_1024.indexOf(type);
  if (i1024 >= 0) return 1024n ** BigInt(6 - i1024);
  const i1000 = PREFIXES_1000.indexOf(type);
  if (i1000 >= 0) return 1000n ** BigInt(6 - i1000);
  if (type === 'b' || type === 'B') return 1n;
  if (type === 's' || type === 'S') return 512n;
  return null;
}

/** value/divisor rounded half-to-even to `precision` decimals, as a decimal string. */
function roundedDecimal(value: bigint, divisor: bigint, precision: number): { text: string; roundedUp: boolean } {
  const scale = 10n ** BigInt(precision);
  const scaled = value * scale;
  let q = scaled / divisor;
  const r = scaled % divisor;
  let roundedUp = false;
  if (2n * r > divisor || (2n * r === divisor && q % 2n === 1n)) {
    q += 1n;
    roundedUp = true;
  }
  if (precision === 0) return { text: q.toString(), roundedUp };
  const s = q.toString().padStart(precision + 1, '0');
  return { text: `${s.slice(0, -precision)}.${s.slice(-precision)}`, roundedUp };
}

/** dm_size_to_string for a size in bytes. */
export function formatSize(bytesIn: number | bigint, units: Units = DEFAULT_UNITS, style: SuffixStyle = 'unit'): string {
  const size = BigInt(bytesIn);
  const idx = styleIndex(style);
  const t = units.type;
  let row: Row | null = null;
  let factor: bigint | null = null;
  let prefix = '';
  let includeSuffix = units.suffix;

  const i1000 = PREFIXES_1000.indexOf(t);
  const i1024 = PREFIXES_1024.indexOf(t);
  if (i1000 >= 0) row = BASE_1000[i1000];
  else if (i1024 >= 0) row = BASE_1024[i1024];
  else if ('BUS'.includes(t.toUpperCase()) && t.toUpperCase() !== 'U') row = SPECIAL['BUS'.indexOf(t.toUpperCase())];

  if (size === 0n) {
    const r = row ?? UNKNOWN;
    return `0${includeSuffix ? r[idx] : ''}`;
  }

  if (row) {
    factor = unitFactor(t);
  } else {
    // Human-readable: the largest unit not larger than the size.
    const base = t === 'H' || t === 'R' ? 1000n : 1024n;
    const table = base === 1000n ? BASE_1000 : BASE_1024;
    let byte = base ** 6n;
    let s = 0;
    while (s < 6 && size < byte) {
      byte /= base;
      s++;
    }
    row = table[s];
    factor = byte;
    if (s < 6 && (t === 'r' || t === 'R') && roundedDecimal(size, byte, 2).roundedUp) prefix = '<';
    includeSuffix = true;
  }
  const precision = 'BS'.includes(row[2].toUpperCase()) ? 0 : 2;
  const { text } = roundedDecimal(size, factor ?? 1n, precision);
  return `${prefix}${text}${includeSuffix ? row[idx] : ''}`;
}

/** display_size(): sizes in messages and pvdisplay/vgdisplay/lvdisplay ("<1.76 GiB"). */
export function displaySize(bytes: number | bigint, units: Units = DEFAULT_UNITS): string {
  return formatSize(bytes, units, 'short');
}

export interface SizeArg {
  sign: '' | '+' | '-';
  bytes: number;
}

/**
 * A size option value as LVM parses it (-L, --setphysicalvolumesize): a decimal number and an
 * optional unit letter, MiB by default. Input units are always powers of 1024 whatever their case
 * (lvm2 >= 2.02.x; see lvcreate(8) "--size"). Returns null when the value is not a size.
 */
export function parseSizeArg(value: string, defaultUnit = 'm', allowSign = false): SizeArg | null {
  const m = /^([+-]?)(\d+(?:\.\d+)?|\.\d+)([bBsSkKmMgGtTpPeE]?)$/.exec(value.trim());
  if (!m) return null;
  const sign = m[1] as SizeArg['sign'];
  if (sign && !allowSign) return null;
  const unit = (m[3] || defaultUnit).toLowerCase();
  const factors: Record<string, number> = { b: 1, s: 512, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5, e: 1024 ** 6 };
  const bytes = Math.round(Number(m[2]) * factors[unit]);
  return { sign, bytes };
}
