import type { Duplex } from 'node:stream';

// The migration connection after the HTTP upgrade: one JSON object per line each way. (Real
// propolis speaks its binary migration protocol over a websocket; the lab keeps the exchange and
// its phases, not the framing.)

export class LineChannel {
  private buffer = '';
  private queue: Array<Record<string, unknown>> = [];
  private waiters: Array<{ resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }> = [];
  private closedError: Error | null = null;

  constructor(
    private readonly socket: Duplex,
    head?: Buffer,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => this.fail(new Error('the migration connection closed')));
    // An upgraded HTTP server socket is half-open on the peer's FIN ('end', no 'close'): a peer that
    // died must still end the exchange now, not at the next timeout.
    socket.on('end', () => this.fail(new Error('the migration peer closed the connection')));
    socket.on('error', (e) => this.fail(new Error(`the migration connection failed: ${e.message}`)));
    if (head && head.length) this.onData(head);
  }

  private onData(d: Buffer): void {
    this.buffer += d.toString('utf8');
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (!line.trim()) continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      const w = this.waiters.shift();
      if (w) w.resolve(msg);
      else this.queue.push(msg);
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  send(msg: Record<string, unknown>): void {
    if (this.closedError) throw this.closedError;
    this.socket.write(`${JSON.stringify(msg)}\n`);
  }

  /** The next message; a message `{t:"error"}` from the peer is thrown. `t` checks its type. */
  async next(t?: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const msg =
      this.queue.shift() ??
      (await new Promise<Record<string, unknown>>((resolve, reject) => {
        if (this.closedError) return reject(this.closedError);
        const timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w.resolve !== res);
          reject(new Error(`the migration peer sent nothing for ${timeoutMs} ms`));
        }, timeoutMs);
        timer.unref(); // an emulator in a test process must not keep it alive
        const res = (m: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(m);
        };
        this.waiters.push({
          resolve: res,
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
      }));
    if (msg.t === 'error') throw new Error(`the migration peer failed: ${String(msg.message)}`);
    if (t && msg.t !== t) throw new Error(`migration protocol: expected ${t}, got ${String(msg.t)}`);
    return msg;
  }

  close(): void {
    this.socket.end();
  }
}
