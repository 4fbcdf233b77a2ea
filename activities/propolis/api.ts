import { z } from 'zod';
import type { CommandRecord } from '../../common/step';
import { sharedPool } from '../ssh/shared-pool';
import { propolisRequest, type PropolisResponse } from './http';
import { callLine } from './requests';

// propolis-server calls from the worker, each kept as an audit record (the call as a line, the HTTP
// status as its exit code, the body's tail as its output). Hosts are inventory names; the address
// is the worker's business.

export function addressOf(host: string): string {
  return sharedPool().inventory.host(host).address;
}

export const errorBodySchema = z.object({ request_id: z.string(), error_code: z.string().optional(), message: z.string() });

export const migrationStatusSchema = z.object({ id: z.string(), state: z.string() }).nullable();
export const migrationsSchema = z.object({ migration_in: migrationStatusSchema, migration_out: migrationStatusSchema });
export const publishedStateSchema = z.object({ gen: z.number().int(), state: z.string(), migration: migrationsSchema });
export type PublishedState = z.infer<typeof publishedStateSchema>;

export const instanceSpecGetSchema = z.object({
  properties: z.object({ id: z.string(), name: z.string() }).loose(),
  state: z.string(),
  spec: z.union([
    z.object({
      type: z.literal('Present'),
      value: z.object({ board: z.object({ cpus: z.number(), memory_mb: z.number() }).loose(), components: z.record(z.string(), z.object({ type: z.string(), component: z.unknown() })) }).loose(),
    }),
    z.object({ type: z.literal('WaitingForMigrationSource') }),
  ]),
});

export class Calls {
  readonly records: CommandRecord[] = [];
  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  async call(method: 'GET' | 'PUT', path: string, body?: unknown, opts: { timeoutMs?: number; signal?: AbortSignal; record?: boolean } = {}): Promise<PropolisResponse> {
    const started = Date.now();
    const line = callLine(this.host, this.port, method, path, body);
    try {
      const r = await propolisRequest({ address: addressOf(this.host), port: this.port }, method, path, body, { timeoutMs: opts.timeoutMs, signal: opts.signal });
      if (opts.record !== false)
        this.records.push({
          host: this.host,
          command: line,
          exitCode: r.status,
          startedAt: new Date(started).toISOString(),
          durationMs: Date.now() - started,
          stdoutTail: r.text.slice(-1500),
          stderrTail: '',
          truncated: r.text.length > 1500,
        });
      return r;
    } catch (err) {
      this.records.push({
        host: this.host,
        command: line,
        exitCode: null,
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        stdoutTail: '',
        stderrTail: (err as Error).message,
        truncated: false,
      });
      throw err;
    }
  }
}

/** An answer the caller did not expect, told with the server's own words. */
export function unexpected(host: string, what: string, r: PropolisResponse): Error {
  const e = errorBodySchema.safeParse(r.body);
  return new Error(`${host}: ${what} answered HTTP ${r.status}${e.success ? `: ${e.data.error_code ? `${e.data.error_code}: ` : ''}${e.data.message}` : ` ${r.text.slice(0, 300)}`}`);
}
