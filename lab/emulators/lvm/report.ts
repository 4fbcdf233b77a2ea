import { deviceSizeBytes, dmPath, isDeviceOpen, lvPath } from './devices';
import { EINVALID_CMD_LINE, LvmError, leCount, pvAllocCount, pvByUuid, pvSegments, vgExtentCount, vgFreeCount, type PvSegment } from './model';
import { formatSize, type Units } from './sizes';
import { formatUuid, type EmuState, type LvState, type PvState, type SegmentState, type VgState } from './state';

// pvs, vgs and lvs: the fields of lib/report/columns.h that a runbook needs, with their headings
// and minimum widths, rendered as libdm's aligned text table (device_mapper/libdm-report.c) or as
// the JSON report of lvmreport(7) (2-space prefix, 4-space indent, every value a string).

type FieldType = 'STR' | 'NUM' | 'SIZ' | 'PCT' | 'BIN';
type Kind = 'pv' | 'pvseg' | 'vg' | 'lv' | 'seg';

export interface RowContext {
  state: EmuState;
  units: Units;
  vg?: VgState;
  pv?: PvState;
  pvseg?: PvSegment;
  lv?: LvState;
  seg?: SegmentState;
}

interface Field {
  name: string;
  heading: string;
  type: FieldType;
  /** columns.h's minimum display width; 0 = the heading's width. */
  width: number;
  kind: Kind;
  get(ctx: RowContext): string;
  /** Sort key when it differs from the displayed value (sizes sort by number). */
  sortValue?(ctx: RowContext): number | string;
}

const size = (ctx: RowContext, bytes: number) => formatSize(bytes, ctx.units, 'unit');

function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`internal: report row has no ${what}`);
  return v;
}

function devSize(pv: PvState): number {
  try {
    return deviceSizeBytes(pv.device);
  } catch {
    return 0; // a missing device shows 0, as LVM does for a PV it cannot open
  }
}

function pvSizeBytes(ctx: RowContext): number {
  const pv = must(ctx.pv, 'PV');
  // lib/metadata/pv.c pv_size_field: an orphan shows its recorded size, a PV in a VG its extents.
  if (!pv.vg || pv.peCount === 0) return pv.sizeBytes;
  return pv.peCount * must(ctx.vg, 'VG').extentBytes;
}

function pvFreeBytes(ctx: RowContext): number {
  const pv = must(ctx.pv, 'PV');
  if (!pv.vg || pv.peCount === 0) return pv.sizeBytes;
  const vg = must(ctx.vg, 'VG');
  return (pv.peCount - pvAllocCount(vg, pv)) * vg.extentBytes;
}

function pvUsedBytes(ctx: RowContext): number {
  const pv = must(ctx.pv, 'PV');
  return pv.vg ? pvAllocCount(ctx.vg, pv) * must(ctx.vg, 'VG').extentBytes : 0;
}

export function pvAttr(pv: PvState): string {
  // lib/metadata/pv.c: a(llocatable) / u(sed, in a VG but -x n) / - ; x(ported); m(issing).
  const first = pv.vg === null ? '-' : pv.allocatable ? 'a' : 'u';
  return `${first}--`;
}

function lvActive(lv: LvState): boolean {
  return lv.loopDevice !== null;
}

export function lvAttr(lv: LvState): string {
  // man lvs: type, permissions, allocation policy, fixed minor, state, device open, target type,
  // zero, health, skip activation. A linear writable LV with inherited policy: -wi-ao----.
  const active = lvActive(lv);
  const open = active && lv.loopDevice !== null && isDeviceOpen(lv.loopDevice);
  return `-wi-${active ? 'a' : '-'}${open ? 'o' : '-'}----`;
}

const FIELDS: Field[] = [
  // PV fields (and LABEL fields that pvs shows)
  { name: 'pv_name', heading: 'PV', type: 'STR', width: 10, kind: 'pv', get: (c) => must(c.pv, 'PV').device },
  { name: 'pv_fmt', heading: 'Fmt', type: 'STR', width: 0, kind: 'pv', get: () => 'lvm2' },
  { name: 'pv_uuid', heading: 'PV UUID', type: 'STR', width: 38, kind: 'pv', get: (c) => formatUuid(must(c.pv, 'PV').uuid) },
  { name: 'dev_size', heading: 'DevSize', type: 'SIZ', width: 0, kind: 'pv', get: (c) => size(c, devSize(must(c.pv, 'PV'))), sortValue: (c) => devSize(must(c.pv, 'PV')) },
  { name: 'pe_start', heading: '1st PE', type: 'NUM', width: 7, kind: 'pv', get: (c) => size(c, must(c.pv, 'PV').peStartBytes), sortValue: (c) => must(c.pv, 'PV').peStartBytes },
  { name: 'pv_size', heading: 'PSize', type: 'SIZ', width: 0, kind: 'pv', get: (c) => size(c, pvSizeBytes(c)), sortValue: pvSizeBytes },
  { name: 'pv_free', heading: 'PFree', type: 'SIZ', width: 0, kind: 'pv', get: (c) => size(c, pvFreeBytes(c)), sortValue: pvFreeBytes },
  { name: 'pv_used', heading: 'Used', type: 'SIZ', width: 0, kind: 'pv', get: (c) => size(c, pvUsedBytes(c)), sortValue: pvUsedBytes },
  { name: 'pv_attr', heading: 'Attr', type: 'STR', width: 0, kind: 'pv', get: (c) => pvAttr(must(c.pv, 'PV')) },
  {
    name: 'pv_allocatable',
    heading: 'Allocatable',
    type: 'BIN',
    width: 0,
    kind: 'pv',
    get: (c) => (must(c.pv, 'PV').allocatable && c.pv?.vg ? 'allocatable' : ''),
  },
  { name: 'pv_pe_count', heading: 'PE', type: 'NUM', width: 3, kind: 'pv', get: (c) => String(must(c.pv, 'PV').peCount) },
  { name: 'pv_pe_alloc_count', heading: 'Alloc', type: 'NUM', width: 0, kind: 'pv', get: (c) => String(pvAllocCount(c.vg, must(c.pv, 'PV'))) },
  { name: 'pv_tags', heading: 'PV Tags', type: 'STR', width: 0, kind: 'pv', get: () => '' },
  { name: 'pv_mda_count', heading: '#PMda', type: 'NUM', width: 0, kind: 'pv', get: () => '1' },
  { name: 'pv_in_use', heading: 'PInUse', type: 'BIN', width: 0, kind: 'pv', get: (c) => (must(c.pv, 'PV').vg ? 'used' : '') },
  { name: 'pvseg_start', heading: 'Start', type: 'NUM', width: 0, kind: 'pvseg', get: (c) => String(c.pvseg?.pe ?? 0) },
  { name: 'pvseg_size', heading: 'SSize', type: 'NUM', width: 0, kind: 'pvseg', get: (c) => String(c.pvseg?.len ?? 0) },
  // VG fields
  { name: 'vg_name', heading: 'VG', type: 'STR', width: 0, kind: 'vg', get: (c) => c.vg?.name ?? '' },
  { name: 'vg_fmt', heading: 'Fmt', type: 'STR', width: 0, kind: 'vg', get: (c) => (c.vg ? 'lvm2' : '') },
  { name: 'vg_uuid', heading: 'VG UUID', type: 'STR', width: 38, kind: 'vg', get: (c) => (c.vg ? formatUuid(c.vg.uuid) : '') },
  { name: 'vg_attr', heading: 'Attr', type: 'STR', width: 5, kind: 'vg', get: (c) => (c.vg ? 'wz--n-' : '') },
  {
    name: 'vg_size',
    heading: 'VSize',
    type: 'SIZ',
    width: 0,
    kind: 'vg',
    get: (c) => (c.vg ? size(c, vgExtentCount(c.state, c.vg) * c.vg.extentBytes) : ''),
    sortValue: (c) => (c.vg ? vgExtentCount(c.state, c.vg) * c.vg.extentBytes : 0),
  },
  {
    name: 'vg_free',
    heading: 'VFree',
    type: 'SIZ',
    width: 0,
    kind: 'vg',
    get: (c) => (c.vg ? size(c, vgFreeCount(c.state, c.vg) * c.vg.extentBytes) : ''),
    sortValue: (c) => (c.vg ? vgFreeCount(c.state, c.vg) * c.vg.extentBytes : 0),
  },
  { name: 'vg_extent_size', heading: 'Ext', type: 'SIZ', width: 0, kind: 'vg', get: (c) => (c.vg ? size(c, c.vg.extentBytes) : '') },
  { name: 'vg_extent_count', heading: '#Ext', type: 'NUM', width: 0, kind: 'vg', get: (c) => (c.vg ? String(vgExtentCount(c.state, c.vg)) : '') },
  { name: 'vg_free_count', heading: 'Free', type: 'NUM', width: 0, kind: 'vg', get: (c) => (c.vg ? String(vgFreeCount(c.state, c.vg)) : '') },
  { name: 'pv_count', heading: '#PV', type: 'NUM', width: 0, kind: 'vg', get: (c) => (c.vg ? String(c.vg.pvs.length) : '') },
  { name: 'lv_count', heading: '#LV', type: 'NUM', width: 0, kind: 'vg', get: (c) => (c.vg ? String(c.vg.lvs.length) : '') },
  { name: 'snap_count', heading: '#SN', type: 'NUM', width: 0, kind: 'vg', get: (c) => (c.vg ? '0' : '') },
  { name: 'vg_seqno', heading: 'Seq', type: 'NUM', width: 0, kind: 'vg', get: (c) => (c.vg ? String(c.vg.seqno) : '') },
  { name: 'vg_tags', heading: 'VG Tags', type: 'STR', width: 0, kind: 'vg', get: () => '' },
  { name: 'max_lv', heading: 'MaxLV', type: 'NUM', width: 0, kind: 'vg', get: (c) => (c.vg ? '0' : '') },
  { name: 'max_pv', heading: 'MaxPV', type: 'NUM', width: 0, kind: 'vg', get: (c) => (c.vg ? '0' : '') },
  // LV fields
  { name: 'lv_name', heading: 'LV', type: 'STR', width: 4, kind: 'lv', get: (c) => must(c.lv, 'LV').name },
  { name: 'lv_full_name', heading: 'LV', type: 'STR', width: 4, kind: 'lv', get: (c) => `${must(c.vg, 'VG').name}/${must(c.lv, 'LV').name}` },
  { name: 'lv_path', heading: 'Path', type: 'STR', width: 0, kind: 'lv', get: (c) => lvPath('/dev', must(c.vg, 'VG').name, must(c.lv, 'LV').name) },
  { name: 'lv_dm_path', heading: 'DMPath', type: 'STR', width: 0, kind: 'lv', get: (c) => dmPath('/dev', must(c.vg, 'VG').name, must(c.lv, 'LV').name) },
  { name: 'lv_uuid', heading: 'LV UUID', type: 'STR', width: 38, kind: 'lv', get: (c) => formatUuid(must(c.lv, 'LV').uuid) },
  { name: 'lv_attr', heading: 'Attr', type: 'STR', width: 0, kind: 'lv', get: (c) => lvAttr(must(c.lv, 'LV')) },
  {
    name: 'lv_size',
    heading: 'LSize',
    type: 'SIZ',
    width: 0,
    kind: 'lv',
    get: (c) => size(c, leCount(must(c.lv, 'LV')) * must(c.vg, 'VG').extentBytes),
    sortValue: (c) => leCount(must(c.lv, 'LV')) * must(c.vg, 'VG').extentBytes,
  },
  { name: 'lv_active', heading: 'Active', type: 'STR', width: 0, kind: 'lv', get: (c) => (lvActive(must(c.lv, 'LV')) ? 'active' : '') },
  { name: 'seg_count', heading: '#Seg', type: 'NUM', width: 0, kind: 'lv', get: (c) => String(must(c.lv, 'LV').segments.length) },
  { name: 'pool_lv', heading: 'Pool', type: 'STR', width: 0, kind: 'lv', get: () => '' },
  { name: 'origin', heading: 'Origin', type: 'STR', width: 0, kind: 'lv', get: () => '' },
  { name: 'data_percent', heading: 'Data%', type: 'PCT', width: 6, kind: 'lv', get: () => '' },
  { name: 'metadata_percent', heading: 'Meta%', type: 'PCT', width: 6, kind: 'lv', get: () => '' },
  { name: 'move_pv', heading: 'Move', type: 'STR', width: 0, kind: 'lv', get: () => '' },
  { name: 'mirror_log', heading: 'Log', type: 'STR', width: 0, kind: 'lv', get: () => '' },
  { name: 'copy_percent', heading: 'Cpy%Sync', type: 'PCT', width: 0, kind: 'lv', get: () => '' },
  { name: 'convert_lv', heading: 'Convert', type: 'STR', width: 0, kind: 'lv', get: () => '' },
  { name: 'lv_tags', heading: 'LV Tags', type: 'STR', width: 0, kind: 'lv', get: () => '' },
  {
    name: 'lv_kernel_major',
    heading: 'KMaj',
    type: 'NUM',
    width: 0,
    kind: 'lv',
    get: (c) => (lvActive(must(c.lv, 'LV')) ? '7' : '-1'),
  },
  {
    name: 'lv_kernel_minor',
    heading: 'KMin',
    type: 'NUM',
    width: 0,
    kind: 'lv',
    get: (c) => {
      const loop = must(c.lv, 'LV').loopDevice;
      return loop ? loop.replace(/^\/dev\/loop/, '') : '-1';
    },
  },
  // LV segment fields
  { name: 'segtype', heading: 'Type', type: 'STR', width: 0, kind: 'seg', get: () => 'linear' },
  { name: 'stripes', heading: '#Str', type: 'NUM', width: 0, kind: 'seg', get: () => '1' },
  { name: 'seg_start', heading: 'Start', type: 'SIZ', width: 0, kind: 'seg', get: (c) => size(c, must(c.seg, 'segment').le * must(c.vg, 'VG').extentBytes) },
  { name: 'seg_start_pe', heading: 'Start', type: 'NUM', width: 0, kind: 'seg', get: (c) => String(must(c.seg, 'segment').le) },
  { name: 'seg_size', heading: 'SSize', type: 'SIZ', width: 0, kind: 'seg', get: (c) => size(c, must(c.seg, 'segment').len * must(c.vg, 'VG').extentBytes) },
  { name: 'seg_size_pe', heading: 'SSize', type: 'NUM', width: 0, kind: 'seg', get: (c) => String(must(c.seg, 'segment').len) },
  {
    name: 'devices',
    heading: 'Devices',
    type: 'STR',
    width: 0,
    kind: 'seg',
    get: (c) => {
      // tools/reporter.c _devices_disp: "<pv>(<first pe>)" per area.
      const seg = must(c.seg, 'segment');
      return `${pvByUuid(c.state, seg.pv).device}(${seg.pe})`;
    },
  },
  {
    name: 'seg_pe_ranges',
    heading: 'PE Ranges',
    type: 'STR',
    width: 0,
    kind: 'seg',
    get: (c) => {
      const seg = must(c.seg, 'segment');
      return `${pvByUuid(c.state, seg.pv).device}:${seg.pe}-${seg.pe + seg.len - 1}`;
    },
  },
];

const BY_NAME = new Map(FIELDS.map((f) => [f.name, f]));

export type ReportType = 'pvs' | 'vgs' | 'lvs';

/** Which field kinds each command may show (LVM also allows a VG's fields in pvs and lvs). */
const ALLOWED: Record<ReportType, Kind[]> = {
  pvs: ['pv', 'pvseg', 'vg'],
  vgs: ['vg'],
  lvs: ['lv', 'seg', 'vg'],
};

export const DEFAULT_FIELDS: Record<ReportType, { plain: string[]; segments: string[] }> = {
  pvs: {
    plain: ['pv_name', 'vg_name', 'pv_fmt', 'pv_attr', 'pv_size', 'pv_free'],
    segments: ['pv_name', 'vg_name', 'pv_fmt', 'pv_attr', 'pv_size', 'pv_free', 'pvseg_start', 'pvseg_size'],
  },
  vgs: {
    plain: ['vg_name', 'pv_count', 'lv_count', 'snap_count', 'vg_attr', 'vg_size', 'vg_free'],
    segments: ['vg_name', 'pv_count', 'lv_count', 'snap_count', 'vg_attr', 'vg_size', 'vg_free'],
  },
  lvs: {
    plain: ['lv_name', 'vg_name', 'lv_attr', 'lv_size', 'pool_lv', 'origin', 'data_percent', 'metadata_percent', 'move_pv', 'mirror_log', 'copy_percent', 'convert_lv'],
    segments: ['lv_name', 'vg_name', 'lv_attr', 'stripes', 'segtype', 'seg_size'],
  },
};

const PREFIX: Record<ReportType, string> = { pvs: 'pv', vgs: 'vg', lvs: 'lv' };

function lookupField(type: ReportType, name: string): Field {
  const key = name.trim().toLowerCase();
  // LVM accepts a field name without its report prefix ("size" in lvs means lv_size).
  const field = BY_NAME.get(key) ?? BY_NAME.get(`${PREFIX[type]}_${key}`) ?? (type === 'pvs' ? BY_NAME.get(`pvseg_${key}`) : undefined) ?? (type === 'lvs' ? BY_NAME.get(`seg_${key}`) : undefined);
  if (!field || !ALLOWED[type].includes(field.kind)) throw new LvmError(`Unrecognised field: ${name.trim()}`, ECMD_FAILED_FIELD);
  return field;
}

const ECMD_FAILED_FIELD = 5;

/** Resolve the -o options (lists, "+x" appends to the defaults, "-x" removes) into fields. */
export function selectFields(type: ReportType, segments: boolean, optionValues: string[]): Field[] {
  let names = segments ? [...DEFAULT_FIELDS[type].segments] : [...DEFAULT_FIELDS[type].plain];
  let replaced = false;
  for (const value of optionValues) {
    if (value.startsWith('+')) names.push(...value.slice(1).split(','));
    else if (value.startsWith('-')) {
      const drop = value
        .slice(1)
        .split(',')
        .map((n) => lookupField(type, n).name);
      names = names.filter((n) => !drop.includes(lookupField(type, n).name));
    } else {
      if (!replaced) names = [];
      replaced = true;
      names.push(...value.split(','));
    }
  }
  return names.filter((n) => n.trim() !== '').map((n) => lookupField(type, n));
}

export interface ReportOptions {
  type: ReportType;
  units: Units;
  fields: Field[];
  /** --segments was given: segment rows, JSON key pvseg/seg. */
  segments: boolean;
  headings: boolean;
  separator: string | null;
  aligned: boolean;
  format: 'basic' | 'json' | 'json_std';
  /** -O sort keys ("-name" = descending). */
  sort: string[] | null;
  /** Positional arguments: PV devices, VG names, or LVs (vg/lv, /dev/vg/lv, vg). */
  selectors: string[];
}

export interface Report {
  rows: string[][];
  fields: Field[];
}

/** The rows a report shows, in LVM's default order (pvs by name, vgs by name, lvs by vg then lv). */
export function buildRows(state: EmuState, opts: ReportOptions, select: (ctx: RowContext) => boolean): RowContext[] {
  const units = opts.units;
  const rows: RowContext[] = [];
  const wantsSegRows = opts.segments || opts.fields.some((f) => f.kind === 'seg' || f.kind === 'pvseg');
  if (opts.type === 'pvs') {
    for (const pv of state.pvs) {
      const vg = pv.vg ? state.vgs.find((v) => v.name === pv.vg) : undefined;
      const base = { state, units, pv, vg };
      if (!select(base)) continue;
      if (wantsSegRows) {
        const segs = pvSegments(vg, pv);
        if (segs.length === 0) rows.push({ ...base, pvseg: { pe: 0, len: 0, lv: null, le: 0 } });
        for (const pvseg of segs) rows.push({ ...base, pvseg });
      } else rows.push(base);
    }
  } else if (opts.type === 'vgs') {
    for (const vg of state.vgs) {
      const base = { state, units, vg };
      if (select(base)) rows.push(base);
    }
  } else {
    for (const vg of state.vgs) {
      for (const lv of vg.lvs) {
        const base = { state, units, vg, lv };
        if (!select(base)) continue;
        if (wantsSegRows) for (const seg of lv.segments) rows.push({ ...base, seg });
        else rows.push(base);
      }
    }
  }
  const defaultSort: Record<ReportType, string[]> = { pvs: ['pv_name'], vgs: ['vg_name'], lvs: ['vg_name', 'lv_name'] };
  const keys = (opts.sort ?? defaultSort[opts.type]).map((k) => {
    const desc = k.startsWith('-');
    const name = k.replace(/^[+-]/, '');
    return { field: lookupField(opts.type, name), desc };
  });
  const keyed = rows.map((ctx, i) => ({ ctx, i, values: keys.map((k) => (k.field.sortValue ? k.field.sortValue(ctx) : k.field.get(ctx))) }));
  keyed.sort((a, b) => {
    for (let k = 0; k < keys.length; k++) {
      const x = a.values[k];
      const y = b.values[k];
      // libdm compares strings with strcmp (byte order), numbers numerically.
      const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
      if (cmp !== 0) return keys[k].desc ? -cmp : cmp;
    }
    return a.i - b.i; // segment rows keep their order
  });
  return keyed.map((k) => k.ctx);
}

function jsonEscape(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** Render rows as LVM prints them. */
export function renderReport(rows: RowContext[], opts: ReportOptions): string {
  const fields = opts.fields;
  const values = rows.map((ctx) => fields.map((f) => f.get(ctx)));
  if (opts.format === 'json' || opts.format === 'json_std') {
    const key = opts.segments ? (opts.type === 'pvs' ? 'pvseg' : opts.type === 'lvs' ? 'seg' : 'vg') : PREFIX[opts.type];
    const lines = ['  {', '      "report": [', '          {', `              "${key}": [`];
    const rowLines = values.map((vals) => {
      const parts = fields.map((f, i) => {
        const v = vals[i];
        let rendered = `"${jsonEscape(v)}"`;
        if (opts.format === 'json_std' && (f.type === 'NUM' || f.type === 'PCT')) {
          // json_std: numbers and percents unquoted, undefined ones null; sizes stay strings.
          rendered = v === '' ? 'null' : /^-?\d+(\.\d+)?$/.test(v) ? v : `"${jsonEscape(v)}"`;
        }
        return `"${f.name}":${rendered}`;
      });
      return `                  {${parts.join(', ')}}`;
    });
    lines.push(rowLines.join(',\n'));
    if (rowLines.length === 0) lines.pop();
    lines.push('              ]', '          }', '      ]', '  }');
    return `${lines.join('\n')}\n`;
  }
  if (rows.length === 0) return ''; // dm_report_output prints nothing, not even headings, without rows
  const separator = opts.separator ?? ' ';
  const aligned = opts.separator === null || opts.aligned;
  const widths = fields.map((f, i) => Math.max(f.width, f.heading.length, ...values.map((v) => v[i].length)));
  const rightAligned = (f: Field) => f.type === 'NUM' || f.type === 'SIZ' || f.type === 'PCT';
  const out: string[] = [];
  if (opts.headings) {
    out.push(fields.map((f, i) => (aligned ? f.heading.padEnd(widths[i]) : f.heading)).join(separator));
  }
  for (const vals of values) {
    out.push(
      vals
        .map((v, i) => {
          if (!aligned) return v;
          return rightAligned(fields[i]) ? v.padStart(widths[i]) : v.padEnd(widths[i]);
        })
        .join(separator),
    );
  }
  return out.map((l) => `  ${l}\n`).join('');
}

/** Row filter from positional arguments, reporting the ones that match nothing as LVM does. */
export function selectorFilter(
  state: EmuState,
  type: ReportType,
  selectors: string[],
  devRoot: string,
  resolveLv: (arg: string) => { vg: string; lv: string | null } | null,
): {
  select: (ctx: RowContext) => boolean;
  missing: string[];
} {
  if (selectors.length === 0) return { select: () => true, missing: [] };
  const missing: string[] = [];
  if (type === 'pvs') {
    const uuids = new Set<string>();
    for (const s of selectors) {
      const pv = state.pvs.find((p) => p.device === s);
      if (pv) uuids.add(pv.uuid);
      else missing.push(`Failed to find physical volume "${s}".`);
    }
    return { select: (c) => c.pv !== undefined && uuids.has(c.pv.uuid), missing };
  }
  if (type === 'vgs') {
    const names = new Set<string>();
    for (const s of selectors) {
      const name = s.replace(/^\/dev\//, '').replace(/\/$/, '');
      if (state.vgs.some((v) => v.name === name)) names.add(name);
      else missing.push(`Volume group "${name}" not found`);
    }
    return { select: (c) => c.vg !== undefined && names.has(c.vg.name), missing };
  }
  const wanted: Array<{ vg: string; lv: string | null }> = [];
  for (const s of selectors) {
    const r = resolveLv(s);
    const vg = r ? state.vgs.find((v) => v.name === r.vg) : undefined;
    if (!r || !vg) {
      missing.push(`Volume group "${r?.vg ?? s}" not found`);
      continue;
    }
    if (r.lv && !vg.lvs.some((l) => l.name === r.lv)) {
      missing.push(`Failed to find logical volume "${r.vg}/${r.lv}"`);
      continue;
    }
    wanted.push(r);
  }
  void devRoot;
  return { select: (c) => wanted.some((w) => c.vg?.name === w.vg && (w.lv === null || c.lv?.name === w.lv)), missing };
}

export function unitsFromArgs(unitsArg: string | undefined, nosuffix: boolean): Units {
  if (unitsArg !== undefined && !/^[hHrRbBsSkKmMgGtTpPeE]$/.test(unitsArg)) {
    throw new LvmError(`Invalid argument for --units: ${unitsArg}`, EINVALID_CMD_LINE);
  }
  return { type: unitsArg ?? 'r', suffix: !nosuffix };
}
