import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { byteReader, readExt4File } from '../../emulators/propolis/ext4';
import type { CheckReport, ScenarioContext } from '../types';
import { PROPOLIS_PORT, PROPOLIS_SLEDS } from './layout';

// The scenario's own judgement of a live migration, written from seed 004 and oxide-sagas.md 5,
// not from the runbook: the guest runs on exactly one sled; its heartbeat counter never skipped or
// went back (the serial history of the running sled shows consecutive sequence numbers, still
// advancing); the volume's gen only ever went up (the gens stamped in the heartbeats, and the gen
// the downstairs hold active now); and every journal entry the guest wrote is on the disk intact,
// read straight from each downstairs over a read-only session (not through any propolis-server).

type Check = CheckReport['checks'][number];

function get(address: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      host: address,
      port: PROPOLIS_PORT,
      path,
      method: 'GET',
      agent: false,
      headers: { 'api-version': '5.0.0', ...(payload ? { 'content-type': 'application/json' } : {}) },
    });
    req.setTimeout(5000, () => req.destroy(new Error('timed out')));
    req.on('response', (res) => {
      let t = '';
      res.on('data', (d: Buffer) => (t += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: t ? (JSON.parse(t) as unknown) : null }));
    });
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.end(payload);
  });
}

export interface Heartbeat {
  seq: number;
  gen: number;
  at: number;
}

export function heartbeatsOf(serial: string): Heartbeat[] {
  return [...serial.matchAll(/heartbeat seq=(\d+) gen=(\d+) at=(\d+)/g)].map((m) => ({ seq: Number(m[1]), gen: Number(m[2]), at: Number(m[3]) }));
}

async function serialOf(address: string): Promise<string> {
  const r = await get(address, '/instance/serial/history?from_start=0');
  return r.status === 200 ? Buffer.from((r.body as { data: number[] }).data).toString('utf8') : '';
}

/** A read-only session on one downstairs (PROTOCOL.md): it takes nothing over. */
class ReadOnlySession {
  private buf = '';
  private waiting = new Map<number, (m: Record<string, unknown>) => void>();
  private id = 0;
  private constructor(private sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(this.buf.slice(0, nl)) as Record<string, unknown>;
        this.buf = this.buf.slice(nl + 1);
        this.waiting.get(m.id as number)?.(m);
      }
    });
  }
  static open(target: string): Promise<ReadOnlySession> {
    return new Promise((resolve, reject) => {
      const i = target.lastIndexOf(':');
      const sock = net.connect(Number(target.slice(i + 1)), target.slice(0, i));
      sock.setTimeout(10_000, () => sock.destroy(new Error(`downstairs ${target} timed out`)));
      sock.once('error', reject);
      sock.once('connect', () => resolve(new ReadOnlySession(sock)));
    });
  }
  request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = ++this.id;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.sock.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }
  async read(block: number, count: number): Promise<Buffer> {
    const r = await this.request({ op: 'read', block, count });
    if (!r.ok) throw new Error(String(r.error));
    return Buffer.from(String(r.data), 'base64');
  }
  close(): void {
    this.sock.destroy();
  }
}

function parseBlock(b: Buffer): Record<string, unknown> | null {
  const end = b.indexOf(0);
  try {
    return JSON.parse(b.subarray(0, end < 0 ? b.length : end).toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/**
 * The journal on one downstairs, found the way any reader of the disk would: the ext4 superblock
 * says where the filesystem ends; the guest's header block follows it.
 */
async function journalOn(target: string): Promise<{ target: string; activeGen: number | null; seq: number; intact: number; bad: number[]; error?: string }> {
  let s: ReadOnlySession | null = null;
  try {
    s = await ReadOnlySession.open(target);
    const neg = await s.request({ op: 'negotiate', upstairs_id: randomUUID(), session_id: randomUUID(), gen: 1, read_only: true });
    if (!neg.ok) throw new Error(`read-only negotiate refused: ${String(neg.error)}`);
    const region = neg.region as { block_size: number; blocks_per_extent: number; extent_count: number };
    const info = await s.request({ op: 'region-info' });
    const activeGen = (info.active as { gen?: number } | null)?.gen ?? null;
    const bs = region.block_size;
    const sbFirst = Math.floor(1024 / bs);
    const raw = await s.read(sbFirst, Math.ceil(2048 / bs) - sbFirst);
    const sb = raw.subarray(1024 - sbFirst * bs);
    if (sb.readUInt16LE(56) !== 0xef53) throw new Error('no ext4 superblock on the disk');
    const area = Math.ceil((sb.readUInt32LE(4) * (1024 << sb.readUInt32LE(24))) / bs);
    const capacity = Math.min(6000, region.blocks_per_extent * region.extent_count - area - 1);
    const header = parseBlock(await s.read(area, 1));
    const seq = typeof header?.seq === 'number' ? header.seq : 0;
    const first = Math.max(1, seq - capacity + 1);
    const bad: number[] = [];
    for (let q = first; q <= seq;) {
      const slot = (q - 1) % capacity;
      const n = Math.min(256, seq - q + 1, capacity - slot);
      const data = await s.read(area + 1 + slot, n);
      for (let i = 0; i < n; i++) {
        const e = parseBlock(data.subarray(i * bs, (i + 1) * bs));
        const ok =
          e &&
          e.seq === q + i &&
          e.check ===
            createHash('sha256')
              .update(`${String(e.seq)}|${String(e.at)}|${String(e.gen)}|${String(e.vm)}`)
              .digest('hex')
              .slice(0, 16);
        if (!ok) bad.push(q + i);
      }
      q += n;
    }
    return { target, activeGen, seq, intact: seq - first + 1 - bad.length, bad };
  } catch (err) {
    return { target, activeGen: null, seq: 0, intact: 0, bad: [], error: (err as Error).message };
  } finally {
    s?.close();
  }
}

export interface MigrationJudgement extends CheckReport {
  runningOn: string | null;
  heartbeats: { first: number; last: number; count: number };
  gens: number[];
}

/**
 * The OS image's files on one downstairs, read out of its ext4 filesystem over a read-only session
 * and hashed: `files` is what the image was built with (path -> sha256, the crucible scenario's
 * image record), not what the guest says.
 */
async function imageOn(target: string, files: Record<string, string>): Promise<{ target: string; bad: string[]; error?: string }> {
  let s: ReadOnlySession | null = null;
  try {
    s = await ReadOnlySession.open(target);
    const session = s;
    const neg = await session.request({ op: 'negotiate', upstairs_id: randomUUID(), session_id: randomUUID(), gen: 1, read_only: true });
    if (!neg.ok) throw new Error(`read-only negotiate refused: ${String(neg.error)}`);
    const bs = (neg.region as { block_size: number }).block_size;
    const read = byteReader(bs, (b, n) => session.read(b, n));
    const bad: string[] = [];
    for (const [file, want] of Object.entries(files)) {
      const got = createHash('sha256')
        .update(await readExt4File(read, file))
        .digest('hex');
      if (got !== want) bad.push(file);
    }
    return { target, bad };
  } catch (err) {
    return { target, bad: [], error: (err as Error).message };
  } finally {
    s?.close();
  }
}

/**
 * Judge the VM after a live migration (or a recovery): `sleds` are the propolis sleds to look at,
 * `targets` the three downstairs of its boot disk.
 */
export async function judgeLiveMigration(opts: { sleds?: Array<{ name: string; address: string }>; targets: string[]; imageFiles?: Record<string, string> }): Promise<MigrationJudgement> {
  const sleds = opts.sleds ?? PROPOLIS_SLEDS;
  const checks: Check[] = [];
  const states = await Promise.all(sleds.map(async (s) => ({ ...s, r: await get(s.address, '/instance') })));
  const running = states.filter((s) => s.r.status === 200 && (s.r.body as { instance: { state: string } }).instance.state === 'Running');
  checks.push({
    name: 'the guest runs on exactly one sled',
    ok: running.length === 1,
    detail: states.map((s) => `${s.name}: ${s.r.status === 200 ? (s.r.body as { instance: { state: string } }).instance.state : s.r.status === 424 ? 'no instance' : `HTTP ${s.r.status}`}`).join(', '),
  });
  const where = running.length === 1 ? running[0] : null;
  let beats: Heartbeat[] = [];
  if (where) {
    const before = heartbeatsOf(await serialOf(where.address));
    await new Promise((r) => setTimeout(r, 400));
    beats = heartbeatsOf(await serialOf(where.address));
    const gaps = beats.slice(1).filter((b, i) => b.seq !== beats[i].seq + 1);
    const advancing = beats.length > 0 && before.length > 0 && beats[beats.length - 1].seq > before[before.length - 1].seq;
    checks.push({
      name: 'heartbeat continuous and advancing',
      ok: beats.length > 0 && gaps.length === 0 && advancing,
      detail: beats.length
        ? `seq ${beats[0].seq}..${beats[beats.length - 1].seq} on ${where.name}; ${gaps.length ? `gaps before ${gaps.map((g) => g.seq).join(', ')}` : 'no gaps'}; ${advancing ? 'advancing' : 'NOT advancing'}`
        : 'no heartbeat on the serial console',
    });
  }
  const gens = [...new Set(beats.map((b) => b.gen))];
  const monotonic = beats.slice(1).every((b, i) => b.gen >= beats[i].gen);
  const journals = await Promise.all(opts.targets.map(journalOn));
  const active = journals.map((j) => j.activeGen);
  const lastGen = beats.length ? beats[beats.length - 1].gen : null;
  checks.push({
    name: 'gens strictly increasing',
    ok: beats.length > 0 && monotonic && active.every((g) => g === lastGen),
    detail: `gens in the heartbeats ${gens.join(' -> ') || 'none'}${monotonic ? '' : ' (went back!)'}; active on the downstairs ${active.map((g) => g ?? 'none').join(', ')}`,
  });
  const lastSeq = beats.length ? beats[beats.length - 1].seq : 0;
  for (const j of journals) {
    checks.push({
      name: `journal intact on ${j.target}`,
      ok: !j.error && j.bad.length === 0 && j.seq > 0 && j.seq >= lastSeq - 5,
      detail: j.error ?? `${j.intact} entries intact up to seq ${j.seq}${j.bad.length ? `; bad: ${j.bad.slice(0, 5).join(', ')}` : ''}`,
    });
  }
  if (opts.imageFiles) {
    const want = opts.imageFiles;
    for (const r of await Promise.all(opts.targets.map((t) => imageOn(t, want)))) {
      checks.push({
        name: `the OS image's files intact on ${r.target}`,
        ok: !r.error && r.bad.length === 0 && Object.keys(want).length > 0,
        detail: r.error ?? (r.bad.length ? `differ from the image: ${r.bad.join(', ')}` : `${Object.keys(want).length} files match the image`),
      });
    }
  }
  return {
    ok: checks.every((c) => c.ok),
    checks,
    runningOn: where?.name ?? null,
    heartbeats: { first: beats[0]?.seq ?? 0, last: lastSeq, count: beats.length },
    gens,
  };
}

/** Per host (lab check): the sled's server answers, and a guest running on it has a live heartbeat. */
export async function checkPropolisSled(ctx: ScenarioContext): Promise<CheckReport> {
  const sled = PROPOLIS_SLEDS.find((s) => s.name === ctx.host)!;
  const r = await get(sled.address, '/instance');
  if (r.status === 424) return { ok: true, checks: [{ name: 'propolis-server', ok: true, detail: 'answers; no instance' }] };
  if (r.status !== 200) return { ok: false, checks: [{ name: 'propolis-server', ok: false, detail: `GET /instance: ${r.status} ${JSON.stringify(r.body)}` }] };
  const state = (r.body as { instance: { state: string; properties: { name: string } } }).instance;
  if (state.state !== 'Running') return { ok: true, checks: [{ name: 'propolis-server', ok: true, detail: `instance ${state.properties.name} is ${state.state}` }] };
  const a = heartbeatsOf(await serialOf(sled.address));
  await new Promise((res) => setTimeout(res, 400));
  const b = heartbeatsOf(await serialOf(sled.address));
  const ok = b.length > 0 && (a.length === 0 || b[b.length - 1].seq > a[a.length - 1].seq);
  return { ok, checks: [{ name: `guest ${state.properties.name} heartbeat`, ok, detail: b.length ? `seq ${b[b.length - 1].seq}, gen ${b[b.length - 1].gen}` : 'no heartbeat' }] };
}
