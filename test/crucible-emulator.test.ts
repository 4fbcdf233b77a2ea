import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Region, buildCrucibleEmulator, extentFileBytes, extentRelPath, main, writeFaults } from '../lab/emulators/crucible';

// Golden tests of the Crucible emulator (lab/emulators/crucible) against shared/reference
// domain-apis.md B1-B5 and the operators' notes (seed 004's dump): on-disk layout, region.json,
// create's defaults/validation/import, dump's exact text (widths, colours, --no-color, -o, exit
// status), export, verify, the downstairs line protocol with its generation rules, and dsc. Every
// command runs through the wrapper scripts a lab host gets, as a separate process.

let dir: string;
let bin: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** In-process (the same code the bundle runs; a process per command costs ~0.3 s on a loaded machine). */
async function ds(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const code = await main(['crucible-downstairs', ...args], { out: (s) => (stdout += s), err: (s) => (stderr += s), env: { ...process.env, ...env } });
    return { code, stdout, stderr };
  } finally {
    process.chdir(cwd);
  }
}

/** Through the wrapper script a lab host gets, as its own process. */
function dsProc(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(path.join(bin, 'crucible-downstairs'), args, { encoding: 'utf8', cwd: dir, env: { ...process.env, ...env } });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

function dsc(args: string[]): Run {
  const r = spawnSync(path.join(bin, 'dsc'), args, { encoding: 'utf8', cwd: dir });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

const U1 = '12345678-0000-0000-0000-000000008810';
const U2 = '12345678-0000-0000-0000-000000008820';
const U3 = '12345678-0000-0000-0000-000000008830';
const strip = (s: string) => s.replace(/\x1b\[[0-9]+m/g, '');

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'crucible-emu-'));
  bin = path.join(dir, 'bin');
  await buildCrucibleEmulator(bin, { faultsPath: path.join(dir, 'faults.json') });
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('on-disk region', () => {
  test('create with the defaults: region.json exactly as the reference, 15 extent files at uppercase-hex paths, clean metadata', async () => {
    const r = await ds(['create', '-d', 'def', '-u', U1]);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(path.join(dir, 'def', 'region.json'), 'utf8')).toBe(
      [
        '{',
        '  "block_size": 512,',
        '  "extent_size": {',
        '    "value": 100,',
        '    "shift": 9',
        '  },',
        '  "extent_count": 15,',
        `  "uuid": "${U1}",`,
        '  "encrypted": false,',
        '  "database_read_version": 1,',
        '  "database_write_version": 1',
        '}',
        '', // write_json ends the file with a newline
      ].join('\n'),
    );
    const files = readdirSync(path.join(dir, 'def', '00', '000')).sort();
    expect(files).toEqual(['000', '001', '002', '003', '004', '005', '006', '007', '008', '009', '00A', '00B', '00C', '00D', '00E']);
    // data + two 48-byte context slots per block + the slot bitmap + 32 bytes of metadata
    const size = 100 * 512 + 2 * 48 * 100 + 13 + 32;
    expect(statSync(path.join(dir, 'def', '00', '000', '00A')).size).toBe(size);
    const meta = readFileSync(path.join(dir, 'def', '00', '000', '00A')).subarray(size - 32);
    expect(meta.readUInt8(0)).toBe(0); // dirty
    expect(meta.readBigUInt64LE(1)).toBe(0n); // gen
    expect(meta.readBigUInt64LE(9)).toBe(0n); // flush
    expect(meta.readUInt32LE(17)).toBe(2); // ext_version
  });

  test('the wrapper scripts run the same code: output and exit status as in-process', async () => {
    expect(dsProc(['create', '-d', 'def', '-u', U2])).toEqual(await ds(['create', '-d', 'def', '-u', U2]));
    expect(dsProc(['dump', '-d', 'def', '--no-color'])).toEqual(await ds(['dump', '-d', 'def', '--no-color']));
    expect(dsProc(['version']).stdout).toMatch(/^Crucible Version: /);
  });

  test('extent paths: 0, 3, 10, 65535 and beyond', async () => {
    expect([0, 3, 10, 65535, 0x1234567].map(extentRelPath)).toEqual(['00/000/000', '00/000/003', '00/000/00A', '00/00F/FFF', '01/234/567']);
  });

  test('an existing region is an error, not a second create', async () => {
    const r = await ds(['create', '-d', 'def', '-u', U2]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: Config file already exists "def/region.json"\n');
    expect(readFileSync(path.join(dir, 'def', 'region.json'), 'utf8')).toContain(U1);
  });

  test.each([
    [['--block-size', '1000'], 'block size must be a power of two, not 1000'],
    [['--block-size', '256'], 'minimum block size is 512 bytes, not 256'],
    [['--block-size', '65536'], 'maximum block size is 32768 bytes, not 65536'],
    [['--extent-size', '0'], 'extent size must be at least 1 block'],
    [['--block-size', '4096', '--extent-size', '131073'], 'extent size 131073 x 4096 bytes = 536875008, bigger than 536870912'],
  ])('validation %j', async (flags, message) => {
    const r = await ds(['create', '-d', 'bad', '-u', U1, ...flags]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `Error: ${message}\n` });
    expect(existsSync(path.join(dir, 'bad'))).toBe(false);
  });

  test('command-line errors are clap-style, exit 2', async () => {
    expect(await ds(['create', '-d', 'x'])).toMatchObject({ code: 2, stderr: expect.stringContaining('the following required arguments were not provided:\n  --uuid <UUID>') });
    expect(await ds(['create', '-d', 'x', '-u', 'nope'])).toMatchObject({ code: 2, stderr: expect.stringContaining("invalid value 'nope' for '--uuid <UUID>'") });
    expect(await ds(['create', '-d', 'x', '-u', U1, '-i', 'a', '--clone-source', '127.0.0.1:1'])).toMatchObject({ code: 2, stderr: expect.stringContaining('cannot be used with') });
    expect((await ds(['frobnicate'])).code).toBe(2);
  });

  test('import grows the extent count, zero-pads the tail, flushes every extent (gen 0, flush 1); export gives the image back', async () => {
    const image = Buffer.alloc(5 * 100 * 512 + 700);
    for (let i = 0; i < image.length; i++) image[i] = (i * 7 + (i >> 9)) & 0xff;
    writeFileSync(path.join(dir, 'img.raw'), image);
    const r = await ds(['create', '-d', 'imp', '-u', U1, '-i', 'img.raw', '--extent-count', '2']);
    // downstairs_import's lines; the bytes copied are whole blocks (the zero-padded tail included).
    expect(r).toEqual({
      code: 0,
      stdout: [
        'Import file_size: 256700  Extent size: 51200  Needed extents: 6',
        'Extending region to fit image',
        'Importing "img.raw" to region',
        'Populated 6 extents by copying 257024 bytes (502 blocks)',
        '',
      ].join('\n'),
      stderr: '',
    });
    const region = new Region(path.join(dir, 'imp'), false);
    expect(region.def.extent_count).toBe(6);
    expect(Array.from({ length: 6 }, (_, n) => region.meta(n))).toEqual(Array(6).fill({ dirty: false, gen: 0, flush: 1 }));
    region.close();
    const e = await ds(['export', '-d', 'imp', '-e', 'out.raw', '--count', '502']);
    expect(e.code).toBe(0);
    const padded = Buffer.concat([image, Buffer.alloc(502 * 512 - image.length)]);
    expect(
      createHash('sha256')
        .update(readFileSync(path.join(dir, 'out.raw')))
        .digest('hex'),
    ).toBe(createHash('sha256').update(padded).digest('hex'));
    expect(await ds(['verify', '-d', 'imp'])).toMatchObject({ code: 0, stdout: 'Verified 6 extents: no errors\n' });
  });

  test('an import that dies leaves a partial directory: region.json, every extent, the first extents dirty and unflushed', async () => {
    const r = await ds(['create', '-d', 'partial', '-u', U2, '-i', 'img.raw', '--extent-count', '2'], { CRUCIBLE_EMU_FAIL_IMPORT_AFTER_EXTENTS: '2' });
    expect(r.code).toBe(101);
    expect(r.stderr).toMatch(/^thread 'main' panicked at /);
    const region = new Region(path.join(dir, 'partial'), false);
    expect(region.def.extent_count).toBe(6);
    expect(region.meta(0)).toEqual({ dirty: true, gen: 0, flush: 0 });
    expect(region.meta(1)).toEqual({ dirty: true, gen: 0, flush: 0 });
    expect(region.meta(2)).toEqual({ dirty: false, gen: 0, flush: 0 });
    region.close();
    // The retry needs the directory gone (create is not idempotent).
    expect((await ds(['create', '-d', 'partial', '-u', U2, '-i', 'img.raw'])).stderr).toBe('Error: Config file already exists "partial/region.json"\n');
    // Through the faults file the wrapper pins (as a runbook's create over ssh meets it): once.
    writeFaults(path.join(dir, 'faults.json'), { import: { failAfterExtents: 1, times: 1 } });
    expect(dsProc(['create', '-d', 'pf1', '-u', U2, '-i', 'img.raw']).code).toBe(101);
    const pf2 = dsProc(['create', '-d', 'pf2', '-u', U2, '-i', 'img.raw']);
    expect(pf2.code).toBe(0);
    expect(pf2.stdout.split('\n').slice(0, 3)).toEqual(['Import file_size: 256700  Extent size: 51200  Needed extents: 6', 'Region already large enough for image', 'Importing "img.raw" to region']);
  });

  test('verify finds a block whose data no longer matches its integrity hash', async () => {
    await ds(['create', '-d', 'corrupt', '-u', U3, '-i', 'img.raw']);
    const file = path.join(dir, 'corrupt', '00', '000', '001');
    const buf = readFileSync(file);
    buf[512 * 3] ^= 0xff;
    writeFileSync(file, buf);
    const r = await ds(['verify', '-d', 'corrupt']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('extent 1: 1 blocks fail their integrity hash (first: block 3)\n');
    expect(r.stderr).toBe('Error: Region failed to verify: 1 of 15 extents have errors\n');
  });
});

describe('dump', () => {
  /** The region of seed 004's dump: 64 extents of 64000 blocks, extent 0 at gen 10 flush 608, max gen 11 flush 642. */
  async function seed004Region(name: string, uuid: string, tweak?: (r: Region) => void): Promise<void> {
    expect((await ds(['create', '-d', name, '-u', uuid, '--extent-size', '64000', '--extent-count', '64'])).code).toBe(0);
    const r = new Region(path.join(dir, name), true);
    for (let n = 0; n < 64; n++) r.setMeta(n, { dirty: false, gen: 0, flush: 1 });
    r.setMeta(0, { dirty: false, gen: 10, flush: 608 });
    r.setMeta(40, { dirty: false, gen: 11, flush: 642 });
    tweak?.(r);
    r.close();
  }

  test("seed 004's dump, byte for byte (colours stripped) and with its exact ANSI colouring", async () => {
    await seed004Region('s8810', U1);
    expect(statSync(path.join(dir, 's8810', '00', '000', '03F')).size).toBe(extentFileBytes(new Region(path.join(dir, 's8810'), false).def));
    const r = await ds(['dump', '-d', 's8810']);
    expect(r.code).toBe(0);
    const lines = strip(r.stdout).split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'EXT          BLOCKS GEN0   FL0  D0',
      '  0 0000000-0063999   10   608   F',
      '  1 0064000-0127999    0     1   F',
      '  2 0128000-0191999    0     1   F',
      '  3 0192000-0255999    0     1   F',
    ]);
    expect(lines[41]).toBe(' 40 2560000-2623999   11   642   F');
    expect(lines.slice(-2)).toEqual(['Max gen: 11,  Max flush: 642', '']);
    expect(r.stdout.split('\n')[1]).toBe('  0 0000000-0063999 \x1b[32m  10\x1b[0m  \x1b[32m 608\x1b[0m   \x1b[32mF\x1b[0m');
  });

  test('three regions, --no-color: DIFF column, <--- on the differing row, red for the lower values when coloured, non-zero exit', async () => {
    await seed004Region('s8820', U2);
    await seed004Region('s8830', U3, (r) => r.setMeta(2, { dirty: true, gen: 12, flush: 650 }));
    const nc = await ds(['dump', '-d', 's8810', '-d', 's8820', '-d', 's8830', '--no-color']);
    expect(nc.code).toBe(1);
    expect(nc.stderr).toBe('Error: Difference in extent metadata found!\n');
    const lines = nc.stdout.split('\n');
    expect(lines[0]).toBe('EXT          BLOCKS GEN0 GEN1 GEN2   FL0  FL1  FL2  D0 D1 D2 DIFF');
    expect(lines[1]).toBe('  0 0000000-0063999   10   10   10   608  608  608   F  F  F');
    expect(lines[3]).toBe('  2 0128000-0191999    0    0   12     1    1  650   F  F  T <---');
    expect(lines[lines.length - 2]).toBe('Max gen: 12,  Max flush: 650');
    const only = await ds(['dump', '-d', 's8810', '-d', 's8820', '-d', 's8830', '--no-color', '-o']);
    expect(only.stdout).toBe(
      'EXT          BLOCKS GEN0 GEN1 GEN2   FL0  FL1  FL2  D0 D1 D2 DIFF\n' + '  2 0128000-0191999    0    0   12     1    1  650   F  F  T <---\n' + 'Max gen: 12,  Max flush: 650\n',
    );
    const colour = await ds(['dump', '-d', 's8810', '-d', 's8830', '-o']);
    expect(colour.stdout.split('\n')[1]).toBe('  2 0128000-0191999 \x1b[31m   0 \x1b[32m  12\x1b[0m  \x1b[31m   1 \x1b[32m 650\x1b[0m   \x1b[32mF  \x1b[31mT\x1b[0m');
    // Equal regions: no header when -o shows nothing, exit 0.
    expect(await ds(['dump', '-d', 's8810', '-d', 's8820', '-o'])).toEqual({ code: 0, stdout: 'Max gen: 11,  Max flush: 642\n', stderr: '' });
  });

  test('-e and -b compare one extent or one block; both at once is refused', async () => {
    const e = await ds(['dump', '-d', 'imp', '-d', 'pf2', '-e', '1', '--no-color', '-o']);
    expect(e.code).toBe(0);
    expect(e.stdout.split('\n').slice(0, 6)).toEqual([
      '           Extent 1',
      'GEN             0        0 ',
      'FLUSH_ID        1        1 ',
      `DIRTY    ${' '.repeat(8)} ${' '.repeat(8)} `,
      '',
      'BLOCK  D0 D1  C0 C1',
    ]);
    const b = await ds(['dump', '-d', 'imp', '-d', 'partial', '-b', '250', '--no-color']);
    expect(b.stdout.split('\n')[0]).toBe('Extent 2 Block in extent 50  Actual block 250');
    expect((await ds(['dump', '-d', 'imp', '-e', '1', '-b', '2'])).stderr).toBe('Error: Either a specific block, or a specific extent, not both\n');
    expect((await ds(['dump', '-d', 'imp', '-e', '1'])).stderr).toBe('Error: Need more than one region directory to compare data\n');
  });
});

describe('run: the downstairs protocol (PROTOCOL.md) and generation rules', () => {
  class Client {
    private buf = '';
    private waiting: Array<(v: Record<string, unknown>) => void> = [];
    readonly lines: Array<Record<string, unknown>> = [];
    closed = false;
    constructor(readonly sock: net.Socket) {
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        this.buf += d;
        let i: number;
        while ((i = this.buf.indexOf('\n')) !== -1) {
          const msg = JSON.parse(this.buf.slice(0, i)) as Record<string, unknown>;
          this.buf = this.buf.slice(i + 1);
          const w = this.waiting.shift();
          if (w) w(msg);
          else this.lines.push(msg);
        }
      });
      sock.on('close', () => (this.closed = true));
    }
    static connect(port: number): Promise<Client> {
      return new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(new Client(s)));
        s.once('error', reject);
      });
    }
    next(): Promise<Record<string, unknown>> {
      const queued = this.lines.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((r) => this.waiting.push(r));
    }
    async req(o: Record<string, unknown>): Promise<Record<string, unknown>> {
      this.sock.write(`${JSON.stringify(o)}\n`);
      return this.next();
    }
  }
  const PORT = 28810;

  test('negotiate, read, write, flush stamps gen/flush; gen too low, takeover, same gen other ids; repair port', async () => {
    const child = spawn(path.join(bin, 'crucible-downstairs'), ['run', '-d', 'imp', '-p', String(PORT), '-a', '127.0.0.1'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      for (let i = 0; i < 100 && !out.includes('Repair listens'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain(`Repair listens on 127.0.0.1:${PORT + 4000}`);
      const a = await Client.connect(PORT);
      expect(await a.req({ id: 1, op: 'read', block: 0, count: 1 })).toMatchObject({ id: 1, ok: false });
      expect(await a.req({ id: 2, op: 'negotiate', upstairs_id: 'u-a', session_id: 's-a', gen: 1, read_only: false })).toEqual({
        id: 2,
        ok: true,
        region: { block_size: 512, blocks_per_extent: 100, extent_count: 6, uuid: U1 },
        max_stored_gen: 0,
        max_flush: 1,
      });
      const img = readFileSync(path.join(dir, 'img.raw'));
      expect(await a.req({ id: 3, op: 'read', block: 1, count: 2 })).toEqual({ id: 3, ok: true, data: img.subarray(512, 1536).toString('base64') });
      expect(await a.req({ id: 4, op: 'write', block: 120, data: Buffer.alloc(512, 9).toString('base64') })).toEqual({ id: 4, ok: true });
      expect(await a.req({ id: 5, op: 'flush', flush_number: 7 })).toEqual({ id: 5, ok: true });
      expect(await a.req({ id: 6, op: 'read', block: 600, count: 1 })).toMatchObject({ ok: false, error: expect.stringContaining('out of range') });
      const dump = (await ds(['dump', '-d', 'imp', '--no-color'])).stdout.split('\n');
      expect(dump[1]).toBe('  0 000-099    0    1   F');
      expect(dump[2]).toBe('  1 100-199    1    7   F');

      // Stored gen is now 1: gen 1 is too low (found = stored + 1), gen 0 illegal.
      const b = await Client.connect(PORT);
      expect(await b.req({ id: 1, op: 'negotiate', upstairs_id: 'u-b', session_id: 's-b', gen: 1, read_only: false })).toEqual({
        id: 1,
        ok: false,
        error: 'Generation number is too low: requested 1, found 2',
      });
      const z = await Client.connect(PORT);
      expect(await z.req({ id: 1, op: 'negotiate', upstairs_id: 'u-z', session_id: 's-z', gen: 0, read_only: false })).toEqual({ id: 1, ok: false, error: 'Generation 0 is illegal' });
      // A higher gen takes over; the old session is told and closed.
      const c = await Client.connect(PORT);
      expect(await c.req({ id: 1, op: 'negotiate', upstairs_id: 'u-c', session_id: 's-c', gen: 3, read_only: false })).toMatchObject({ ok: true });
      expect(await a.next()).toEqual({ event: 'no-longer-active', by: { upstairs_id: 'u-c', session_id: 's-c', gen: 3 } });
      // Lower than the active one, then same gen with other ids.
      const d = await Client.connect(PORT);
      expect(await d.req({ id: 1, op: 'negotiate', upstairs_id: 'u-d', session_id: 's-d', gen: 2, read_only: false })).toEqual({ id: 1, ok: false, error: 'Current gen 3 is > requested gen of 2' });
      const e = await Client.connect(PORT);
      expect(await e.req({ id: 1, op: 'negotiate', upstairs_id: 'u-e', session_id: 's-e', gen: 3, read_only: false })).toEqual({
        id: 1,
        ok: false,
        error: "Same gen, but UUIDs u-c/s-c don't match u-e/s-e",
      });
      // The repair server is HTTP, as Crucible's (dropshot): GET /region-info is the RegionDefinition
      // (what region.json holds), GET /region-mode whether it is read-only; repair routes 501.
      const repairUrl = `http://127.0.0.1:${PORT + 4000}`;
      const info = await fetch(`${repairUrl}/region-info`);
      expect(info.status).toBe(200);
      expect(info.headers.get('content-type')).toBe('application/json');
      expect(await info.json()).toEqual(JSON.parse(readFileSync(path.join(dir, 'imp', 'region.json'), 'utf8')));
      expect(await (await fetch(`${repairUrl}/region-mode`)).json()).toBe(false);
      expect((await fetch(`${repairUrl}/extent/0/files`)).status).toBe(501);
      const missing = await fetch(`${repairUrl}/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ request_id: expect.any(String), message: 'Not Found' });
      expect((await fetch(`${repairUrl}/region-info`, { method: 'PUT' })).status).toBe(405);
      // The lab protocol's region-info (PROTOCOL.md) on the upstairs' port: the active session too.
      const rep = await Client.connect(PORT);
      expect(await rep.req({ id: 9, op: 'region-info' })).toEqual({
        id: 9,
        ok: true,
        region: { block_size: 512, blocks_per_extent: 100, extent_count: 6, uuid: U1 },
        max_stored_gen: 1,
        max_flush: 7,
        active: { upstairs_id: 'u-c', session_id: 's-c', gen: 3 },
      });
      for (const s of [a, b, z, c, d, e, rep]) s.sock.destroy();
      // A second downstairs on the same port fails.
      const second = dsProc(['run', '-d', 'imp', '-p', String(PORT), '-a', '127.0.0.1']);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain('EADDRINUSE');
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('dsc', () => {
  test('create: ports 8810/8820/8830, regions at <dir>/<port>, uuids 12345678-0000-0000-0000-{port}, 4096-byte blocks; existing regions need --cleanup', async () => {
    const base = path.join(dir, 'dscr');
    const r = dsc(['create', '--ds-bin', path.join(bin, 'crucible-downstairs'), '--region-dir', base]);
    expect(r.code).toBe(0);
    for (const port of [8810, 8820, 8830]) {
      const def = JSON.parse(readFileSync(path.join(base, String(port), 'region.json'), 'utf8')) as Record<string, unknown>;
      expect(def).toMatchObject({ block_size: 4096, extent_size: { value: 100, shift: 12 }, extent_count: 15, uuid: `12345678-0000-0000-0000-00000000${port}` });
    }
    const again = dsc(['create', '--ds-bin', path.join(bin, 'crucible-downstairs'), '--region-dir', base]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`Error: Remove region "${base}/8810" before running\n`);
    // --cleanup deletes the old region directories (a file left in one is gone) and creates them again.
    writeFileSync(path.join(base, '8820', 'stale'), 'x');
    expect(dsc(['create', '--ds-bin', path.join(bin, 'crucible-downstairs'), '--region-dir', base, '--cleanup']).code).toBe(0);
    expect(existsSync(path.join(base, '8820', 'stale'))).toBe(false);
    expect(existsSync(path.join(base, '8820', 'region.json'))).toBe(true);
    expect(dsc(['start', '--cleanup']).code).toBe(2);
  });

  test('start runs three downstairs and answers cmd; shutdown stops them', async () => {
    const base = path.join(dir, 'dscr');
    const child = spawn(
      path.join(bin, 'dsc'),
      [
        'start',
        '--create',
        '--cleanup',
        '--ds-bin',
        path.join(bin, 'crucible-downstairs'),
        '--region-dir',
        base,
        '--port-base',
        '28910',
        '--control',
        '127.0.0.1:29998',
        '--output-dir',
        path.join(dir, 'dsc-out'),
      ],
      {
        stdio: 'ignore',
      },
    );
    try {
      const server = ['--server', 'http://127.0.0.1:29998'];
      let running = '';
      for (let i = 0; i < 40 && running !== 'true\n'; i++) {
        await new Promise((r) => setTimeout(r, 250));
        running = dsc(['cmd', ...server, 'all-running']).stdout;
      }
      expect(running).toBe('true\n');
      expect(dsc(['cmd', ...server, 'state', '-c', '1']).stdout).toBe('Running\n');
      expect(dsc(['cmd', ...server, 'stop', '-c', '1']).code).toBe(0);
      let state = '';
      for (let i = 0; i < 40 && state !== 'Stopped\n'; i++) {
        await new Promise((r) => setTimeout(r, 250));
        state = dsc(['cmd', ...server, 'state', '-c', '1']).stdout;
      }
      expect(state).toBe('Stopped\n');
      expect(existsSync(path.join(dir, 'dsc-out', 'downstairs-28920.txt'))).toBe(true);
      expect(dsc(['cmd', ...server, 'shutdown']).code).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
