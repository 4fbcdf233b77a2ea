import { createHash } from 'node:crypto';
import { UsageError, all, one, parse, type OptSpec } from './args';
import { CommandError, type Io } from './io';
import { Region, type ExtentMeta } from './region';

// `crucible-downstairs dump` (domain-apis.md B2): the per-extent metadata of up to three regions side
// by side, differences marked, colour unless --no-color, then `Max gen: G,  Max flush: F`; with
// differences it fails with `Difference in extent metadata found!`. `-e N` compares one extent block
// by block, `-b N` one block (both need two or more regions).

export const DUMP_OPTS: OptSpec[] = [
  { long: 'data', short: 'd', multiple: true, value: 'DIRECTORY' },
  { long: 'extent', short: 'e', value: 'EXTENT' },
  { long: 'block', short: 'b', value: 'BLOCK' },
  { long: 'only-show-differences', short: 'o', flag: true },
  { long: 'no-color', flag: true },
];

const sgr = (n: number, nc: boolean) => (nc ? '' : `\x1b[${n}m`);
const right = (s: string | number, w: number) => String(s).padStart(w);
const zero = (n: number, w: number) => String(n).padStart(w, '0');
const center = (s: string, w: number) => {
  if (s.length >= w) return s;
  const left = Math.floor((w - s.length) / 2);
  return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
};

/** Green for the highest value, red for any lower one. */
function colors(values: number[]): number[] {
  const max = Math.max(...values);
  return values.map((v) => (v < max ? 31 : 32));
}

function parseIndex(p: ReturnType<typeof parse>, long: string): number | undefined {
  const v = one(p, long);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) throw new UsageError(`invalid value '${v}' for '--${long} <${long.toUpperCase()}>': invalid digit found in string`);
  return Number(v);
}

export function dumpCommand(args: string[], io: Io): number {
  const p = parse(args, DUMP_OPTS);
  const dirs = all(p, 'data');
  if (dirs.length === 0) throw new UsageError('the following required arguments were not provided:\n  --data <DIRECTORY>');
  if (dirs.length > 3) throw new CommandError('Only three region directories can be compared');
  let cmpExtent = parseIndex(p, 'extent');
  const block = parseIndex(p, 'block');
  const only = p.flags.has('only-show-differences');
  const nc = p.flags.has('no-color');
  if (cmpExtent !== undefined && block !== undefined) throw new CommandError('Either a specific block, or a specific extent, not both');

  const regions = dirs.map((d) => new Region(d, false));
  try {
    const bpe = regions[regions.length - 1].blocksPerExtent;
    const total = regions[regions.length - 1].extentCount;
    if (block !== undefined) {
      const maxBlock = total * bpe;
      if (Math.floor(block / bpe) >= total) throw new CommandError(`Requested block ${block} > max block ${maxBlock - 1}`);
      cmpExtent = Math.floor(block / bpe);
    }
    const metas: Array<Map<number, ExtentMeta>> = regions.map((r) => {
      const m = new Map<number, ExtentMeta>();
      for (let n = 0; n < r.extentCount; n++) if (cmpExtent === undefined || n === cmpExtent) m.set(n, r.meta(n));
      return m;
    });
    if (cmpExtent !== undefined) {
      if (cmpExtent >= total) throw new CommandError(`Requested extent ${cmpExtent} is a higher index than valid (${total})`);
      if (regions.length < 2) throw new CommandError('Need more than one region directory to compare data');
      if (block !== undefined) return showBlock(regions, cmpExtent, block, bpe, only, nc, io);
      return showExtent(regions, metas, cmpExtent, bpe, only, nc, io);
    }

    const extents = [...new Set(metas.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
    const extWidth = Math.max(3, String(total).length);
    const blockWidth = Math.max(3, String(total * bpe).length);
    const blockHeader = Math.max(7, blockWidth * 2 + 1);
    let genWidth = 4;
    let flWidth = 3;
    let maxGen = 0;
    let maxFlush = 0;
    let header = true;
    let differenceFound = false;
    for (const en of extents) {
      const gens: number[] = [];
      const flushes: number[] = [];
      const dirties: boolean[] = [];
      let bad = false;
      let different = false;
      metas.forEach((m, i) => {
        const em = m.get(en);
        if (!em) {
          io.out(`${right(en, extWidth)} column ${i} bad \n`);
          bad = true;
          return;
        }
        gens.push(em.gen);
        flushes.push(em.flush);
        dirties.push(em.dirty);
        if (gens[0] !== em.gen || flushes[0] !== em.flush || dirties[0] !== em.dirty) different = true;
        maxGen = Math.max(maxGen, em.gen);
        maxFlush = Math.max(maxFlush, em.flush);
      });
      if (bad || (only && !different)) continue;
      if (header) {
        // The widths are guessed from the first row shown: one more digit than its maximum so far.
        genWidth = Math.max(genWidth, String(maxGen).length + 1);
        flWidth = Math.max(flWidth, String(maxFlush).length + 1);
        let h = right('EXT', extWidth) + ' ' + right('BLOCKS', blockHeader);
        for (let i = 0; i < regions.length; i++) h += ' ' + right('GEN', genWidth - 1) + i;
        h += ' ';
        for (let i = 0; i < regions.length; i++) h += ' ' + right('FL', flWidth - 1) + i;
        h += ' ';
        for (let i = 0; i < regions.length; i++) h += ` D${i}`;
        if (nc) h += ' DIFF';
        io.out(`${h}\n`);
        header = false;
      }
      let row = `${right(en, extWidth)} ${zero(bpe * en, blockWidth)}-${zero(bpe * en + bpe - 1, blockWidth)}`;
      const gc = colors(gens);
      gens.forEach((g, i) => (row += ` ${sgr(gc[i], nc)}${right(g, genWidth)}`));
      row += `${sgr(0, nc)} `;
      const fc = colors(flushes);
      flushes.forEach((f, i) => (row += ` ${sgr(fc[i], nc)}${right(f, flWidth)}`));
      row += `${sgr(0, nc)} `;
      for (const d of dirties) row += d ? `  ${sgr(31, nc)}T` : `  ${sgr(32, nc)}F`;
      row += nc && different ? ' <---' : sgr(0, nc);
      io.out(`${row}\n`);
      differenceFound ||= different;
    }
    io.out(`Max gen: ${maxGen},  Max flush: ${maxFlush}\n`);
    if (differenceFound) throw new CommandError('Difference in extent metadata found!');
    return 0;
  } finally {
    for (const r of regions) r.close();
  }
}

/** A, B, C: which regions hold equal values (A = like region 0). */
function letters(values: string[], nc: boolean): { letters: string[]; different: boolean } {
  const paint = (l: string) => `${sgr(l === 'A' ? 32 : l === 'B' ? 34 : 31, nc)}${l}${sgr(0, nc)}`;
  let different = false;
  const out: string[] = ['A'];
  if (values[1] === values[0]) out.push('A');
  else {
    out.push('B');
    different = true;
  }
  if (values.length > 2) {
    if (values[2] === values[0]) out.push('A');
    else if (values[2] === values[1] && out[1] === 'B') out.push('B');
    else {
      out.push('C');
      different = true;
    }
  }
  return { letters: out.map(paint), different };
}

function blockValues(regions: Region[], b: number): { data: string[]; ctx: string[] } {
  return {
    data: regions.map((r) => createHash('sha256').update(r.read(b, 1)).digest('hex')),
    ctx: regions.map((r) => r.storedHash(b)?.toString('hex') ?? '-'),
  };
}

function showExtent(regions: Region[], metas: Array<Map<number, ExtentMeta>>, ext: number, bpe: number, only: boolean, nc: boolean, io: Io): number {
  io.out(`           Extent ${ext}\n`);
  let gen = 'GEN      ';
  let fl = 'FLUSH_ID ';
  let dirty = 'DIRTY    ';
  for (const m of metas) {
    const em = m.get(ext) as ExtentMeta;
    gen += `${right(em.gen, 8)} `;
    fl += `${right(em.flush, 8)} `;
    dirty += `${right(em.dirty ? 'D' : ' ', 8)} `;
  }
  io.out(`${gen}\n${fl}\n${dirty}\n\n`);
  const blockWidth = Math.max(3, String(bpe * ext + bpe - 1).length);
  let h = `${right('BLOCK', blockWidth)} `;
  regions.forEach((_, i) => (h += ` ${center(`D${i}`, 2)}`));
  h += ' ';
  regions.forEach((_, i) => (h += ` ${center(`C${i}`, 2)}`));
  if (!only) h += ` ${center('DIFF', 5)}`;
  io.out(`${h}\n`);
  let found = false;
  for (let b = 0; b < bpe; b++) {
    const real = bpe * ext + b;
    const v = blockValues(regions, real);
    const d = letters(v.data, nc);
    const c = letters(v.ctx, nc);
    const different = d.different || c.different;
    if (!only || different) {
      let row = `${zero(real, blockWidth)} `;
      for (const l of d.letters) row += `  ${l}`;
      row += ' ';
      for (const l of c.letters) row += `  ${l}`;
      if (!only) row += ` ${center(different ? '<---' : '', 4)}`;
      io.out(`${row}\n`);
    }
    found ||= different;
  }
  if (found) throw new CommandError('Difference found!');
  return 0;
}

function showBlock(regions: Region[], ext: number, block: number, bpe: number, only: boolean, nc: boolean, io: Io): number {
  io.out(`Extent ${ext} Block in extent ${block % bpe}  Actual block ${block}\n\n`);
  const v = blockValues(regions, block);
  const d = letters(v.data, nc);
  if (!only || d.different) {
    io.out(`${right('DATA', 6)}  ${'SHA256'.padEnd(64)}  ${'VER'.padEnd(3)}\n`);
    io.out(`${'-'.repeat(6)}  ${'-'.repeat(64)}  ${'-'.repeat(3)}\n`);
    regions.forEach((_, i) => io.out(`${right(i, 6)}  ${v.data[i].padEnd(64)}  ${center(d.letters[i], 3)}\n`));
    io.out('\n');
  }
  const c = letters(v.ctx, nc);
  if (!only || c.different) {
    io.out(`${right('HASHES', 6)}  ${regions.map((_, i) => center(String(i), 16)).join(' ')} ${only ? '' : ` ${'DIFF'.padEnd(5)}`}\n`);
    io.out(`${'-'.repeat(6)}  ${regions.map(() => '-'.repeat(16)).join(' ')} ${only ? '' : `${'-'.repeat(5)} `}\n`);
    io.out(`${right(0, 6)}  ${v.ctx.map((h) => center(h === '-' ? '' : h, 16)).join(' ')} ${c.different ? ` ${'<---'.padEnd(5)}` : ''}\n\n`);
  }
  return 0;
}
