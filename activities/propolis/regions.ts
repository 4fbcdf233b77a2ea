import net from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { StepOutput } from '../../common/step';
import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import { dumpCommand, readLedgerCommand, regionJsonCommand, reserveGenCommand } from './commands';
import type { RegionGeometry } from './requests';

// The volume's three regions on the storage host: their geometry (region.json), their highest gen
// (dump's `Max gen`), whether each downstairs serves and which gen holds it active now
// (region-info over the lab protocol), and the gens the ledger handed out before.

const regionJsonSchema = z.object({
  block_size: z.number().int().positive(),
  extent_size: z.object({ value: z.number().int().positive(), shift: z.number().int() }),
  extent_count: z.number().int().positive(),
  uuid: z.string().regex(/^[0-9a-f-]{36}$/),
});

const ledgerLineSchema = z.object({ gen: z.number().int().positive(), key: z.string(), purpose: z.string(), at: z.string() });
export type LedgerEntry = z.infer<typeof ledgerLineSchema>;

export interface RegionsInspection {
  host: string;
  volumeId: string;
  geometry: RegionGeometry;
  maxGen: number;
  maxFlush: number;
  regions: Array<{ dir: string; port: number; uuid: string; target: string; serving: boolean; activeGen: number | null; detail: string }>;
  ledger: LedgerEntry[];
}

export function parseDumpMax(stdout: string): { maxGen: number; maxFlush: number } {
  const m = /^Max gen: (\d+),\s+Max flush: (\d+)\s*$/m.exec(stdout);
  if (!m) throw new Error(`dump printed no "Max gen: G,  Max flush: F" line: ${stdout.slice(-300)}`);
  return { maxGen: Number(m[1]), maxFlush: Number(m[2]) };
}

export function parseLedger(text: string): LedgerEntry[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => ledgerLineSchema.parse(JSON.parse(l)));
}

function regionInfo(address: string, port: number): Promise<{ ok: boolean; uuid?: string; activeGen: number | null; detail: string }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, address);
    let buf = '';
    const done = (r: { ok: boolean; uuid?: string; activeGen: number | null; detail: string }) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(3000, () => done({ ok: false, activeGen: null, detail: 'no answer within 3 s' }));
    sock.on('error', (e) => done({ ok: false, activeGen: null, detail: (e as NodeJS.ErrnoException).code ?? e.message }));
    sock.on('connect', () => sock.write(`${JSON.stringify({ id: 1, op: 'region-info' })}\n`));
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const r = JSON.parse(buf.slice(0, nl)) as { ok?: boolean; region?: { uuid?: string }; active?: { gen?: number } | null; error?: string };
        done(
          r.ok
            ? { ok: true, uuid: r.region?.uuid, activeGen: r.active?.gen ?? null, detail: r.active ? `active gen ${r.active.gen}` : 'serving, no active upstairs' }
            : { ok: false, activeGen: null, detail: r.error ?? 'refused' },
        );
      } catch {
        done({ ok: false, activeGen: null, detail: `not a downstairs: ${buf.slice(0, 80)}` });
      }
    });
  });
}

export async function crucibleInspectRegions(host: string, downstairs: Array<{ dir: string; port: number }>, volumeId: string | null): Promise<StepOutput<RegionsInspection>> {
  const session = new HostSession(sharedPool(), host);
  const address = sharedPool().inventory.host(host).address;
  const defs: Array<z.infer<typeof regionJsonSchema>> = [];
  for (const d of downstairs) {
    const r = await session.check(regionJsonCommand(d.dir), { what: `reading ${d.dir}/region.json` });
    defs.push(regionJsonSchema.parse(JSON.parse(r.stdout)));
  }
  const g = defs[0];
  for (const [i, d] of defs.entries()) {
    if (d.block_size !== g.block_size || d.extent_size.value !== g.extent_size.value || d.extent_count !== g.extent_count) {
      throw new Error(
        `the regions differ in geometry: ${downstairs[0].dir} has block_size ${g.block_size}, ${g.extent_size.value} blocks per extent, ${g.extent_count} extents; ${downstairs[i].dir} has ${d.block_size}, ${d.extent_size.value}, ${d.extent_count}`,
      );
    }
  }
  // dump of several regions exits non-zero when their metadata differs; its Max gen line still counts.
  const dump = await session.run(dumpCommand(downstairs.map((d) => d.dir)));
  const { maxGen, maxFlush } = parseDumpMax(dump.stdout);
  const id = volumeId ?? defs[0].uuid;
  // The three copies, merged: a line in any of them counts.
  const merged = new Map<string, LedgerEntry>();
  for (const e of parseLedger(
    (
      await session.check(
        readLedgerCommand(
          downstairs.map((d) => d.dir),
          id,
        ),
      )
    ).stdout,
  ))
    merged.set(`${e.gen}|${e.key}`, e);
  const ledger = [...merged.values()].sort((a, b) => a.gen - b.gen);
  const regions = await Promise.all(
    downstairs.map(async (d, i) => {
      const info = await regionInfo(address, d.port);
      const serving = info.ok && info.uuid === defs[i].uuid;
      return {
        dir: d.dir,
        port: d.port,
        uuid: defs[i].uuid,
        target: `${address}:${d.port}`,
        serving,
        activeGen: info.activeGen,
        detail: info.ok && !serving ? `port ${d.port} serves region ${info.uuid}, not ${defs[i].uuid}` : info.detail,
      };
    }),
  );
  return session.output({ host, volumeId: id, geometry: { blockSize: g.block_size, blocksPerExtent: g.extent_size.value, extentCount: g.extent_count }, maxGen, maxFlush, regions, ledger });
}

export async function crucibleReserveGen(host: string, regionDirs: string[], volumeId: string, key: string, purpose: string, floor: number, exact: boolean): Promise<StepOutput<LedgerEntry>> {
  const session = new HostSession(sharedPool(), host);
  const r = await session.run(reserveGenCommand(regionDirs, volumeId, key, purpose, floor, exact));
  if (r.record.exitCode === 3)
    throw ApplicationFailure.nonRetryable(`${host}: ${r.stderr.trim()}; leave gen out of the input (the runbook picks one above every gen seen) or give a higher one`, 'GenRefused');
  if (r.record.exitCode !== 0) throw new Error(`${host}: reserving a gen in the ledger of volume ${volumeId} failed (exit ${r.record.exitCode}): ${r.stderr.trim().slice(-300)}`);
  const lines = r.stdout.trim().split('\n');
  return session.output(ledgerLineSchema.parse(JSON.parse(lines[lines.length - 1])));
}

/**
 * Which gen holds each downstairs active now (region-info, as the downstairs report it): after a
 * failed migration, the side whose gen holds all three owns the disk; a split means neither does.
 */
export async function crucibleDiskHolders(host: string, ports: number[]): Promise<StepOutput<Array<{ target: string; activeGen: number | null; detail: string }>>> {
  const address = sharedPool().inventory.host(host).address;
  const infos = await Promise.all(ports.map(async (port) => ({ target: `${address}:${port}`, ...(await regionInfo(address, port)) })));
  return {
    value: infos.map((i) => ({ target: i.target, activeGen: i.activeGen, detail: i.detail })),
    commands: infos.map((i) => ({
      host,
      command: `region-info ${i.target}`,
      exitCode: i.ok ? 0 : 1,
      startedAt: new Date().toISOString(),
      durationMs: 0,
      stdoutTail: i.detail,
      stderrTail: '',
      truncated: false,
    })),
  };
}
