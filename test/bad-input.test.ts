import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers/paths';
import { closeTestClient, runFailure, scheduledActivityTypes, startRunbook } from './helpers/temporal';

/** seedRegions: its lab example with one thing broken at a time (and several at once). */
function seedRegionsCorpus(): Array<[string, string, unknown, RegExp[]]> {
  const base = JSON.parse(readFileSync(path.join(repoRoot, 'runbooks', 'seedRegions', 'examples', 'lab.json'), 'utf8')) as { regions: Array<Record<string, unknown>>; [k: string]: unknown };
  const region = (n: number, patch: Record<string, unknown>) => ({ ...base, regions: base.regions.map((r, i) => (i === n ? { ...r, ...patch } : r)) });
  return [
    ['seedRegions', 'a region dir with ..', region(1, { dir: '/pool/disk1/../../etc' }), [/regions\[1\]\.dir: a path without "\.\."/]],
    ['seedRegions', 'shell metacharacters in the image path', { ...base, image: { path: '/root/images/os.raw;reboot' } }, [/image\.path: an absolute path/]],
    ['seedRegions', 'a block size that is not a power of two', { ...base, blockSize: 1000 }, [/blockSize: a block size that is a power of two from 512 to 32768/]],
    ['seedRegions', 'a block size below 512', { ...base, blockSize: 256 }, [/blockSize: a block size/]],
    ['seedRegions', 'a block size above 32768', { ...base, blockSize: 65536 }, [/blockSize: a block size/]],
    ['seedRegions', 'extent files over 512 MiB', { ...base, blockSize: 4096, extentSize: 131073 }, [/extentSize: extent files over 512 MiB/]],
    ['seedRegions', 'duplicate ports', region(2, { port: 8810 }), [/regions\[2\]\.port: duplicate port 8810/]],
    ['seedRegions', "a port that is another region's repair port", region(1, { port: 12810 }), [/regions\[1\]\.port: port 12810 is another region's repair port/]],
    ['seedRegions', 'duplicate directories', region(2, { dir: '/pool/disk0/region/8810' }), [/regions\[2\]\.dir: duplicate region directory/]],
    [
      'seedRegions',
      'two regions, a bad uuid and a bad address together',
      { ...base, address: '127.0.0.256', regions: [base.regions[0], { ...base.regions[1], uuid: 'ABC' }] },
      [/address: an IPv4 address/, /regions: /, /regions\[1\]\.uuid: a lower-case UUID/],
    ],
  ];
}

afterAll(closeTestClient);

const corpus: Array<[string, string, unknown, RegExp[]]> = [
  ['hostFacts', 'no object at all', 'node1', [/expected one JSON object, got string/]],
  ['hostFacts', 'an array', ['node1'], [/expected one JSON object, got an array/]],
  ['hostFacts', 'null', null, [/got null/]],
  ['hostFacts', 'empty object', {}, [/hosts: /]],
  ['hostFacts', 'empty host list', { hosts: [] }, [/hosts: name at least one host/]],
  ['hostFacts', 'shell in a host name', { hosts: ['node1; rm -rf /'] }, [/hosts\[0\]: a host name/]],
  ['hostFacts', 'unknown field and bad mode together', { hosts: ['node1'], mode: 'yolo', extra: 1 }, [/mode: /, /extra/]],
  [
    'engineDrill',
    'every field wrong',
    { host: 'Node 1', dir: '/etc/../shadow', steps: 0, stepSeconds: -1, approvalTimeout: 'soon' },
    [/host: a host name/, /dir: /, /steps: /, /stepSeconds: /, /approvalTimeout: a duration/],
  ],
  ['engineDrill', 'path traversal', { host: 'node1', dir: '/var/tmp/engine-drill/../../etc' }, [/dir: a path without "\.\."/]],
  ...seedRegionsCorpus(),
];

test.each(corpus)('%s with %s fails at once with one non-retryable error listing every problem', async (type, _what, input, expected) => {
  const handle = await startRunbook(type, input);
  const failure = await runFailure(handle);
  expect(failure.type).toBe('InvalidInput');
  expect(failure.nonRetryable).toBe(true);
  for (const re of expected) expect(failure.message).toMatch(re);
  expect(await scheduledActivityTypes(handle)).toEqual([]);
  const history = await handle.fetchHistory();
  // one workflow task, then the failure: no retries of the workflow, no activity
  expect(history.events?.filter((e) => e.workflowExecutionFailedEventAttributes)).toHaveLength(1);
});
