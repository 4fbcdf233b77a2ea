import { readFileSync } from 'node:fs';
import { closeTestClient, runFailure, scheduledActivityTypes, startRunbook } from './helpers/temporal';

// maasRepartition's bad inputs fail before any activity, each naming every problem (the shared worker).

afterAll(closeTestClient);

const example = JSON.parse(readFileSync(`${__dirname}/../runbooks/maasRepartition/examples/lab.json`, 'utf8')) as Record<string, unknown>;
const pools = (names: string[]) => names.map((n, k) => ({ name: n, mountpoint: `/crucible${k + 1}` }));

const corpus: Array<[string, Record<string, unknown>, RegExp[]]> = [
  [
    'spare partitions under the ZFS minimum and a tiny EFI partition',
    { partitions: { boot: '50M', root: '10G', spare: '10M' } },
    [/partitions\.spare: 10M is under ZFS's 64 MiB minimum/, /partitions\.boot: 50M is too small/],
  ],
  ['binary units and "remaining" (MAAS refuses both)', { partitions: { root: '40GiB', spare: 'remaining' } }, [/partitions\.root: a size in MAAS decimal units/, /partitions\.spare: /]],
  [
    'pool names that are not ZFS names',
    { pools: pools(['1pool', 'mirror0', 'ok-pool', 'ok-pool']) },
    [/pools\[0\]\.name: a ZFS pool name/, /pools\[1\]\.name: a pool name that is not reserved/, /pools\[3\]\.name: pool ok-pool appears twice/],
  ],
  [
    'shell metacharacters everywhere',
    { machine: 'proper-raptor; reboot', disk: 'sda$(id)', scriptName: '45-x;rm', pools: [{ name: 'a`b`', mountpoint: '/x y' }] },
    [/machine: a host name/, /disk: a kernel disk name/, /scriptName: a script name from 41- to 49-/, /pools\[0\]\.name: a ZFS pool name/, /pools\[0\]\.mountpoint: an absolute path/],
  ],
  [
    'a script that would run after 50-maas-01-commissioning, and a pool on /',
    { scriptName: '55-late', pools: [{ name: 'p', mountpoint: '/' }] },
    [/scriptName: a script name from 41- to 49-/, /pools\[0\]\.mountpoint: \/ belongs to the operating system/],
  ],
  [
    'loop files under /tmp, too small',
    { strategy: 'loop-files', loopFiles: { dir: '/tmp/pools', size: '10M' } },
    [/loopFiles\.dir: loop files live under \/var\/lib\//, /loopFiles\.size: 10M is under ZFS's 64 MiB minimum/],
  ],
  ['an API key in the input', { apiKey: 'a:b:c' }, [/apiKey/]],
];

test.each(corpus)('maasRepartition with %s fails at once, listing every problem, scheduling nothing', async (_what, change, expected) => {
  const handle = await startRunbook('maasRepartition', { ...example, ...change });
  const failure = await runFailure(handle);
  expect(failure.type).toBe('InvalidInput');
  for (const re of expected) expect(failure.message).toMatch(re);
  expect(await scheduledActivityTypes(handle)).toEqual([]);
});
