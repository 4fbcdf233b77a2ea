import type { WorkflowHandle } from '@temporalio/client';
import { checkCruciblePools } from '../lab/scenarios/maas/check';
import { approveUpdate, auditQuery } from '../workflows/engine/messages';
import type { MaasRepartitionResult } from '../workflows/maasRepartition';
import type { RunbookResult } from '../workflows/engine/runbook';
import { waitForActivityScheduled, waitForStepStart } from './helpers/history-watch';
import { startMaasLab, type MaasLab } from './helpers/maas-lab';
import { closeTestClient, runFailure, scheduledActivityTypes, waitForAudit } from './helpers/temporal';

// maasRepartition end to end on ONE maas lab (the region emulator, proper-raptor's real disk and
// sshd, zfs-fuse in its namespace, a worker of this file's own). Every test starts from seed 000
// (proper-raptor Deployed with EFI + one big root): lab.reset() puts the disk and the region back in
// about a second, and empties the emulator's request log, which is what the tests count MAAS
// operations in. MAAS's waits are the lab's FAST_TIMINGS (boot 150 ms, node_timeout 6 s unless a
// test sets it), polled every 200 ms.

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
const APPROVED = { ...LAB_INPUT, approve: ['release'] };
/** Activities a run that stops at `decide` may schedule: all read-only. */
const READ_ONLY = ['describeHosts', 'maasInspectMachine', 'hostPools'];

let lab: MaasLab;
beforeAll(async () => {
  lab = await startMaasLab('maas-repartition', { worker: true });
}, 180_000);
beforeEach(() => lab.reset());
afterAll(async () => {
  await lab?.stop();
  await closeTestClient();
});

const machine = () => lab.json('GET', `machines/${lab.systemId}/`);
/** How many times the run asked MAAS for `op` on the machine (POST machines/<id>/?op=…), from the emulator's own log. */
const ops = (op: string) => lab.requests().filter((r) => r.op === op && r.method === 'POST').length;
const scriptWrites = () => lab.requests().filter((r) => r.path.includes('/scripts') && (r.method === 'POST' || r.method === 'PUT')).length;
const mutatingRequests = () => lab.requests().filter((r) => r.method !== 'GET');

async function approve(handle: WorkflowHandle, step: string, decision: 'approve' | 'reject' = 'approve'): Promise<void> {
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === step && s.status === 'waiting-approval'));
  await handle.executeUpdate(approveUpdate, { args: [{ step, decision, approver: 'test', comment: 'lab' }] });
}

async function resultOf(handle: WorkflowHandle): Promise<RunbookResult<MaasRepartitionResult>> {
  return (await handle.result()) as RunbookResult<MaasRepartitionResult>;
}

// Bad input only MAAS can judge (the machine, the disk's real size, the power type): the first,
// read-only step reads it, the workflow refuses with every problem, and the history shows that
// nothing but read-only activities was scheduled; the emulator's log shows no request but GETs.
// (An unknown machine and partitions that do not fit, alone: test/maas-repartition-input.test.ts,
// with the CLI's pre-flight that refuses them before a run starts.)
const INSPECTED = ['describeHosts', 'maasInspectMachine'];
const refusals: Array<[string, Record<string, unknown>, string | undefined, RegExp[], string[]]> = [
  ['a disk the machine does not have', { disk: 'sdb' }, undefined, [/has no disk sdb in MAAS/, /block-devices read x7prpt/], INSPECTED],
  [
    'a machine whose power type is manual (MAAS cannot power it on) and partitions that do not fit its disk: every problem listed',
    { partitions: { boot: '512M', root: '4G', spare: 'rest-evenly' } },
    'manual',
    [
      /proper-raptor: 3 problems, nothing was changed:/,
      /- the requested partitions do not fit: partitions: each of the 3 spare partitions would get 0 bytes; ZFS needs at least 64 MiB/,
      /- the requested partitions do not fit: partitions: boot 512M \+ root 4G \+ 3 x .* but disk sda has \d+ usable bytes/,
      /- proper-raptor's power type in MAAS is manual/,
      /node_timeout \(30 min\)/,
      /Configure its BMC in MAAS/,
      /strategy "loop-files"/,
    ],
    INSPECTED,
  ],
];

test.each(refusals)('refused after the read-only inspection, before any change: %s', async (_what, change, powerType, expected, activities) => {
  if (powerType) await lab.reset({ powerType });
  const handle = await lab.start('maasRepartition', { ...APPROVED, ...change });
  const failure = await runFailure(handle);
  for (const re of expected) expect(failure.message).toMatch(re);
  expect(await scheduledActivityTypes(handle)).toEqual(expect.arrayContaining(activities));
  expect(new Set(await scheduledActivityTypes(handle))).toEqual(new Set(activities));
  expect(mutatingRequests()).toEqual([]);
});

test('a machine with power type manual still gets loop-file pools (no MAAS operation needed)', async () => {
  await lab.reset({ powerType: 'manual' });
  const r = await resultOf(await lab.start('maasRepartition', { ...LAB_INPUT, strategy: 'loop-files', loopFiles: { dir: '/var/lib/crucible-pools', size: '100M' } }));
  expect(r.value.outcome).toBe('pools-on-files');
  expect(mutatingRequests()).toEqual([]);
});

test('plan mode shows the layout JSON, the script, every MAAS call and command; MAAS and the host are untouched', async () => {
  const before = await lab.fingerprint();
  const handle = await lab.start('maasRepartition', { ...LAB_INPUT, mode: 'plan' });
  const result = await resultOf(handle);
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
  expect(mutatingRequests()).toEqual([]);
  expect(new Set(await scheduledActivityTypes(handle))).toEqual(new Set(READ_ONLY));
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

/** Wait until the emulator has taken (applied and logged) a request `what` describes. */
async function waitForRequest(what: string, pred: (r: ReturnType<MaasLab['requests']>[number]) => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!lab.requests().some(pred)) {
    if (Date.now() > deadline) throw new Error(`the MAAS emulator saw no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const OLD_SCRIPT = `#!/bin/bash
# --- Start MAAS 1.0 script metadata ---
# name: 45-crucible-layout
# title: an operator's own layout script
# script_type: commissioning
# hardware_type: node
# parallel: disabled
# timeout: 60
# --- End MAAS 1.0 script metadata ---
echo "the operator's layout"
`;

const script = () => lab.call('GET', 'scripts/45-crucible-layout?op=download');

/**
 * Start a run whose script write `request` lands in MAAS with its reply held, SIGKILL the worker
 * right then (before the step can be recorded), and reject the release once the run gets there.
 */
async function killAfterScriptWriteThenReject(request: string): Promise<WorkflowHandle> {
  lab.configure({ faults: { holdReply: { request, ms: 15_000 } } });
  const handle = await lab.start('maasRepartition', LAB_INPUT);
  await waitForRequest(request, (r) => `${r.method} ${r.path.replace('/MAAS/api/2.0/', '').replace(/\/$/, '')}` === request);
  await lab.restartWorker(handle);
  lab.configure({ faults: {} }); // hold only the run's own write, not its undo's
  expect((await script()).text).toContain('# title: maasRepartition custom storage layout'); // it landed
  await waitForStepStart(handle, 'release', 30_000);
  await approve(handle, 'release', 'reject');
  expect((await runFailure(handle)).message).toContain('step "release" was rejected');
  const audit = await handle.query(auditQuery);
  expect(audit.steps.find((s) => s.name === 'upload-script')?.summary).toBe('unchanged'); // the retry found its own upload
  return handle;
}

test("SIGKILL after MAAS took the script upload, before the step was recorded: the undo still follows what was there before (no script: deleted; an operator's script: its text put back); a cancel while the upload hangs settles it", async () => {
  await lab.warmStandby();
  // No script before the run: the retry finds the run's own script "unchanged"; the undo deletes it.
  const created = await killAfterScriptWriteThenReject('POST scripts');
  expect((await created.query(auditQuery)).steps.find((s) => s.name === 'undo-upload-script')).toMatchObject({ status: 'completed', description: 'delete script 45-crucible-layout' });
  expect((await script()).status).toBe(404);
  expect(mutatingRequests().map((r) => `${r.method} ${r.path}`)).toEqual(['POST /MAAS/api/2.0/scripts/', 'DELETE /MAAS/api/2.0/scripts/45-crucible-layout']);

  // An operator's script of the same name: the undo puts its text back.
  await lab.reset();
  expect((await lab.call('POST', 'scripts/', { script: OLD_SCRIPT }, { multipart: true })).status).toBe(200);
  const updated = await killAfterScriptWriteThenReject('PUT scripts/45-crucible-layout');
  expect((await updated.query(auditQuery)).steps.find((s) => s.name === 'undo-upload-script')).toMatchObject({ status: 'completed', description: 'put back the previous 45-crucible-layout' });
  expect((await script()).text).toBe(OLD_SCRIPT);
  expect(mutatingRequests().map((r) => `${r.method} ${r.path}`)).toEqual(['POST /MAAS/api/2.0/scripts/', ...Array(2).fill('PUT /MAAS/api/2.0/scripts/45-crucible-layout')]);

  // A cancel while the upload hangs (it has landed, no reply yet): the step never completes, so no
  // undo is registered; its settle deletes the script.
  await lab.reset();
  lab.configure({ faults: { holdReply: { request: 'POST scripts', ms: 5_000 } } });
  const cancelled = await lab.start('maasRepartition', LAB_INPUT);
  await waitForRequest('POST scripts', (r) => r.method === 'POST' && r.path.endsWith('/scripts/'));
  lab.configure({ faults: {} });
  await cancelled.cancel();
  await runFailure(cancelled);
  expect((await cancelled.query(auditQuery)).steps.find((s) => s.name === 'settle-upload-script')).toMatchObject({ status: 'completed' });
  expect((await script()).status).toBe(404);
});

test('an unappliable layout (Ready, no layout, one event) is caught and named; after two failures the run stops', async () => {
  const vda = JSON.stringify({ layout: { vda: { type: 'disk', ptable: 'gpt', partitions: [{ name: 'vda1', size: '1G', fs: 'ext4' }] } }, mounts: { '/': { device: 'vda1' } } });
  lab.configure({ faults: { storageConfigOverride: vda } });
  const failure = await runFailure(await lab.start('maasRepartition', APPROVED));
  expect(failure.message).toContain('Cannot apply custom layout: Unknown machine disk(s): vda');
  expect(failure.message).toContain('attempt 2');
  // A Ready machine has no owner and only the owner may mark it broken: the run allocates it first,
  // so it leaves the pool either way.
  expect(failure.message).toContain('mark-broken: Broken (allocated first: it was Ready with no owner)');
  const m = await machine();
  expect([m.status_name, m.error_description]).toEqual(['Broken', expect.stringContaining('Cannot apply custom layout')]);
  expect([ops('allocate'), ops('mark_broken'), ops('deploy')]).toEqual([1, 1, 0]);
});

test('an unreachable BMC (status reverts to Ready, results Aborted) is caught', async () => {
  lab.configure({ faults: { bmcUnreachable: true } });
  const failure = await runFailure(await lab.start('maasRepartition', APPROVED));
  expect(failure.message).toContain('every result was Aborted');
  expect(failure.message).toContain('Unable to power control the node');
  expect(ops('deploy')).toBe(0);
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
  const failure = await runFailure(await lab.start('maasRepartition', APPROVED));
  expect(failure.message).toContain("Failed processing commissioning data: Invalid config at layout/sda/partitions/2/fs: 'unformatted' is not one of");
  expect(failure.message).toContain('custom storage layout written for sda');
  const m = await machine();
  expect(m.status_name).toBe('Broken');
  expect(m.error_description).toContain('failed twice');
});

test("MAAS's node_timeout during commissioning, twice: Failed commissioning each time, then the machine is marked broken with MAAS's reason", async () => {
  // The machine never reports back (nobody PXE-boots it): MAAS's own node_timeout fails the operation.
  lab.configure({ faults: { hang: 'commissioning' }, timings: { nodeTimeoutMs: 800 } });
  const failure = await runFailure(await lab.start('maasRepartition', APPROVED));
  expect(failure.message).toContain('failed twice; mark-broken: Broken');
  expect(failure.message).toMatch(/attempt 1: commissioning ended in Failed commissioning: Node operation 'Commissioning' timed out after 30 minutes\./);
  expect(failure.message).toMatch(/attempt 2: commissioning ended in Failed commissioning: Node operation 'Commissioning' timed out/);
  const m = await machine();
  expect(m.status_name).toBe('Broken');
  expect(m.error_description).toContain('timed out after 30 minutes');
  expect([ops('commission'), ops('mark_broken'), ops('deploy')]).toEqual([2, 1, 0]);
});

test('cancel mid-commission aborts it in MAAS and records it', async () => {
  lab.configure({ faults: { hang: 'commissioning' }, timings: { nodeTimeoutMs: 120_000 } });
  const handle = await lab.start('maasRepartition', APPROVED);
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'commission-1' && s.status === 'running'));
  await lab.waitForStatus(['Commissioning']);
  await handle.cancel();
  await runFailure(handle);
  const audit = await handle.query(auditQuery);
  expect(audit.steps.find((s) => s.name === 'abort-commission-1')).toMatchObject({ status: 'completed' });
  expect(ops('abort')).toBe(1);
  expect((await machine()).status_name).toBe('New');
});

// The failure path past the point of no return, with the worker SIGKILLed as each of its steps
// begins, and once more after MAAS took mark_broken but before its reply reached the worker.
// Every boundary of the failure path, from the first failed deployment on.
const DEPLOY_FAILURE_KILLS = ['install-log-1', 'reread-1', 'release-failed-deployment', 'deploy-2', 'install-log-2', 'reread-2', 'mark-broken'];

test(`deploy fails twice, SIGKILL at ${DEPLOY_FAILURE_KILLS.join(', ')} and after MAAS took mark_broken: released once in between, marked broken once (not released back into the pool); the error names the curtin log and the MAAS events`, async () => {
  lab.configure({ faults: { deployFail: true, holdReply: { request: `POST machines/${lab.systemId} op=mark_broken`, ms: 15_000 } } });
  await lab.warmStandby();
  const handle = await lab.start('maasRepartition', APPROVED);
  for (const step of DEPLOY_FAILURE_KILLS) {
    await waitForStepStart(handle, step, 60_000);
    await lab.restartWorker(handle);
  }
  await waitForRequest('mark_broken', (r) => r.op === 'mark_broken');
  await lab.restartWorker(handle);
  lab.configure({ faults: {} });
  const failure = await runFailure(handle);
  // The retry after the last kill found the machine Broken already: its own mark_broken had landed.
  expect(failure.message).toMatch(/deploying proper-raptor failed twice; mark-broken: (already )?Broken/);
  expect(failure.message).toMatch(/attempt 1: Failed deployment \(Installation failed/);
  expect(failure.message).toMatch(/attempt 2: Failed deployment/);
  expect(failure.message).toContain('curtin: Installation failed with exception');
  expect(failure.message).toMatch(/MAAS events:\n {2}\[INFO\] Deploying: \(admin\) - Started deploying 'proper-raptor'/);
  expect(failure.message.match(/\[ERROR\] Failed deployment: Installation failed/g)).toHaveLength(2);
  const m = await machine();
  expect(m.status_name).toBe('Broken');
  expect(m.error_description).toContain('deployment failed twice');
  // The emulator's own log: the approved release, one commission, two deploys with the release from
  // Failed deployment between them, ONE mark_broken; nothing else changed.
  expect(mutatingRequests().map((r) => r.op ?? r.path)).toEqual(['/MAAS/api/2.0/scripts/', 'release', 'commission', 'deploy', 'release', 'deploy', 'mark_broken']);
});

test('cancel mid-deploy aborts the deploy in MAAS (settle) and undoes nothing past the point of no return', async () => {
  lab.configure({ faults: { hang: 'deploying' }, timings: { nodeTimeoutMs: 120_000 } });
  const handle = await lab.start('maasRepartition', APPROVED);
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === 'deploy-1' && s.status === 'running'));
  await lab.waitForStatus(['Deploying']);
  await handle.cancel();
  await runFailure(handle);
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  const audit = await handle.query(auditQuery);
  expect(audit.steps.find((s) => s.name === 'abort-deploy-1')).toMatchObject({ status: 'completed' });
  // The script upload's undo was dropped at the commit: nothing is compensated after a wipe.
  expect(audit.steps.filter((s) => s.kind === 'compensate')).toEqual([]);
  expect([ops('abort'), ops('deploy'), ops('release')]).toEqual([1, 1, 1]);
  const m = await machine();
  expect(m.status_name).toBe('Allocated');
  // The custom layout MAAS applied at commissioning stays: five partitions on sda.
  expect(m.blockdevice_set[0].partitions).toHaveLength(5);
});

test('happy path: one big root → three healthy pools on three real partitions; the seed check passes; each MAAS op issued once; a second run is a no-op', async () => {
  expect((await checkCruciblePools(lab.machine)).ok).toBe(false);
  const t0 = Date.now();
  const handle = await lab.start('maasRepartition', LAB_INPUT);
  await approve(handle, 'release');
  const result = await resultOf(handle);
  process.stderr.write(`maasRepartition lab run: ${Date.now() - t0} ms\n`);
  expect(result.outcome).toBe('succeeded');
  expect(result.value.outcome).toBe('repartitioned');
  expect(result.value.partitions.map((p) => p.name)).toEqual(['sda-part3', 'sda-part4', 'sda-part5']);
  expect(result.value.partitions.every((p) => p.stablePath.startsWith('/dev/disk/by-partuuid/'))).toBe(true);
  expect(result.value.pools.map((p) => [p.name, p.health, p.mountpoint, p.createdByThisRun])).toEqual([1, 2, 3].map((n) => [`crucible${n}`, 'ONLINE', `/crucible${n}`, true]));
  expect(result.value.evidence.scriptOutput).toContain('custom storage layout written for sda');
  // Deployed came before cloud-init was done: the wait saw it running first.
  expect(result.audit.steps.find((s) => s.name === 'cloud-init')?.commands[0].stdoutTail).toMatch(/\.+\s*status: done/);
  expect((await checkCruciblePools(lab.machine)).checks.filter((c) => !c.ok)).toEqual([]);
  expect([ops('release'), ops('commission'), ops('deploy'), ops('set_storage_layout'), scriptWrites()]).toEqual([1, 1, 1, 0, 1]);
  // A second run finds the target state and changes nothing.
  const again = await resultOf(await lab.start('maasRepartition', LAB_INPUT));
  expect(again.value.outcome).toBe('already-in-target-state');
  expect([ops('release'), ops('commission'), ops('deploy'), scriptWrites()]).toEqual([1, 1, 1, 1]);
});

// Every step that schedules an activity, in order (decide and commit run inside the workflow tasks
// that begin upload-script and commission-1: those kills cover them). Two runs share the boundaries,
// the MAAS half and the host half, so neither comes near the test timeout on a loaded machine.
const BOUNDARIES = [
  ['inspect-machine', 'inspect-host', 'upload-script', 'release', 'commission-1', 'check-commissioning-1', 'deploy-1'],
  ['cloud-init', 'check-deployed-layout', 'resolve-partitions', 'create-pool-1', 'create-pool-2', 'create-pool-3'],
];

test.each(BOUNDARIES)('SIGKILL of the worker as each step begins (%s, ...): the run resumes; the emulator log shows each MAAS op once; each pool created once', async (...kills) => {
  lab.configure({ timings: { cloudInitMs: 300 } });
  await lab.warmStandby();
  const t0 = Date.now();
  const handle = await lab.start('maasRepartition', APPROVED);
  for (const step of kills) {
    const t = Date.now();
    await waitForStepStart(handle, step, 60_000);
    const t1 = Date.now();
    await lab.restartWorker(handle);
    process.stderr.write(`killed as ${step} began: ${t1 - t} ms after the previous kill; replaced in ${Date.now() - t1} ms\n`);
  }
  const result = await resultOf(handle);
  process.stderr.write(`maasRepartition with ${kills.length} worker kills: ${Date.now() - t0} ms\n`);
  expect(result.outcome).toBe('succeeded');
  const steps = result.audit.steps.filter((s) => s.kind !== 'compensate');
  for (const s of steps) expect([s.name, s.status]).toEqual([s.name, 'completed']);
  expect(steps.map((s) => s.name)).toEqual(expect.arrayContaining(BOUNDARIES.flat()));
  expect(result.value.pools.map((p) => p.createdByThisRun)).toEqual([true, true, true]);
  // The emulator's own log: one script upload, one release, one commission, one deploy, nothing else.
  expect([ops('release'), ops('commission'), ops('deploy'), ops('set_storage_layout'), ops('abort'), ops('mark_broken'), scriptWrites()]).toEqual([1, 1, 1, 0, 0, 0, 1]);
  expect(mutatingRequests().map((r) => r.op ?? r.path)).toEqual(['/MAAS/api/2.0/scripts/', 'release', 'commission', 'deploy']);
  // The host's own record: each pool created once (a pool destroyed and made again would show twice).
  for (const n of [1, 2, 3]) expect((await lab.sh(`zpool history crucible${n} | grep -c 'zpool create'`)).trim()).toBe('1');
  expect((await checkCruciblePools(lab.machine)).checks.filter((c) => !c.ok)).toEqual([]);
});

test("cancel while a pool is being created: the create may have landed, so its settle destroys that pool (this run's mark on it) and its file, and undoes the pools before it", async () => {
  // zpool create makes the pool, then hangs 4 s (a slow disk): the cancel lands while the step runs.
  const wrapper = `${lab.labDir}/zpool-slow-create`;
  await lab.sh(
    [
      `cp /usr/sbin/zpool ${lab.labDir}/zpool.real`,
      `printf '%s\\n' '#!/bin/sh' 'if [ "$1" = create ]; then ${lab.labDir}/zpool.real "$@"; rc=$?; sleep 4; exit $rc; fi' 'exec ${lab.labDir}/zpool.real "$@"' > ${wrapper}`,
      `chmod +x ${wrapper}`,
      `mount --bind ${wrapper} /usr/sbin/zpool`,
    ].join(' && '),
  );
  try {
    const handle = await lab.start('maasRepartition', { ...LAB_INPUT, strategy: 'loop-files', loopFiles: { dir: '/var/lib/crucible-pools', size: '100M' } });
    await waitForStepStart(handle, 'create-pool-2');
    for (let i = 0; (await lab.sh('zpool list -H -o name crucible2 2>/dev/null || true')).trim() !== 'crucible2'; i++) {
      if (i > 200) throw new Error('crucible2 was never created');
      await new Promise((r) => setTimeout(r, 50));
    }
    await handle.cancel();
    await runFailure(handle);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    const steps = (await handle.query(auditQuery)).steps;
    expect(steps.filter((s) => s.name.startsWith('settle-') || s.kind === 'compensate').map((s) => [s.name, s.status])).toEqual([
      ['settle-create-pool-2', 'completed'],
      ['undo-create-pool-1', 'completed'],
    ]);
    expect(steps.find((s) => s.name === 'settle-create-pool-2')!.commands.map((c) => c.stdoutTail.trim())).toEqual([expect.stringMatching(/^destroyed\n?removed-file$/)]);
  } finally {
    await lab.sh('umount -l /usr/sbin/zpool'); // lazily: the hung create's sleep may still hold it
  }
  expect((await lab.sh('zpool list -H -o name; ls -A /var/lib/crucible-pools')).trim()).toBe('');
});

test("loop-files: a failure undoes only this run's pools and files, each once, with the worker SIGKILLed as each undo begins; then three file pools pass the seed check", async () => {
  await lab.sh(
    'mkdir -p /var/lib/crucible-pools && truncate -s 100M /var/lib/crucible-pools/foreign.img && zpool create -m /var/lib/crucible-pools/mnt/foreign foreign /var/lib/crucible-pools/foreign.img && truncate -s 100M /var/lib/crucible-pools/crucible3.img',
  );
  await lab.warmStandby();
  const input = { ...LAB_INPUT, strategy: 'loop-files', loopFiles: { dir: '/var/lib/crucible-pools', size: '200M' } };
  const handle = await lab.start('maasRepartition', input);
  // create-pool-3 fails (a file this run did not make); its settle (which finds no pool of this run's
  // and leaves the file alone), then undo-create-pool-2 and undo-create-pool-1 each schedule one
  // destroyPool: the worker dies as each undo is scheduled.
  for (const n of [2, 3]) {
    await waitForActivityScheduled(handle, 'destroyPool', n);
    await lab.restartWorker(handle);
  }
  const failure = await runFailure(handle);
  expect(failure.message).toContain('crucible3.img exists and this run did not make it');
  const after = await lab.sh('zpool list -H -o name; ls /var/lib/crucible-pools');
  expect(after.split('\n').filter(Boolean).sort()).toEqual(['crucible3.img', 'foreign', 'foreign.img', 'mnt'].sort());
  // One undo per pool this run created, newest first, each completed once (a retry after a kill
  // finds its pool gone: "absent"); each destroy names only its own pool, and checks the run's mark
  // on it first. The foreign pool was never touched (its own history holds only its creation).
  const undos = (await handle.query(auditQuery)).steps.filter((s) => s.kind === 'compensate');
  expect(undos.map((s) => [s.name, s.status])).toEqual([
    ['undo-create-pool-2', 'completed'],
    ['undo-create-pool-1', 'completed'],
  ]);
  for (const [k, u] of undos.entries()) {
    expect(u.commands.map((c) => c.stdoutTail.trim())).toEqual([expect.stringMatching(/^(destroyed|absent)\n?(removed-file)?$/)]);
    expect(u.commands[0].command).toContain(`zpool destroy crucible${2 - k}`);
    expect(u.commands[0].command).not.toContain('foreign');
  }
  expect((await lab.sh("zpool history foreign | grep -c '^[0-9].*zpool'")).trim()).toBe('1');
  expect((await lab.sh('zpool list -H -o health foreign')).trim()).toBe('ONLINE');
  await lab.sh('rm /var/lib/crucible-pools/crucible3.img');
  const ok = await resultOf(await lab.start('maasRepartition', input));
  expect(ok.value.outcome).toBe('pools-on-files');
  expect((await checkCruciblePools(lab.machine, { backing: 'files' })).checks.filter((c) => !c.ok)).toEqual([]);
  expect(mutatingRequests()).toEqual([]);
});
