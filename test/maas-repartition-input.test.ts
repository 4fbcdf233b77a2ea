import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { startMaasLab, type MaasLab } from './helpers/maas-lab';
import { repoRoot, tsxCli } from './helpers/paths';
import { closeTestClient, runFailure, scheduledActivityTypes, startRunbook, testClient } from './helpers/temporal';

// maasRepartition's bad inputs fail before any activity, each naming every problem (the shared
// worker); those only MAAS can tell are refused by the CLI's pre-flight before any run starts, and
// by the run's first, read-only step when it is started without one (the maas lab and its worker).

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

// Problems only MAAS can tell: what the machine is, how big its disk really is.
const machineCorpus: Array<[string, Record<string, unknown>, RegExp[]]> = [
  ['an unknown machine', { machine: 'no-such-machine' }, [/machine: MAAS lab-maas has no machine with hostname or system_id "no-such-machine"; check the name with `maas <profile> machines read`/]],
  [
    'partitions that do not fit the real disk',
    { partitions: { boot: '512M', root: '4G', spare: 'rest-evenly' } },
    [
      /the requested partitions do not fit: partitions: each of the 3 spare partitions would get 0 bytes; ZFS needs at least 64 MiB/,
      /the requested partitions do not fit: partitions: boot 512M \+ root 4G \+ 3 x .* but disk sda has \d+ usable bytes/,
    ],
  ],
];

describe('problems only MAAS can tell (the maas lab)', () => {
  let lab: MaasLab;
  beforeAll(async () => {
    lab = await startMaasLab('maas-repartition-input', { worker: true });
  }, 180_000);
  afterAll(async () => {
    await lab?.stop();
  });

  /** `runbook start maasRepartition` against the lab: its inventory (MAAS endpoint, key file) and its worker's queue. */
  function start(input: Record<string, unknown>, ...args: string[]): { id: string; code: number; stdout: string; stderr: string } {
    const id = `test/maasRepartition-preflight/${randomUUID()}`;
    const env = { ...process.env, RUNBOOK_INVENTORY: path.join(lab.labDir, 'inventory.json'), RUNBOOK_LAB_DIR: lab.labDir, RUNBOOK_TASK_QUEUE: lab.taskQueue };
    const r = spawnSync(process.execPath, [tsxCli, path.join(repoRoot, 'cli', 'main.ts'), 'start', 'maasRepartition', '--input', JSON.stringify(input), '--id', id, ...args], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 120_000,
      env,
    });
    return { id, code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }
  async function neverStarted(id: string): Promise<void> {
    const client = await testClient();
    await expect(client.workflow.getHandle(id).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  }

  test.each(machineCorpus)('runbook start with %s: the pre-flight lists every problem, exits 2 and starts nothing', async (_what, change, expected) => {
    const r = start({ ...example, ...change });
    expect(r.stderr).toMatch(new RegExp(`pre-flight of maasRepartition found ${expected.length} problem\\(s\\); nothing was started`));
    for (const re of expected) expect(r.stderr).toMatch(re);
    expect(r.code).toBe(2);
    await neverStarted(r.id);
  });

  test('the pre-flight lists static and machine-dependent problems together, one per line', async () => {
    const r = start({ ...example, pools: pools(['crucible1', 'mirror0', 'crucible3']), partitions: { boot: '512M', root: '4G', spare: 'rest-evenly' } });
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('- '));
    expect(lines).toEqual([
      expect.stringMatching(/^- pools\[1\]\.name: a pool name that is not reserved/),
      expect.stringMatching(/^- the requested partitions do not fit: partitions: each of the 3 spare partitions/),
      expect.stringMatching(/^- the requested partitions do not fit: partitions: boot 512M/),
    ]);
    await neverStarted(r.id);
    // The test helper that starts runs has the same pre-flight (the CLI's registry).
    const workflowId = `test/maasRepartition-preflight/${randomUUID()}`;
    await expect(startRunbook('maasRepartition', { ...example, machine: 'no-such-machine' }, { preflight: true, taskQueue: lab.taskQueue, workflowId })).rejects.toThrow(
      /pre-flight of maasRepartition found 1 problem\(s\); nothing was started:\n- machine: MAAS lab-maas has no machine/,
    );
    await neverStarted(workflowId);
    expect(lab.requests().filter((x) => x.method !== 'GET')).toEqual([]);
  });

  test.each(machineCorpus)(
    'started without a pre-flight (the client, --no-preflight), %s fails in its first read-only step with every problem, scheduling nothing that changes anything',
    async (_what, change, expected) => {
      const handle = await lab.start('maasRepartition', { ...example, ...change });
      const failure = await runFailure(handle);
      for (const re of expected) expect(failure.message.replace(/^machine: /, '')).toMatch(new RegExp(re.source.replace(/^machine: /, '')));
      expect(new Set(await scheduledActivityTypes(handle))).toEqual(new Set(['describeHosts', 'maasInspectMachine']));
      expect(lab.requests().filter((x) => x.method !== 'GET')).toEqual([]);
    },
  );

  test('--no-preflight starts the run, which refuses the same problems itself', async () => {
    const r = start({ ...example, machine: 'no-such-machine' }, '--no-preflight', '--wait');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAILED: maasRepartition failed at step inspect-machine: MAAS lab-maas has no machine with hostname or system_id "no-such-machine"/);
    const client = await testClient();
    expect((await client.workflow.getHandle(r.id).describe()).status.name).toBe('FAILED');
  });
});
