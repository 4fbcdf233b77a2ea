import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { bash } from '../../../activities/ssh/command';
import type { CheckReport, ScenarioContext } from '../types';
import type { ImageRecord } from './build';
import { CRUCIBLE_HOST, PORTS, REGION_DIRS, imageRecordPath } from './layout';

// The scenario's own judgement, from seeds 003/004 and oxide-sagas.md 4, not from any runbook: the
// host is healthy when three regions (dsc's layout, /pool/diskN/region/88N0) each hold the OS
// image (export the image's blocks, compare sha256 with the image zero-padded to a block), their
// extent metadata agrees (`dump` of the three exits 0), and a downstairs serves each region on its
// port (8810/8820/8830 at the host's address answers region-info with that region's uuid). Right
// after lab up it fails: nothing is seeded yet.

function regionInfo(address: string, port: number, timeoutMs = 3000): Promise<{ uuid?: string; error?: string }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, address);
    let buf = '';
    const done = (r: { uuid?: string; error?: string }) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done({ error: 'timed out' }));
    sock.on('error', (err) => done({ error: err.message }));
    sock.on('connect', () => sock.write(`${JSON.stringify({ id: 1, op: 'region-info' })}\n`));
    sock.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      try {
        const res = JSON.parse(buf.slice(0, nl)) as { ok?: boolean; region?: { uuid?: string }; error?: string };
        done(res.ok ? { uuid: res.region?.uuid } : { error: res.error ?? 'not ok' });
      } catch {
        done({ error: `not a protocol answer: ${buf.slice(0, 80)}` });
      }
    });
  });
}

export async function checkCrucible(ctx: ScenarioContext): Promise<CheckReport> {
  const checks: CheckReport['checks'] = [];
  const recordFile = imageRecordPath(ctx.hostDir);
  if (!existsSync(recordFile)) return { ok: false, checks: [{ name: 'OS image', ok: false, detail: `no image record at ${recordFile}: was the lab built?` }] };
  const image = JSON.parse(readFileSync(recordFile, 'utf8')) as ImageRecord;
  const uuids: Array<string | null> = [];
  for (const dir of REGION_DIRS) {
    const def = await ctx.exec(bash`cat ${`${dir}/region.json`}`);
    let parsed: { block_size?: unknown; uuid?: unknown } = {};
    try {
      parsed = def.code === 0 ? (JSON.parse(def.stdout) as typeof parsed) : {};
    } catch {
      parsed = {};
    }
    const bs = parsed.block_size;
    const uuid = parsed.uuid;
    if (typeof bs !== 'number' || typeof uuid !== 'string') {
      checks.push({ name: `region ${dir}`, ok: false, detail: def.code === 0 ? 'region.json without block_size/uuid' : `no region: ${def.stderr.trim()}` });
      uuids.push(null);
      continue;
    }
    uuids.push(uuid);
    const blocks = Math.ceil(image.bytes / bs);
    const pad = blocks * bs - image.bytes;
    const r = await ctx.exec(
      bash`set -euo pipefail
tmp=$(mktemp /tmp/crucible-check.XXXXXX)
trap 'rm -f "$tmp"' EXIT
crucible-downstairs export -d ${dir} -e "$tmp" --count ${blocks} >/dev/null
sha256sum "$tmp" | cut -d' ' -f1
{ cat ${image.path}; head -c ${pad} /dev/zero; } | sha256sum | cut -d' ' -f1`,
      { timeoutMs: 300_000 },
    );
    const [got, want] = r.stdout.trim().split('\n');
    const ok = r.code === 0 && got === want;
    checks.push({
      name: `region ${dir} holds the image`,
      ok,
      detail:
        r.code !== 0
          ? `export failed (exit ${r.code}): ${r.stderr.trim().slice(-300)}`
          : ok
            ? `uuid ${uuid}, ${blocks} blocks of ${bs} B match ${image.path} (zero-padded)`
            : `export of ${blocks} blocks has sha256 ${got}, the padded image ${want}`,
    });
  }
  const dump = await ctx.exec(bash`crucible-downstairs dump ${REGION_DIRS.flatMap((d) => ['-d', d])} --no-color -o`, { timeoutMs: 120_000 });
  checks.push({
    name: 'dump of the three regions agrees',
    ok: dump.code === 0,
    detail: dump.code === 0 ? (dump.stdout.trim().split('\n').pop() ?? '') : `exit ${dump.code}: ${(dump.stderr || dump.stdout).trim().slice(-300)}`,
  });
  for (const [i, port] of PORTS.entries()) {
    const info = await regionInfo(CRUCIBLE_HOST.address, port);
    const want = uuids[i];
    checks.push({
      name: `downstairs on ${CRUCIBLE_HOST.address}:${port}`,
      ok: info.uuid !== undefined && info.uuid === want,
      detail: info.error ? info.error : info.uuid === want ? `serves region ${info.uuid}` : `serves region ${info.uuid}, expected ${want ?? '(no region)'}`,
    });
  }
  return { ok: checks.every((c) => c.ok), checks };
}
