import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { verifyRegions } from '../activities/crucible/activities';
import { closeSharedPool } from '../activities/ssh/shared-pool';
import { execInHost, labCheck, labDown, labUp } from '../lab/lab';
import { hostDir } from '../lab/paths';
import { CRUCIBLE_HOST, commandLogPath, faultsPath, type ImageRecord, imageRecordPath } from '../lab/scenarios/crucible';
import type { RunbookResult } from '../workflows/engine/runbook';
import type { SeedRegionsResult } from '../workflows/seedRegions';
import { waitForStepStart } from './helpers/history-watch';
import { repoRoot, testDataDir } from './helpers/paths';
import { closeTestClient, runFailure, scheduledActivityTypes, startRunbook } from './helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

// seedRegions against the crucible lab scenario (real Temporal, real sshd, real zfs-fuse pools, the
// Crucible emulator): one lab and one worker for the whole file; each test starts from the state
// it needs (reset() removes regions and services). The scenario's own check judges the happy path.

const HOST = CRUCIBLE_HOST.name;
const example = JSON.parse(readFileSync(path.join(repoRoot, 'runbooks', 'seedRegions', 'examples', 'lab.json'), 'utf8')) as {
  regions: Array<{ dir: string; port: number; uuid: string }>;
  [k: string]: unknown;
};
const DIRS = example.regions.map((r) => r.dir);
const taskQueue = `seed-regions-${randomUUID().slice(0, 8)}`;
let labRoot = '';
let previousLabDir: string | undefined;
let worker: WorkerProcess | undefined;
let image: ImageRecord;
const labLog: string[] = [];

async function host(script: string, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return execInHost(HOST, script, { timeoutMs });
}

async function startWorker(): Promise<void> {
  worker = await startWorkerProcess({
    taskQueue,
    env: { RUNBOOK_LAB_DIR: labRoot, RUNBOOK_INVENTORY: path.join(labRoot, 'inventory.json'), RUNBOOK_ARCHIVE: '0' },
    logFile: path.join(testDataDir, `worker-${taskQueue}-${Date.now()}.log`),
  });
}

function start(input: Record<string, unknown>, id = `test/seedRegions/${randomUUID()}`): Promise<WorkflowHandle> {
  return startRunbook('seedRegions', input, { taskQueue, workflowId: id });
}

async function result(handle: WorkflowHandle): Promise<RunbookResult<SeedRegionsResult>> {
  return (await handle.result()) as RunbookResult<SeedRegionsResult>;
}

/** Lines of the emulator's command log (one per create/run, and per completed create and started downstairs). */
function commandLog(): string[] {
  try {
    return readFileSync(commandLogPath(hostDir(HOST)), 'utf8')
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** No regions, no services, no faults, an empty command log. */
async function reset(): Promise<void> {
  const r = await host(`for d in /run/sv/crucible-downstairs-*; do [ -d "$d" ] || continue; sv force-stop "$d" >/dev/null 2>&1; sv exit "$d" "$d/log" >/dev/null 2>&1; done
for i in $(seq 50); do pgrep -x runsv >/dev/null || break; sleep 0.1; done
rm -rf /run/sv/crucible-downstairs-* /pool/disk0/region/* /pool/disk1/region/* /pool/disk2/region/*`);
  expect(r.code).toBe(0);
  rmSync(faultsPath(hostDir(HOST)), { force: true });
  writeFileSync(commandLogPath(hostDir(HOST)), '');
}

async function regionUuid(dir: string): Promise<string | null> {
  const r = await host(`cat ${dir}/region.json 2>/dev/null`);
  return r.code === 0 ? (JSON.parse(r.stdout) as { uuid: string }).uuid : null;
}

async function svPid(port: number): Promise<number | null> {
  const r = await host(`sv status /run/sv/crucible-downstairs-${port}`);
  const m = /^run: [^:]+: \(pid (\d+)\)/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

beforeAll(async () => {
  previousLabDir = process.env.RUNBOOK_LAB_DIR;
  labRoot = mkdtempSync(path.join(os.tmpdir(), 'seed-regions-'));
  process.env.RUNBOOK_LAB_DIR = labRoot;
  const t = Date.now();
  await labUp({ scenarios: ['crucible'], log: (l) => labLog.push(l) });
  image = JSON.parse(readFileSync(imageRecordPath(hostDir(HOST)), 'utf8')) as ImageRecord;
  await startWorker();
  process.stderr.write(`crucible lab and worker up in ${Date.now() - t} ms\n`);
}, 300_000);

afterAll(async () => {
  try {
    await worker?.stop('SIGKILL');
    await labDown({ log: (l) => labLog.push(l) });
  } finally {
    if (previousLabDir === undefined) delete process.env.RUNBOOK_LAB_DIR;
    else process.env.RUNBOOK_LAB_DIR = previousLabDir;
    rmSync(labRoot, { recursive: true, force: true });
    await closeTestClient();
  }
}, 180_000);

test('plan mode: only reads, and lists every command with its exact flags', async () => {
  await reset();
  const handle = await start({ ...example, mode: 'plan' });
  const r = await result(handle);
  expect(r.outcome).toBe('planned');
  expect(await scheduledActivityTypes(handle)).toEqual(['describeHosts', 'inspectSeeding']);
  const planned = r.planned.flatMap((p) => p.commands);
  const extentSize = (64 * 1024 * 1024) / 512;
  for (const reg of example.regions) {
    expect(planned).toContain(`crucible-downstairs create -d ${reg.dir} -u ${reg.uuid} --block-size 512 --extent-size ${extentSize} --extent-count 1 --import-path /root/images/os.raw`);
  }
  expect(r.planned.map((p) => p.step)).toEqual(['register-undo', 'create-regions', 'start-downstairs']);
  expect(planned.filter((c) => c.startsWith('setsid -f runsv') || c.includes('|| setsid -f runsv'))).toHaveLength(3);
  for (const d of DIRS) expect(await regionUuid(d)).toBeNull();
  expect(commandLog()).toEqual([]);
});

let first: SeedRegionsResult;

test('happy path: three regions hold the image, serve under runit, and the scenario check passes', async () => {
  const before = await labCheck('crucible');
  expect(before.ok).toBe(false);
  const t = Date.now();
  const r = await result(await start(example));
  process.stderr.write(`seedRegions on a fresh lab: ${Date.now() - t} ms\n`);
  expect(r.outcome).toBe('succeeded');
  first = r.value;
  expect(first).toMatchObject({
    targets: ['127.0.0.41:8810', '127.0.0.41:8820', '127.0.0.41:8830'],
    block_size: 512,
    blocks_per_extent: 131072,
    extent_count: Math.ceil(image.bytes / (64 * 1024 * 1024)),
    maxGen: 0,
    maxFlush: 1,
    image: { path: image.path, bytes: image.bytes, sha256: image.sha256 },
  });
  expect(first.regions.map((x) => [x.dir, x.uuid, x.action, x.service])).toEqual(example.regions.map((x) => [x.dir, x.uuid, 'created', `/run/sv/crucible-downstairs-${x.port}`]));
  const after = await labCheck('crucible');
  expect(after.hosts[HOST].checks.filter((c) => !c.ok)).toEqual([]);
  expect(after.ok).toBe(true);
  const log = commandLog();
  expect(log.filter((l) => / created region /.test(l))).toHaveLength(3);
  expect(log.filter((l) => /: serving region /.test(l))).toHaveLength(3);
  // The lab as issue 10 asks for it: each region on its own zfs-fuse pool (cruN at /pool/diskN), an ext4 image.
  for (const [i, d] of DIRS.entries()) expect((await host(`findmnt -n -o SOURCE,FSTYPE,TARGET -T ${d}`)).stdout.trim().split(/\s+/)).toEqual([`cru${i}`, 'fuse.zfs', `/pool/disk${i}`]);
  expect((await host(`zpool list -H -o name,health cru0 cru1 cru2`)).stdout).toBe('cru0\tONLINE\ncru1\tONLINE\ncru2\tONLINE\n');
  expect((await host(`blkid -o value -s TYPE ${image.path}`)).stdout.trim()).toBe('ext4');
});

test('rerun on the finished lab: no change, the same result', async () => {
  const pids = await Promise.all(example.regions.map((r) => svPid(r.port)));
  const logBefore = commandLog();
  const r = await result(await start(example));
  expect(r.outcome).toBe('succeeded');
  expect({ ...r.value, regions: r.value.regions.map((x) => ({ ...x, action: 'created' })) }).toEqual(first);
  expect(r.value.regions.map((x) => x.action)).toEqual(['kept', 'kept', 'kept']);
  expect(commandLog()).toEqual(logBefore);
  expect(await Promise.all(example.regions.map((x) => svPid(x.port)))).toEqual(pids);
  expect(r.audit.steps.map((s) => s.name)).toEqual(['resolve-hosts', 'inspect', 'verify-regions', 'start-downstairs']);
});

test('a downstairs killed after the run is restarted by its supervisor', async () => {
  const old = await svPid(8820);
  expect(old).not.toBeNull();
  expect((await host(`kill -9 ${old}`)).code).toBe(0);
  let now: number | null = null;
  for (let i = 0; i < 100 && (now === null || now === old); i++) {
    await new Promise((r) => setTimeout(r, 100));
    now = await svPid(8820);
  }
  expect(now).not.toBeNull();
  expect(now).not.toBe(old);
  const check = await labCheck('crucible');
  expect(check.hosts[HOST].checks.filter((c) => !c.ok)).toEqual([]);
});

test('a foreign region in a target directory is refused without approval (nothing deleted) and replaced once approved', async () => {
  await reset();
  const foreign = '0f0f0f0f-0000-4000-8000-00000000f0f0';
  expect((await host(`crucible-downstairs create -d ${DIRS[2]} -u ${foreign} --extent-count 2`)).code).toBe(0);
  const handle = await start({ ...example, approvalTimeout: '2s' });
  const failure = await runFailure(handle);
  expect(failure.message).toMatch(/no decision on step "replace-foreign-regions"/);
  expect(await scheduledActivityTypes(handle)).toEqual(['describeHosts', 'inspectSeeding']);
  expect(await regionUuid(DIRS[2])).toBe(foreign);
  expect(await regionUuid(DIRS[0])).toBeNull();
  expect(await regionUuid(DIRS[1])).toBeNull();

  // Approved (in advance, as a script would): the foreign region is replaced by this run's, with the
  // worker SIGKILLed as the replacement begins (the one step boundary the run below never reaches).
  const approved = await start({ ...example, approve: ['replace-foreign-regions'] });
  await waitForStepStart(approved, 'replace-foreign-regions');
  await worker!.stop('SIGKILL');
  await startWorker();
  const r = await result(approved);
  expect(r.outcome).toBe('succeeded');
  const log = commandLog();
  // Each region made once by this run (disk2's log also holds the foreign region made above).
  for (const [i, d] of DIRS.entries()) expect(log.filter((l) => l.includes(`create -d ${d}: created region`))).toHaveLength(i === 2 ? 2 : 1);
  expect(r.audit.steps.find((s) => s.name === 'replace-foreign-regions')?.approval?.decision).toBe('pre-approved');
  expect(r.value.regions.map((x) => x.action)).toEqual(['created', 'created', 'replaced-foreign']);
  expect(await regionUuid(DIRS[2])).toBe(example.regions[2].uuid);
});

test('a failed import leaves a partial directory; the retry removes it and completes', async () => {
  await reset();
  writeFileSync(faultsPath(hostDir(HOST)), JSON.stringify({ import: { failAfterExtents: 1, times: 1 } }));
  const input = { ...example, extentSize: 8192 };
  const r = await result(await start(input));
  expect(r.outcome).toBe('succeeded');
  const create = r.audit.steps.find((s) => s.name === 'create-regions')!;
  expect(create.attempts).toHaveLength(2);
  expect(create.attempts[0].error?.message).toMatch(/panicked/);
  expect(r.value.extent_count).toBe(Math.ceil(image.bytes / (8192 * 512)));
  const log = commandLog();
  // The first create died after one extent; the retry made that region again; each completed once.
  expect(log.filter((l) => l.includes(`create -d ${DIRS[0]} -u`))).toHaveLength(2);
  for (const d of DIRS) expect(log.filter((l) => l.includes(`create -d ${d}: created region`))).toHaveLength(1);
  const check = await labCheck('crucible');
  expect(check.hosts[HOST].checks.filter((c) => !c.ok)).toEqual([]);
});

test('SIGKILL of the worker at every step boundary: the run resumes, no region created twice, no second downstairs on a port', async () => {
  await reset();
  const handle = await start(example);
  for (const step of ['inspect', 'register-undo', 'create-regions', 'verify-regions', 'start-downstairs']) {
    await waitForStepStart(handle, step);
    await worker!.stop('SIGKILL');
    await startWorker();
  }
  const r = await result(handle);
  expect(r.outcome).toBe('succeeded');
  expect(r.audit.steps.filter((s) => s.kind !== 'compensate').map((s) => [s.name, s.status])).toEqual(
    ['resolve-hosts', 'inspect', 'register-undo', 'create-regions', 'verify-regions', 'start-downstairs'].map((n) => [n, 'completed']),
  );
  const log = commandLog();
  for (const d of DIRS) expect(log.filter((l) => l.includes(`create -d ${d}: created region`))).toHaveLength(1);
  for (const p of [8810, 8820, 8830]) expect(log.filter((l) => l.includes(`run -p ${p} -d`))).toHaveLength(1);
  expect(log.filter((l) => l.includes('cannot listen'))).toEqual([]);
  const check = await labCheck('crucible');
  expect(check.hosts[HOST].checks.filter((c) => !c.ok)).toEqual([]);
}, 240_000);

test('cancel mid-create: the undo removes exactly what the run made; a region that was there before is untouched', async () => {
  // From the previous test: three complete regions. Keep disk0's, drop the other two.
  await host(`for p in 8810 8820 8830; do sv force-stop /run/sv/crucible-downstairs-$p; sv exit /run/sv/crucible-downstairs-$p /run/sv/crucible-downstairs-$p/log; done >/dev/null 2>&1
sleep 0.5; rm -rf /run/sv/crucible-downstairs-* ${DIRS[1]} ${DIRS[2]}; mkdir -p /pool/disk1/region/keep && echo mine >/pool/disk1/region/keep/file`);
  const keptBefore = (await host(`stat -c %Y ${DIRS[0]}/region.json && sha256sum ${DIRS[0]}/00/000/000`)).stdout;
  writeFileSync(faultsPath(hostDir(HOST)), JSON.stringify({ importDelayMsPerExtent: 3000 }));
  writeFileSync(commandLogPath(hostDir(HOST)), '');
  const handle = await start(example);
  await waitForStepStart(handle, 'create-regions');
  for (let i = 0; i < 100 && !commandLog().some((l) => l.includes(`create -d ${DIRS[1]} -u`)); i++) await new Promise((r) => setTimeout(r, 100));
  await handle.cancel();
  const failure = await runFailure(handle);
  expect(failure.message).toMatch(/cancel/i);
  const desc = await handle.describe();
  expect(desc.status.name).toBe('CANCELLED');
  // The create had stopped on the host before the undo ran (nothing recreates the directory later).
  expect((await host('pgrep -f "crucible-downstairs[ ]create" || true')).stdout.trim()).toBe('');
  expect(await regionUuid(DIRS[1])).toBeNull();
  expect(await regionUuid(DIRS[2])).toBeNull();
  expect((await host(`ls -A ${DIRS[1]} ${DIRS[2]} 2>&1 | grep -v 'No such file' || true`)).stdout.trim()).toBe('');
  expect(await regionUuid(DIRS[0])).toBe(example.regions[0].uuid);
  expect((await host(`stat -c %Y ${DIRS[0]}/region.json && sha256sum ${DIRS[0]}/00/000/000`)).stdout).toBe(keptBefore);
  expect((await host('cat /pool/disk1/region/keep/file')).stdout).toBe('mine\n');
  expect((await host('ls /run/sv 2>/dev/null | grep crucible || true')).stdout.trim()).toBe('');
}, 120_000);

test("verify-regions' check fails on a region whose blocks are not the image (one flipped byte), and says which", async () => {
  // From the previous test: disk0 holds the example's complete region. The activity the step runs,
  // called here against the lab host (0.5 s instead of a 6 s run with a corrupting import).
  const previousInventory = process.env.RUNBOOK_INVENTORY;
  process.env.RUNBOOK_INVENTORY = path.join(labRoot, 'inventory.json');
  try {
    // The image is a whole number of 512-byte blocks, so its sha256 is also the padded one.
    expect(image.bytes % 512).toBe(0);
    const region = [{ dir: DIRS[0], uuid: example.regions[0].uuid }];
    const ok = await verifyRegions(HOST, region, image.bytes, image.sha256);
    expect(ok.value).toMatchObject({ block_size: 512, blocks_per_extent: 131072, maxGen: 0, regions: [{ dir: DIRS[0], contentSha: image.sha256 }] });
    // Flip every bit of one byte of block 8's data (the byte's complement, so it surely changes).
    const flip = await host(`f=${DIRS[0]}/00/000/000; b=$(od -An -tu1 -j 4097 -N 1 "$f"); printf "$(printf '\\\\%03o' $((b ^ 255)))" | dd of="$f" bs=1 seek=4097 conv=notrunc status=none`);
    expect(flip).toMatchObject({ code: 0, stderr: '' });
    await expect(verifyRegions(HOST, region, image.bytes, image.sha256)).rejects.toMatchObject({
      type: 'VerifyFailed',
      nonRetryable: true,
      message: expect.stringMatching(new RegExp(`^${DIRS[0]}: export of the image's blocks has sha256 [0-9a-f]{64}, the image zero-padded to a block ${image.sha256}$`)),
    });
  } finally {
    if (previousInventory === undefined) delete process.env.RUNBOOK_INVENTORY;
    else process.env.RUNBOOK_INVENTORY = previousInventory;
    closeSharedPool();
  }
});

// Last in the file: it takes the lab down.
test('lab down stops the downstairs a run left under runit first, so every pool exports without force', async () => {
  await reset();
  expect((await result(await start(example))).outcome).toBe('succeeded');
  expect(await Promise.all(example.regions.map((r) => svPid(r.port)))).toEqual([expect.any(Number), expect.any(Number), expect.any(Number)]);
  const log: string[] = [];
  await labDown({ log: (l) => log.push(l) });
  // Without stopping them first the downstairs hold region files open, and every export, the forced
  // one too, is refused: 'pool export: no' after about 40 s of tries.
  expect(log.filter((l) => /zfs-fuse stopped/.test(l))).toEqual([expect.stringContaining('pool export: yes')]);
}, 120_000);
