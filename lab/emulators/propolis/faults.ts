import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

// Faults on demand, for tests: a JSON file next to the emulator's state (its path is given on the
// command line), read when the emulator gets to the point a fault applies to. No API endpoint of
// propolis-server is added for it. One-shot faults are removed from the file when they fire.

export const faultsSchema = z
  .object({
    /** Downstairs (host:port) this sled cannot reach: connections are cut and not re-made while listed. */
    blockTargets: z.array(z.string()).default([]),
    /** One-shot: this server, as a migration destination, exits (as if killed) half-way through RamPush. */
    dieDuringRamPush: z.boolean().default(false),
    /**
     * One-shot: this server, as a migration destination, activates its disk with the new gen during
     * the Device phase (taking the volume over, fencing the source) and then fails the migration:
     * propolis#230, where the source resumes Running on a volume it no longer holds.
     */
    failAfterActivating: z.boolean().default(false),
    /** While true, a source migrating out stays in RamPush (a test releases it when it has seen what it needs). */
    holdRamPush: z.boolean().default(false),
    /** How long the source pushes RAM (ms); default from the VM's memory size. */
    ramPushMs: z.number().int().nonnegative().optional(),
  })
  .strict();
export type Faults = z.infer<typeof faultsSchema>;

export class FaultsFile {
  private cached: { at: number; value: Faults } | null = null;
  constructor(readonly file: string | null) {}

  get(): Faults {
    if (!this.file) return faultsSchema.parse({});
    if (this.cached && Date.now() - this.cached.at < 100) return this.cached.value;
    let value = faultsSchema.parse({});
    if (existsSync(this.file)) {
      try {
        value = faultsSchema.parse(JSON.parse(readFileSync(this.file, 'utf8')));
      } catch {
        // A half-written file reads as no faults until it is whole.
      }
    }
    this.cached = { at: Date.now(), value };
    return value;
  }

  blocked(): Set<string> {
    return new Set(this.get().blockTargets);
  }

  /** Fires a one-shot fault: true once, and the file no longer has it. */
  take(name: 'dieDuringRamPush' | 'failAfterActivating'): boolean {
    const f = this.get();
    if (!f[name] || !this.file) return false;
    const next = { ...f, [name]: false };
    writeFileSync(`${this.file}.tmp`, JSON.stringify(next));
    renameSync(`${this.file}.tmp`, this.file);
    this.cached = null;
    return true;
  }
}
