import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { RegionVcr } from './api-types';

// The emulated Crucible upstairs: one volume of one region, replicated on three downstairs, spoken
// to with the lab's downstairs wire protocol (lab/emulators/crucible/PROTOCOL.md). It keeps what a
// migration depends on: activation with the VCR's gen (refused when too low, taking over when higher),
// writes to every reachable downstairs, flushes that stamp the gen, a downstairs lost and repaired
// while the guest runs, and being told it is no longer active when another upstairs takes over.

export interface RegionInfo {
  block_size: number;
  blocks_per_extent: number;
  extent_count: number;
  uuid: string;
}

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

/** A refusal by a downstairs at negotiation (gen too low, another upstairs active): activation fails for good. */
export class NegotiationRefused extends Error {}
/** This upstairs was replaced by one with a higher gen; its IO will never work again. */
export class NoLongerActive extends Error {}

class DownstairsConnection {
  private socket: net.Socket | null = null;
  private buffer = '';
  private nextId = 1;
  private pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  closed = true;

  constructor(
    readonly target: string,
    private readonly onEvent: (event: Record<string, unknown>) => void,
    private readonly onClose: () => void,
  ) {}

  connect(timeoutMs: number): Promise<void> {
    const [host, port] = [this.target.slice(0, this.target.lastIndexOf(':')), Number(this.target.slice(this.target.lastIndexOf(':') + 1))];
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${this.target} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.socket = socket;
        this.closed = false;
        socket.setNoDelay(true);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        if (this.socket !== socket) reject(err);
      });
      socket.on('data', (d: Buffer) => this.onData(d));
      socket.on('close', () => {
        if (this.socket !== socket) return;
        this.socket = null;
        this.closed = true;
        for (const p of this.pending.values()) p.reject(new Error(`connection to downstairs ${this.target} closed`));
        this.pending.clear();
        this.onClose();
      });
    });
  }

  private onData(d: Buffer): void {
    this.buffer += d.toString('utf8');
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (!line.trim()) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (typeof msg.id === 'number' && this.pending.has(msg.id)) {
        const p = this.pending.get(msg.id)!;
        this.pending.delete(msg.id);
        p.resolve(msg as unknown as Reply);
      } else if (typeof msg.event === 'string') {
        this.onEvent(msg);
      }
    }
  }

  request(body: Record<string, unknown>, timeoutMs = 10_000): Promise<Reply> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error(`not connected to downstairs ${this.target}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`downstairs ${this.target} did not answer ${String(body.op)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      socket.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  close(): void {
    this.socket?.destroy();
  }
}

export interface UpstairsOptions {
  region: RegionVcr;
  /** Targets the network cannot reach right now (the lab's faults file). */
  blocked: () => Set<string>;
  log: (line: string) => void;
}

interface Leg {
  target: string;
  conn: DownstairsConnection | null;
  /** Negotiated and in step with the others. */
  healthy: boolean;
  maxFlush: number;
  maxStoredGen: number;
}

export class Upstairs {
  readonly upstairsId = randomUUID();
  readonly sessionId = randomUUID();
  readonly gen: number;
  region: RegionInfo | null = null;
  active = false;
  fenced: { by: unknown } | null = null;
  private legs: Leg[];
  private flushNumber = 0;
  /** Blocks written while a leg was out, copied to it when it comes back (the lab's live repair). */
  private missed = new Map<string, Set<number>>();
  private stopped = false;
  private repairTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: UpstairsOptions) {
    this.gen = opts.region.gen;
    this.legs = opts.region.opts.target.map((target) => ({ target, conn: null, healthy: false, maxFlush: 0, maxStoredGen: 0 }));
  }

  get blockSize(): number {
    return this.opts.region.block_size;
  }
  get totalBlocks(): number {
    return this.opts.region.blocks_per_extent * this.opts.region.extent_count;
  }
  get targets(): string[] {
    return this.legs.map((l) => l.target);
  }
  healthyTargets(): string[] {
    return this.legs.filter((l) => l.healthy).map((l) => l.target);
  }

  /** One leg: connect (unless the network is cut) and negotiate. Throws NegotiationRefused on a refusal. */
  private async openLeg(leg: Leg): Promise<void> {
    if (this.opts.blocked().has(leg.target)) throw new Error(`downstairs ${leg.target} is unreachable`);
    const conn = new DownstairsConnection(
      leg.target,
      (event) => this.onEvent(leg, event),
      () => this.onLegClosed(leg),
    );
    await conn.connect(2000);
    const r = await conn.request({ op: 'negotiate', upstairs_id: this.upstairsId, session_id: this.sessionId, gen: this.gen, read_only: this.opts.region.opts.read_only });
    if (!r.ok) {
      conn.close();
      throw new NegotiationRefused(`downstairs ${leg.target} refused activation with gen ${this.gen}: ${r.error ?? 'no reason given'}`);
    }
    const region = r.region as RegionInfo;
    const want = this.opts.region;
    if (region.block_size !== want.block_size || region.blocks_per_extent !== want.blocks_per_extent || region.extent_count !== want.extent_count) {
      conn.close();
      throw new NegotiationRefused(
        `downstairs ${leg.target} serves a region of block_size ${region.block_size}, blocks_per_extent ${region.blocks_per_extent}, extent_count ${region.extent_count}; the VCR says ${want.block_size}, ${want.blocks_per_extent}, ${want.extent_count}`,
      );
    }
    this.region = region;
    leg.conn = conn;
    leg.maxFlush = Number(r.max_flush ?? 0);
    leg.maxStoredGen = Number(r.max_stored_gen ?? 0);
  }

  /**
   * Activation needs all three downstairs, as Crucible's does. An unreachable downstairs is retried
   * until it answers or `cancelled()` says stop (so a target without a route hangs activating, as a
   * real one does); a refusal ends activation at once.
   */
  async activate(cancelled: () => boolean): Promise<void> {
    let lastError = '';
    for (;;) {
      if (cancelled() || this.stopped) throw new Error(`activation cancelled (${lastError || 'not started'})`);
      const pending = this.legs.filter((l) => !l.conn);
      const results = await Promise.allSettled(pending.map((l) => this.openLeg(l)));
      const refused = results.find((r) => r.status === 'rejected' && r.reason instanceof NegotiationRefused);
      if (refused) {
        this.close();
        throw (refused as PromiseRejectedResult).reason as Error;
      }
      const failed = results.filter((r) => r.status === 'rejected');
      if (failed.length === 0) break;
      const msg = failed.map((f) => String((f as PromiseRejectedResult).reason?.message ?? f)).join('; ');
      if (msg !== lastError) this.opts.log(`crucible: waiting for downstairs to activate: ${msg}`);
      lastError = msg;
      await new Promise((r) => setTimeout(r, 300));
    }
    for (const l of this.legs) l.healthy = true;
    this.flushNumber = Math.max(...this.legs.map((l) => l.maxFlush));
    this.active = true;
    this.repairTimer = setInterval(() => void this.repairLoop(), 250);
  }

  /**
   * Reconciliation at activation, reduced to what the lab needs: when the downstairs disagree (one
   * missed flushes while it was cut off), copy `range` (the blocks a guest ever writes) from the one
   * with the highest flush number to the others.
   */
  async reconcile(range: { start: number; count: number }): Promise<string | null> {
    const best = this.legs.reduce((a, b) => (b.maxFlush > a.maxFlush ? b : a));
    const stale = this.legs.filter((l) => l.maxFlush !== best.maxFlush);
    if (stale.length === 0) return null;
    const chunk = 256;
    for (let b = range.start; b < range.start + range.count; b += chunk) {
      const n = Math.min(chunk, range.start + range.count - b);
      const r = await best.conn!.request({ op: 'read', block: b, count: n });
      if (!r.ok) throw new Error(`reconcile: read from ${best.target} failed: ${r.error}`);
      for (const s of stale) {
        const w = await s.conn!.request({ op: 'write', block: b, data: r.data });
        if (!w.ok) throw new Error(`reconcile: write to ${s.target} failed: ${w.error}`);
      }
    }
    await this.flush();
    return `reconciled ${stale.map((s) => s.target).join(', ')} from ${best.target} (flush ${best.maxFlush} vs ${stale.map((s) => s.maxFlush).join(', ')})`;
  }

  private onEvent(leg: Leg, event: Record<string, unknown>): void {
    if (event.event === 'no-longer-active') {
      this.fenced = { by: event.by };
      this.active = false;
      this.opts.log(`crucible: downstairs ${leg.target} says this upstairs (gen ${this.gen}) is no longer active: taken over by ${JSON.stringify(event.by)}`);
    }
  }

  private onLegClosed(leg: Leg): void {
    leg.conn = null;
    if (leg.healthy && !this.stopped && !this.fenced) this.opts.log(`crucible: lost downstairs ${leg.target}; continuing on ${this.healthyTargets().filter((t) => t !== leg.target).length} of 3`);
    if (leg.healthy) this.missed.set(leg.target, new Set());
    leg.healthy = false;
  }

  private checkUsable(): void {
    if (this.fenced) throw new NoLongerActive(`this upstairs (gen ${this.gen}) is no longer active: another upstairs took over the volume`);
    if (!this.active) throw new Error('the volume is not active');
    // The network may have been cut since the last IO.
    const blocked = this.opts.blocked();
    for (const l of this.legs) if (l.healthy && blocked.has(l.target)) l.conn?.close();
  }

  private healthyLegs(): Leg[] {
    const legs = this.legs.filter((l) => l.healthy && l.conn);
    if (legs.length < 2) throw new Error(`only ${legs.length} of 3 downstairs reachable (${legs.map((l) => l.target).join(', ') || 'none'}); IO stalls`);
    return legs;
  }

  async read(block: number, count: number): Promise<Buffer> {
    this.checkUsable();
    for (const leg of this.healthyLegs()) {
      try {
        const r = await leg.conn!.request({ op: 'read', block, count });
        if (r.ok) return Buffer.from(String(r.data), 'base64');
        if (/no longer active|not active/i.test(r.error ?? '')) throw new NoLongerActive(r.error);
        throw new Error(`read of blocks ${block}+${count} from ${leg.target}: ${r.error}`);
      } catch (err) {
        if (err instanceof NoLongerActive) throw err;
        if (!leg.conn) continue; // lost mid-read: try the next one
        throw err;
      }
    }
    throw new Error(`read of blocks ${block}+${count}: no downstairs answered`);
  }

  private async everyLeg(body: Record<string, unknown>, blocks: number[]): Promise<void> {
    this.checkUsable();
    const legs = this.healthyLegs();
    const results = await Promise.allSettled(legs.map((l) => l.conn!.request(body)));
    let ok = 0;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled' && r.value.ok) ok++;
      else if (r.status === 'fulfilled' && /active/i.test(r.value.error ?? '')) this.fenced ??= { by: r.value.error };
    });
    for (const [target, set] of this.missed) if (!this.legs.find((l) => l.target === target)?.healthy) for (const b of blocks) set.add(b);
    if (this.fenced) throw new NoLongerActive(`this upstairs (gen ${this.gen}) is no longer active`);
    if (ok < 2) throw new Error(`${String(body.op)} reached ${ok} of 3 downstairs`);
  }

  async write(block: number, data: Buffer): Promise<void> {
    const count = data.length / this.blockSize;
    await this.everyLeg(
      { op: 'write', block, data: data.toString('base64') },
      Array.from({ length: count }, (_, i) => block + i),
    );
  }

  async flush(): Promise<number> {
    this.flushNumber++;
    await this.everyLeg({ op: 'flush', flush_number: this.flushNumber }, []);
    return this.flushNumber;
  }

  /** A leg that was lost comes back when the network lets it: renegotiate, copy what it missed, flush. */
  private async repairLoop(): Promise<void> {
    if (!this.active || this.fenced || this.stopped) return;
    const blocked = this.opts.blocked();
    for (const leg of this.legs) {
      if (leg.healthy || blocked.has(leg.target)) continue;
      try {
        if (!leg.conn) await this.openLeg(leg);
        const from = this.legs.find((l) => l.healthy && l.conn);
        if (!from) return;
        const missed = [...(this.missed.get(leg.target) ?? [])].sort((a, b) => a - b);
        for (const b of missed) {
          const r = await from.conn!.request({ op: 'read', block: b, count: 1 });
          await leg.conn!.request({ op: 'write', block: b, data: r.data });
        }
        await leg.conn!.request({ op: 'flush', flush_number: this.flushNumber });
        leg.healthy = true;
        this.missed.delete(leg.target);
        this.opts.log(`crucible: downstairs ${leg.target} is back; repaired ${missed.length} blocks`);
      } catch (err) {
        leg.conn?.close();
        leg.conn = null;
        if (err instanceof NegotiationRefused) this.opts.log(`crucible: ${err.message}`);
      }
    }
  }

  close(): void {
    this.stopped = true;
    this.active = false;
    if (this.repairTimer) clearInterval(this.repairTimer);
    for (const l of this.legs) l.conn?.close();
  }
}
