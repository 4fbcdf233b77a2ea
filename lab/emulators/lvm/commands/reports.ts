import { count, has, parseArgs, value, type OptionSpec } from '../args';
import { lvDisplay, pvDisplay, vgDisplay } from '../display';
import { ECMD_FAILED, EINVALID_CMD_LINE, LvmError, findPvByDevice } from '../model';
import { error, raw } from '../output';
import { buildRows, renderReport, selectFields, selectorFilter, unitsFromArgs, type ReportType } from '../report';
import { parseLvArg } from '../resolve';
import { readState } from '../state';

// The read-only commands: pvs, vgs, lvs and pvdisplay, vgdisplay, lvdisplay. They take no lock
// (the state file is replaced by rename, so a read is always of one consistent version).

const REPORT_OPTIONS: OptionSpec[] = [
  { long: 'options', short: 'o', value: true },
  { long: 'sort', short: 'O', value: true },
  { long: 'units', value: true },
  { long: 'nosuffix' },
  { long: 'noheadings' },
  { long: 'headings', value: true },
  { long: 'separator', value: true },
  { long: 'aligned' },
  { long: 'segments' },
  { long: 'reportformat', value: true },
  { long: 'all', short: 'a' },
  { long: 'binary' },
  { long: 'readonly' },
  { long: 'ignorelockingfailure' },
  { long: 'ignoreskippedcluster' },
  { long: 'nolocking' },
  { long: 'unbuffered' },
  { long: 'foreign' },
  { long: 'shared' },
];

export function reportCommand(type: ReportType, argv: string[]): number {
  const args = parseArgs(type, argv, REPORT_OPTIONS);
  const format = value(args, 'reportformat') ?? 'basic';
  if (!['basic', 'json', 'json_std'].includes(format)) throw new LvmError(`Invalid argument for --reportformat: ${format}`, EINVALID_CMD_LINE);
  const state = readState();
  const units = unitsFromArgs(value(args, 'units'), has(args, 'nosuffix'));
  const segments = has(args, 'segments');
  const fields = selectFields(type, segments, args.options.get('options') ?? []);
  const headingsArg = value(args, 'headings');
  const opts = {
    type,
    units,
    fields,
    segments,
    headings: !has(args, 'noheadings') && headingsArg !== 'none' && headingsArg !== '0',
    separator: value(args, 'separator') ?? null,
    aligned: has(args, 'aligned'),
    format: format as 'basic' | 'json' | 'json_std',
    sort: args.options.has('sort') ? (args.options.get('sort') ?? []).flatMap((s) => s.split(',')) : null,
    selectors: args.positional,
  };
  const { select, missing } = selectorFilter(state, type, args.positional, state.devRoot, (a) => parseLvArg(state, a));
  const rows = buildRows(state, opts, select);
  raw(renderReport(rows, opts));
  for (const m of missing) error(m);
  return missing.length ? ECMD_FAILED : 0;
}

const DISPLAY_OPTIONS: OptionSpec[] = [
  { long: 'maps', short: 'm' },
  { long: 'units', value: true },
  { long: 'columns', short: 'C' },
  { long: 'short', short: 's' },
  { long: 'all', short: 'a' },
  { long: 'colon', short: 'c' },
  { long: 'options', short: 'o', value: true },
  { long: 'noheadings' },
  { long: 'nosuffix' },
  { long: 'separator', value: true },
  { long: 'reportformat', value: true },
  { long: 'readonly' },
  { long: 'ignorelockingfailure' },
];

export function displayCommand(type: 'pvdisplay' | 'vgdisplay' | 'lvdisplay', argv: string[]): number {
  const args = parseArgs(type, argv, DISPLAY_OPTIONS);
  if (has(args, 'columns')) {
    // -C is the report command under another name.
    const reportArgv = argv.filter((a) => a !== '-C' && a !== '--columns' && a !== '-m' && a !== '--maps');
    return reportCommand(type === 'pvdisplay' ? 'pvs' : type === 'vgdisplay' ? 'vgs' : 'lvs', reportArgv);
  }
  if (has(args, 'colon') || has(args, 'short')) throw new LvmError(`${type}: --colon and --short are not emulated; use the report commands (pvs, vgs, lvs)`, EINVALID_CMD_LINE);
  const state = readState();
  const units = unitsFromArgs(value(args, 'units'), false);
  const maps = count(args, 'maps') > 0;
  let out = '';
  let failed = false;
  if (type === 'pvdisplay') {
    // process_each_pv: the PVs of each VG in metadata order, then orphans.
    const ordered = [...state.vgs.flatMap((vg) => vg.pvs.map((u) => state.pvs.find((p) => p.uuid === u))), ...state.pvs.filter((p) => p.vg === null)].filter(
      (p): p is NonNullable<typeof p> => p !== undefined,
    );
    let chosen = ordered;
    if (args.positional.length) {
      chosen = [];
      for (const dev of args.positional) {
        const pv = findPvByDevice(state, dev);
        if (pv) chosen.push(pv);
        else {
          error(`Failed to find physical volume "${dev}".`);
          failed = true;
        }
      }
    }
    for (const pv of chosen) out += pvDisplay(state, pv, units, maps);
  } else if (type === 'vgdisplay') {
    const names = args.positional.length ? args.positional : state.vgs.map((v) => v.name).sort();
    for (const name of names) {
      const vg = state.vgs.find((v) => v.name === name);
      if (vg) out += vgDisplay(state, vg, units);
      else {
        error(`Volume group "${name}" not found`);
        failed = true;
      }
    }
  } else {
    const targets = args.positional.length ? args.positional : state.vgs.map((v) => v.name);
    for (const t of targets) {
      const parsed = parseLvArg(state, t);
      const vg = parsed ? state.vgs.find((v) => v.name === parsed.vg) : undefined;
      if (!parsed || !vg) {
        error(`Volume group "${parsed?.vg ?? t}" not found`);
        failed = true;
        continue;
      }
      const lvs = parsed.lv === null ? vg.lvs : vg.lvs.filter((l) => l.name === parsed.lv);
      if (parsed.lv !== null && lvs.length === 0) {
        error(`Failed to find logical volume "${vg.name}/${parsed.lv}"`);
        failed = true;
      }
      for (const lv of lvs) out += lvDisplay(state, vg, lv, units, maps);
    }
  }
  raw(out);
  return failed ? ECMD_FAILED : 0;
}
