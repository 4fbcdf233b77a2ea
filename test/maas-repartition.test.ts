import type { WorkflowHandle } from '@temporalio/client';
import { checkCruciblePools } from '../lab/scenarios/maas/check';
import { approveUpdate, auditQuery } from '../workflows/engine/messages';
import type { MaasRepartitionResult } from '../workflows/maasRepartition';
import type { RunbookResult } from '../workflows/engine/runbook';
import { FAST_TIMINGS, startMaasLab, type MaasLab } from './helpers/maas-lab';
import { closeTestClient, runFailure, scheduledActivityTypes, waitForAudit } from './helpers/temporal';

// maasRepartition end to end on the maas lab: the region emulator, proper-raptor's real disk and
// sshd, zfs-fuse in its namespace, a worker of this file's own.

export const LAB_INPUT = {
  maas: 'lab-maas',
  machine: 'proper-raptor',
  host: 'proper-raptor',
  disk: 'sda',
  partitions: { boot: '512M', root: '1000M', spare: 'rest-evenly' },
  pools: [1, 2, 3].map((n) => ({ name: `crucible${n}`, mountpoint: `/crucible${n}` })),
  strategy: 'maas',
  waitTimeout: '2m',
  pollInterval: '200ms',
};

const ops = (lab: MaasLab, op: string) => lab.requests().filter((r) => r.op === op && r.method === 'POST').length;

async function approve(handle: WorkflowHandle, step: string, decision: 'approve' | 'reject' = 'approve'): Promise<void> {
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === step && s.status === 'waiting-approval'));
  await handle.executeUpdate(approveUpdate, { args: [{ step, decision, approver: 'test', comment: 'lab' }] });
}

describe('maasRepartition', () => {
  let lab: MaasLab;
  beforeAll(async () => {
    lab = await startMaasLab('maas-repartition', { worker: true });
  }, 180_000);
  afterAll(async () => {
    await lab?.stop();
  });

  test('happy path: one big root → three healthy pools on three real partitions; the seed check passes; each MAAS op issued once', async () => {
    expect((await checkCruciblePools(lab.machine)).ok).toBe(false);
    const t0 = Date.now();
    const handle = await lab.start('maasRepartition', LAB_INPUT);
    await approve(handle, 'release');
    const result = (await handle.result()) as RunbookResult<MaasRepartitionResult>;
    const elapsed = Date.now() - t0;
    process.stderr.write(`maasRepartition lab run: ${elapsed} ms\n`);
    expect(result.outcome).toBe('succeeded');
    expect(result.value.outcome).toBe('repartitioned');
    expect(result.value.partitions.map((p) => p.name)).toEqual(['sda-part3', 'sda-part4', 'sda-part5']);
    expect(result.value.partitions.every((p) => p.stablePath.startsWith('/dev/disk/by-partuuid/'))).toBe(true);
    expect(result.value.pools.map((p) => [p.name, p.health, p.mountpoint, p.createdByThisRun])).toEqual([1, 2, 3].map((n) => [`crucible${n}`, 'ONLINE', `/crucible${n}`, true]));
    expect(result.value.evidence.scriptOutput).toContain('custom storage layout written for sda');
    // Deployed came before cloud-init was done: the wait saw it running first.
    expect(result.audit.steps.find((s) => s.name === 'cloud-init')?.commands[0].stdoutTail).toMatch(/\.+\s*status: done/);
    const check = await checkCruciblePools(lab.machine);
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
    expect([ops(lab, 'release'), ops(lab, 'commission'), ops(lab, 'deploy')]).toEqual([1, 1, 1]);
    expect(result.audit.steps.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'inspect-machine',
        'decide',
        'upload-script',
        'release',
        'commit',
        'commission-1',
        'check-commissioning-1',
        'deploy-1',
        'cloud-init',
        'resolve-partitions',
        'create-pool-1',
        'create-pool-3',
      ]),
    );
    // A second run finds the target state and changes nothing.
    const again = (await (await lab.start('maasRepartition', LAB_INPUT)).result()) as RunbookResult<MaasRepartitionResult>;
    expect(again.value.outcome).toBe('already-in-target-state');
    expect([ops(lab, 'release'), ops(lab, 'commission'), ops(lab, 'deploy')]).toEqual([1, 1, 1]);
  });
});

describe('maasRepartition: refusals, silent failures, cancel, crash, loop-files', () => {
  let lab: MaasLab;
  const machine = () => lab.json('GET', `machines/${lab.systemId}/`);
  beforeAll(async () => {
    lab = await startMaasLab('maas-repartition-faults', { worker: true });
  }, 180_000);
  afterAll(async () => {
    await lab?.stop();
  });

  test('plan mode shows the layout JSON, the script, every MAAS call and command; MAAS and the host are untouched', async () => {
    const before = await lab.fingerprint();
    const handle = await lab.start('maasRepartition', { ...LAB_INPUT, mode: 'plan' });
    const result = (await handle.result()) as RunbookResult<MaasRepartitionResult>;
    expect(result.outcome).toBe('planned');
    const commands = result.planned.flatMap((p) => p.commands).join('\n');
    for (const want of [
      'op=commission commissioning_scripts=45-crucible-layout testing_scripts=none',
      'op=release',
      'op=deploy distro_series=jammy',
      '# name: 45-crucible-layout',
      '"mounts"',
      'zpool create -o ashift=12 -O atime=off',
      "-m /crucible3 crucible3 '/dev/disk/by-partuuid/<partuuid of /dev/disk/by-dname/sda-part5",
      'cloud-init status --wait',
    ])
      expect(commands).toContain(want);
    expect(result.audit.steps.find((s) => s.name === 'decide')?.summary).toContain('"layout"');
    expect(lab.requests().filter((r) => r.method !== 'GET')).toEqual([]);
    expect(new Set(await scheduledActivityTypes(handle))).toEqual(new Set(['describeHosts', 'maasInspectMachine', 'hostPools']));
    expect(await lab.fingerprint()).toBe(before);
  });

  test('a rejected release approval changes nothing (the uploaded script is taken back)', async () => {
    const before = await lab.fingerprint();
    const handle = await lab.start('maasRepartition', LAB_INPUT);
    await approve(handle, 'release', 'reject');
    const failure = await runFailure(handle);
    expect(failure.message).toContain('step "release" was rejected');
    expect((await lab.call('GET', 'scripts/45-crucible-layout')).status).toBe(404);
    expect((await machine()).status_name).toBe('Deployed');
    expect(lab.requests().filter((r) => r.method === 'POST' && r.op)).toEqual([]);
    expect(await lab.fingerprint()).toBe(before);
  });

  test('an unappliable layout (Ready, no layout, one event) is caught and named; after two failures the run stops', async () => {
    const vda = JSON.stringify({ layout: { vda: { type: 'disk', ptable: 'gpt', partitions: [{ name: 'vda1', size: '1G', fs: 'ext4' }] } }, mounts: { '/': { device: 'vda1' } } });
    lab.configure({ faults: { storageConfigOverride: vda } });
    const handle = await lab.start('maasRepartition', { ...LAB_INPUT, approve: ['release'] });
    const failure = await runFailure(handle);
    expect(failure.message).toContain('Cannot apply custom layout: Unknown machine disk(s): vda');
    expect(failure.message).toContain('attempt 2');
    // A Ready machine has no owner, so MAAS refuses mark-broken (403): the run says so.
    expect(failure.message).toContain('NOT marked broken');
    expect((await machine()).status_name).toBe('Ready');
  });

  test('an unreachable BMC (status reverts to Ready, results Aborted) is caught', async () => {
    lab.configure({ faults: { bmcUnreachable: true } });
    const handle = await lab.start('maasRepartition', { ...LAB_INPUT, approve: ['release'] });
    const failure = await runFailure(handle);
    expect(failure.message).toContain('every result was Aborted');
    expect(failure.message).toContain('Unable to power control the node');
    expect(lab.requests().filter((r) => r.op === 'deploy')).toEqual([]);
  });

  test('an invalid layout fails commissioning; the error carries the MAAS events; the machine is marked broken', async () => {
    const bad = JSON.stringify({
      layout: {
        sda: {
          type: 'disk',
          ptable: 'gpt',
          partitions: [
            { name: 'sda1', size: '512M', fs: 'vfat' },
            { name: 'sda2', size: '1G', fs: 'ext4' },
            { name: 'sda3', size: '500M', fs: 'unformatted' },
          ],
        },
      },
      mounts: { '/': { device: 'sda2' } },
    });
    lab.configure({ faults: { storageConfigOverride: bad } });
    const handle = await lab.start('maasRepartition', { ...LAB_INPUT, approve: ['release'] });
    const failure = await runFailure(handle);
    expect(failure.message).toContain("Failed processing commissioning data: Invalid config at layout/sda/partitions/2/fs: 'unformatted' is not one of");
    expect(failure.message).toContain('custom storage layout written for sda');
    const m = await machine();
    expect(m.status_name).toBe('Broken');
    expect(m.error_description).toContain('failed twice');
    lab.configure({ faults: {} });
    await lab.reset();
  });

  test('cancel mid-commission aborts it in MAAS and records it', async () => {
    lab.configure({ faults: { hang: 'commissioning' }, timings: { nodeTimeoutMs: 120_000 } });
    const handle = await lab.start('maasRepartition', { ...LAB_INPUT, approve: ['release'] });
    await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'commission-1' && s.status === 'running'));
    await lab.waitForStatus(['Commissioning']);
    await handle.cancel();
    await runFailure(handle);
    const audit = await handle.query(auditQuery);
    expect(audit.steps.find((s) => s.name === 'abort-commission-1')).toMatchObject({ status: 'completed' });
    expect(lab.requests().filter((r) => r.op === 'abort')).toHaveLength(1);
    expect((await machine()).status_name).toBe('New');
    lab.configure({ faults: {} });
    await lab.reset();
  });

  test('SIGKILL of the worker mid-commission and mid-deploy: the run resumes, each MAAS op issued once, each pool created once', async () => {
    const handle = await lab.start('maasRepartition', { ...LAB_INPUT, approve: ['release'] });
    lab.configure({ timings: { ...FAST_TIMINGS, bootMs: 2500 } });
    await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'commission-1' && s.status === 'running'), 60_000);
    await lab.restartWorker();
    await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'deploy-1' && s.status === 'running'), 120_000);
    await lab.restartWorker();
    lab.configure({ timings: FAST_TIMINGS });
    const result = (await handle.result()) as RunbookResult<MaasRepartitionResult>;
    expect(result.value.pools.map((p) => p.createdByThisRun)).toEqual([true, true, true]);
    expect([ops(lab, 'release'), ops(lab, 'commission'), ops(lab, 'deploy')]).toEqual([1, 1, 1]);
    expect((await checkCruciblePools(lab.machine)).checks.filter((c) => !c.ok)).toEqual([]);
    await lab.reset();
  });

  test("loop-files: a failure undoes only this run's pools and files; then three file pools pass the seed check", async () => {
    await lab.sh(
      'mkdir -p /var/lib/crucible-pools && truncate -s 100M /var/lib/crucible-pools/foreign.img && zpool create -m /var/lib/crucible-pools/mnt/foreign foreign /var/lib/crucible-pools/foreign.img && truncate -s 100M /var/lib/crucible-pools/crucible3.img',
    );
    const input = { ...LAB_INPUT, strategy: 'loop-files', loopFiles: { dir: '/var/lib/crucible-pools', size: '200M' } };
    const failed = await lab.start('maasRepartition', input);
    const failure = await runFailure(failed);
    expect(failure.message).toContain('crucible3.img exists and this run did not make it');
    const after = await lab.sh('zpool list -H -o name; ls /var/lib/crucible-pools');
    expect({ after, failure: failure.message }).toEqual({ after: expect.any(String), failure: expect.any(String) });
    if (after.includes('crucible1')) process.stderr.write(`loop-files undo left crucible1: ${failure.message}\n${await lab.sh('zpool status crucible1; zfs get all crucible1 | grep durable')}\n`);
    expect(after.split('\n').filter(Boolean).sort()).toEqual(['crucible3.img', 'foreign', 'foreign.img', 'mnt'].sort());
    await lab.sh('rm /var/lib/crucible-pools/crucible3.img');
    const ok = (await (await lab.start('maasRepartition', input)).result()) as RunbookResult<MaasRepartitionResult>;
    expect(ok.value.outcome).toBe('pools-on-files');
    expect((await checkCruciblePools(lab.machine, { backing: 'files' })).checks.filter((c) => !c.ok)).toEqual([]);
    expect(lab.requests().filter((r) => r.method === 'POST')).toEqual([]);
  });
});

afterAll(closeTestClient);
