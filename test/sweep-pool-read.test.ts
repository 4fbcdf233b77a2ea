import { readFileSync } from 'node:fs';
import path from 'node:path';
import { copiesFromObjects } from '../activities/zfs-replication/copy-state';
import { inspectPoolCommand, PoolCopiesReader } from '../activities/zfs-replication/pool-copies';
import { ZfsOutputError } from '../activities/zfs/errors';
import { parseZfsGet, ZfsGetReader } from '../activities/zfs/get';

// The sweep's first run reads every copy on a host with one pool-wide `zfs get -d 2`, parsed as it
// streams in (activities/zfs-replication/pool-copies.ts). Judged against a zfs-fuse capture
// (test/fixtures/zfs/get-pool-depth-2.json): it must see exactly what reading each project by name
// sees, whatever the chunks the output arrives in.

const fixture = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'zfs', 'get-pool-depth-2.json'), 'utf8')) as { command: string; stdout: string };
const A = 'fx/11111111-2222-4333-8444-555555555555';
const B = 'fx/22222222-3333-4444-8555-666666666666';
const C = 'fx/33333333-4444-4555-8666-777777777777';

function readInChunks(stdout: string, size: number): PoolCopiesReader {
  const reader = new PoolCopiesReader('compute1', 'fx');
  for (let k = 0; k < stdout.length; k += size) reader.push(stdout.slice(k, k + size));
  reader.end();
  return reader;
}

describe('the pool-wide read of every copy', () => {
  test('the command is the one captured, and takes only a valid pool name', () => {
    expect(inspectPoolCommand('fx', false).text).toBe(fixture.command);
    expect(inspectPoolCommand('fx', true).text).toContain(',written,');
    expect(() => inspectPoolCommand('fx; reboot', false)).toThrow();
  });

  test('every project is found with its own snapshots; the pool, a child filesystem and other datasets are not copies', () => {
    const r = readInChunks(fixture.stdout, 1 << 16);
    expect(r.summaries.map((s) => s.project)).toEqual([A, B, C].map((d) => d.slice('fx/'.length)));
    expect([...r.copies.keys()]).toEqual([A, B, C]);
    const a = r.copies.get(A)!;
    expect(a.snapshots.map((s) => s.shortName)).toEqual(['rb-20261204T010000Z', 'rb-20261204T020000Z']);
    expect(a.snapshots[1].changedAfterTxg).toBe(5);
    expect(a.ledger.role).toBe('source');
    expect(r.summaries[0]).toMatchObject({ role: 'source', replicationFactor: 2, mounted: true, canmount: 'on' });
    // B's child filesystem and its snapshot are B's business, not B's snapshots.
    expect(r.copies.get(B)!.snapshots.map((s) => s.name)).toEqual([`${B}@rb-20261204T010000Z`]);
    expect(r.copies.get(C)!.snapshots).toEqual([]);
    expect(r.summaries[2]).toMatchObject({ role: 'replica', canmount: 'noauto', mounted: false, replicationFactor: null });
  });

  test('it sees what reading each project by name sees, whatever the chunks the output streams in', () => {
    const byName = copiesFromObjects('compute1', parseZfsGet(fixture.stdout), [A, B, C]);
    for (const size of [1, 7, 100, 4096]) {
      const r = readInChunks(fixture.stdout, size);
      for (const d of [A, B, C]) expect(r.copies.get(d)).toEqual(byName.get(d));
    }
  });

  test('a line zfs should not print is refused, naming it, also after many good ones', () => {
    const bad = `${fixture.stdout}${A}\tused\t3.02M\t-\n`;
    expect(() => readInChunks(bad, 50)).toThrow(/used is not an exact integer/);
    expect(() => readInChunks(`${fixture.stdout}fx/bad name\ttype\tfilesystem\t-\n`, 50)).toThrow(/not a valid ZFS name/);
    expect(() => readInChunks(`${fixture.stdout}${A}\tguid\n`, 50)).toThrow(ZfsOutputError);
  });
});

describe('ZfsGetReader', () => {
  test('each object goes out once its rows end, rows split across chunks included', () => {
    const seen: string[] = [];
    const reader = new ZfsGetReader((o) => seen.push(`${o.name} ${o.guid}`));
    reader.push(`${A}\tguid\t12`);
    reader.push(`3\t-\n${A}\ttype\tfilesystem\t-\n${A}@s\tgu`);
    expect(seen).toEqual([]);
    reader.push(`id\t9\t-\n`);
    expect(seen).toEqual([`${A} 123`]);
    expect(reader.end()).toEqual([]);
    expect(seen).toEqual([`${A} 123`, `${A}@s 9`]);
  });

  test('without a callback it keeps every object, as parseZfsGet', () => {
    const reader = new ZfsGetReader();
    reader.push(fixture.stdout.slice(0, 1000));
    reader.push(fixture.stdout.slice(1000));
    expect(reader.end()).toEqual(parseZfsGet(fixture.stdout));
  });
});
