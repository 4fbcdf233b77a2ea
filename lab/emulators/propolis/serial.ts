import { badRequest } from './dropshot';

// COM1's history buffer, as GET /instance/serial/history serves it: `data` is the bytes as a JSON
// array of numbers, `last_byte_offset` the offset (from the first byte ever written) just past them.
// It travels with the guest in a migration, as the serial device's state does.

const KEEP_BYTES = 512 * 1024;

export class SerialConsole {
  private buf = Buffer.alloc(0);
  /** Offset of buf[0] in the whole stream. */
  private base = 0;

  print(line: string): void {
    const stamped = Buffer.from(`${line}\r\n`, 'utf8');
    this.buf = Buffer.concat([this.buf, stamped]);
    if (this.buf.length > KEEP_BYTES) {
      const drop = this.buf.length - KEEP_BYTES;
      this.buf = this.buf.subarray(drop);
      this.base += drop;
    }
  }

  get end(): number {
    return this.base + this.buf.length;
  }

  history(q: { from_start?: string; most_recent?: string; max_bytes?: string }): { data: number[]; last_byte_offset: number } {
    const num = (name: string, v: string | undefined): number | undefined => {
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v)) throw badRequest(`unable to parse query string: invalid digit found in string`);
      return Number(v);
    };
    const fromStart = num('from_start', q.from_start);
    const mostRecent = num('most_recent', q.most_recent);
    const maxBytes = num('max_bytes', q.max_bytes);
    if ((fromStart === undefined) === (mostRecent === undefined)) throw badRequest('Exactly one of from_start or most_recent must be specified.');
    let start = fromStart !== undefined ? fromStart : Math.max(0, this.end - (mostRecent ?? 0));
    if (start < this.base) start = this.base;
    if (start > this.end) start = this.end;
    let stop = this.end;
    if (maxBytes !== undefined) stop = Math.min(stop, start + maxBytes);
    const data = [...this.buf.subarray(start - this.base, stop - this.base)];
    return { data, last_byte_offset: stop };
  }

  export(): { base: number; data: string } {
    return { base: this.base, data: this.buf.toString('base64') };
  }

  static import(state: { base: number; data: string }): SerialConsole {
    const s = new SerialConsole();
    s.base = state.base;
    s.buf = Buffer.from(state.data, 'base64');
    return s;
  }
}
