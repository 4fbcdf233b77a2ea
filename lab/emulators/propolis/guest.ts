import { createHash } from 'node:crypto';
import { byteReader, parseManifest, readExt4File } from './ext4';
import type { SerialConsole } from './serial';
import type { Upstairs } from './upstairs';

// The lab's guest: just enough of a VM to prove a migration kept it alive with its disk intact.
// Boot reads the boot disk through the upstairs and recognises the image's ext4 filesystem. Past
// the filesystem's end it keeps its own area: a header block with the heartbeat counter, then a
// journal of one block per heartbeat. Every heartbeat writes its journal entry and the header and
// flushes (so the downstairs stamp the volume's gen, and `dump` shows it), and prints a line on
// COM1. Its counter lives in "RAM", so it travels in a migration; the journal lives on the disk,
// so it must be readable through whatever upstairs comes next.

export const HEARTBEAT_MS = 100;
const MAGIC = 'propolis-lab-guest/1';
const EXT4_MAGIC = 0xef53;
/** Journal entries kept (a ring); 10 minutes at one per 100 ms. */
const MAX_JOURNAL = 6000;

export interface BootInfo {
  label: string;
  uuid: string;
  fsBlocks: number;
  fsBlockSize: number;
  /** First volume block of the guest's area (past the filesystem). */
  areaStart: number;
  journalCapacity: number;
}

/** What a migration carries of the guest: its RAM. */
export interface GuestRam {
  seq: number;
  lastBeatAt: number;
  boot: BootInfo;
  name: string;
  /** Heartbeat times around the last migration (downtime as the guest saw it). */
  history: Array<{ event: string; seq: number; at: number; gen: number }>;
}

export interface JournalEntry {
  seq: number;
  at: number;
  gen: number;
  vm: string;
  check: string;
}

function checkOf(e: Omit<JournalEntry, 'check'>): string {
  return createHash('sha256').update(`${e.seq}|${e.at}|${e.gen}|${e.vm}`).digest('hex').slice(0, 16);
}

function block(json: unknown, blockSize: number): Buffer {
  const b = Buffer.alloc(blockSize);
  b.write(JSON.stringify(json), 'utf8');
  return b;
}

function parseBlock(b: Buffer): Record<string, unknown> | null {
  const end = b.indexOf(0);
  const text = b.subarray(0, end < 0 ? b.length : end).toString('utf8');
  if (!text.startsWith('{')) return null;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Reads the ext4 superblock (1024 bytes in) and places the guest's area past the filesystem. */
export async function recogniseBootDisk(up: Upstairs): Promise<BootInfo> {
  const bs = up.blockSize;
  const first = Math.floor(1024 / bs);
  const count = Math.ceil(2048 / bs) - first;
  const raw = await up.read(first, count);
  const sb = raw.subarray(1024 - first * bs, 1024 - first * bs + 1024);
  const magic = sb.readUInt16LE(56);
  if (magic !== EXT4_MAGIC) throw new Error(`no bootable filesystem on the boot disk: no ext4 superblock magic at byte 1080 (found 0x${magic.toString(16)})`);
  const fsBlocks = sb.readUInt32LE(4);
  const fsBlockSize = 1024 << sb.readUInt32LE(24);
  const uuidHex = sb.subarray(104, 120).toString('hex');
  const uuid = `${uuidHex.slice(0, 8)}-${uuidHex.slice(8, 12)}-${uuidHex.slice(12, 16)}-${uuidHex.slice(16, 20)}-${uuidHex.slice(20)}`;
  const label = sb.subarray(120, 136).toString('latin1').replace(/\0.*$/s, '');
  const areaStart = Math.ceil((fsBlocks * fsBlockSize) / bs);
  const room = up.totalBlocks - areaStart - 1;
  if (room < 64)
    throw new Error(`the boot disk has no room for the guest's journal past its filesystem (${up.totalBlocks} blocks, filesystem ends at block ${areaStart}); give the regions more extents`);
  return { label, uuid, fsBlocks, fsBlockSize, areaStart, journalCapacity: Math.min(MAX_JOURNAL, room) };
}

export class Guest {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private ioError: string | null = null;

  constructor(
    private up: Upstairs,
    private readonly serial: SerialConsole,
    readonly ram: GuestRam,
  ) {}

  get running(): boolean {
    return this.timer !== null;
  }
  get lastIoError(): string | null {
    return this.ioError;
  }

  /** A cold boot: recognise the disk, then continue the counter from the journal on it. */
  static async boot(up: Upstairs, serial: SerialConsole, name: string): Promise<Guest> {
    serial.print(`lab-guest: booting ${name} from a Crucible volume (gen ${up.gen}, downstairs ${up.targets.join(' ')})`);
    const boot = await recogniseBootDisk(up);
    serial.print(`lab-guest: ext4 filesystem "${boot.label}" uuid ${boot.uuid}, ${boot.fsBlocks} blocks of ${boot.fsBlockSize} bytes; guest area at block ${boot.areaStart}`);
    const header = parseBlock(await up.read(boot.areaStart, 1));
    const seq = header && header.magic === MAGIC && typeof header.seq === 'number' ? header.seq : 0;
    const guest = new Guest(up, serial, { seq, lastBeatAt: 0, boot, name, history: [{ event: 'boot', seq, at: Date.now(), gen: up.gen }] });
    await guest.checkImage('boot');
    await guest.checkJournal('boot');
    return guest;
  }

  /**
   * Reads the image's own manifest (/MANIFEST.sha256, sha256sum's output) and every file it lists
   * out of the ext4 filesystem through the current upstairs, and says on COM1 which are intact: the
   * proof that the disk still holds the OS image, not only a superblock.
   */
  async checkImage(why: string): Promise<{ ok: boolean; files: Record<string, string>; bad: string[] }> {
    const read = byteReader(this.up.blockSize, (b, n) => this.up.read(b, n));
    const files: Record<string, string> = {};
    const bad: string[] = [];
    let manifest: Record<string, string> = {};
    try {
      manifest = parseManifest((await readExt4File(read, '/MANIFEST.sha256')).toString('utf8'));
    } catch (err) {
      bad.push(`/MANIFEST.sha256 (${(err as Error).message})`);
    }
    for (const [file, want] of Object.entries(manifest)) {
      try {
        const got = createHash('sha256')
          .update(await readExt4File(read, file))
          .digest('hex');
        files[file] = got;
        this.serial.print(`lab-guest: image file ${file} sha256 ${got} ${got === want ? 'ok' : `MISMATCH (manifest ${want})`}`);
        if (got !== want) bad.push(file);
      } catch (err) {
        bad.push(`${file} (${(err as Error).message})`);
      }
    }
    const n = Object.keys(manifest).length;
    this.serial.print(
      bad.length === 0 && n > 0
        ? `lab-guest: image check (${why}): ${n} of ${n} files listed in /MANIFEST.sha256 intact`
        : `lab-guest: image check (${why}): NOT intact: ${bad.join(', ') || 'no files listed'}`,
    );
    return { ok: bad.length === 0 && n > 0, files, bad };
  }

  /** Reads every journal entry back through the current upstairs and says on COM1 whether all are intact. */
  async checkJournal(why: string): Promise<{ ok: boolean; checked: number; bad: number[] }> {
    const { boot, seq } = this.ram;
    const first = Math.max(1, seq - boot.journalCapacity + 1);
    const bad: number[] = [];
    const bs = this.up.blockSize;
    for (let s = first; s <= seq;) {
      // Contiguous ring slots, up to 256 blocks a read.
      const slot = (s - 1) % boot.journalCapacity;
      const n = Math.min(256, seq - s + 1, boot.journalCapacity - slot);
      const data = await this.up.read(boot.areaStart + 1 + slot, n);
      for (let i = 0; i < n; i++) {
        const e = parseBlock(data.subarray(i * bs, (i + 1) * bs)) as JournalEntry | null;
        if (!e || e.seq !== s + i || e.check !== checkOf(e)) bad.push(s + i);
      }
      s += n;
    }
    const checked = seq - first + 1;
    this.serial.print(
      bad.length === 0
        ? `lab-guest: journal check (${why}): entries ${seq === 0 ? 'none' : `${first}..${seq}`} readable and intact (${seq === 0 ? 0 : checked} entries, gen ${this.up.gen})`
        : `lab-guest: journal check (${why}): ${bad.length} of ${checked} entries unreadable or corrupt (first ${bad[0]})`,
    );
    return { ok: bad.length === 0, checked: seq === 0 ? 0 : checked, bad };
  }

  private async beat(): Promise<void> {
    const seq = this.ram.seq + 1;
    const at = Date.now();
    const entry = { seq, at, gen: this.up.gen, vm: this.ram.name };
    const { boot } = this.ram;
    const bs = this.up.blockSize;
    try {
      await this.up.write(boot.areaStart + 1 + ((seq - 1) % boot.journalCapacity), block({ ...entry, check: checkOf(entry) }, bs));
      await this.up.write(boot.areaStart, block({ magic: MAGIC, seq, at, gen: this.up.gen, vm: this.ram.name }, bs));
      await this.up.flush();
      this.ram.seq = seq;
      this.ram.lastBeatAt = at;
      this.ioError = null;
      this.serial.print(`heartbeat seq=${seq} gen=${this.up.gen} at=${at}`);
    } catch (err) {
      const msg = (err as Error).message;
      if (msg !== this.ioError) this.serial.print(`lab-guest: disk io error, heartbeat stalled: ${msg}`);
      this.ioError = msg;
    }
  }

  start(event: string): void {
    if (this.timer) return;
    this.ram.history.push({ event, seq: this.ram.seq, at: Date.now(), gen: this.up.gen });
    if (this.ram.history.length > 50) this.ram.history.splice(0, this.ram.history.length - 50);
    this.timer = setInterval(() => {
      this.inFlight = this.inFlight.then(() => this.beat());
    }, HEARTBEAT_MS);
  }

  /** Stops the vCPUs: no heartbeat after this returns. */
  async pause(event: string): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
    this.ram.history.push({ event, seq: this.ram.seq, at: Date.now(), gen: this.up.gen });
  }

  /** After a migration: the same RAM on a new upstairs. */
  static migratedIn(up: Upstairs, serial: SerialConsole, ram: GuestRam): Guest {
    return new Guest(up, serial, ram);
  }
}
