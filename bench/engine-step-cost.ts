// Benchmark: what one runbook step costs. Side by side, in one run, on the same lab host:
//   A. a runbook step that runs `true` (engineDrill action "true": workflow task, activity, SSH over
//      the pooled connection, audit), on a dev server configured as before the step-cost work and as
//      now (lab/temporal-dev-server.ts), each a private server started and stopped here;
//   B. the same command over a warm ssh2 connection (our SSH layer alone);
//   C. `ssh host true` with OpenSSH's client, host key pinned from the inventory (a new connection
//      each time, as a shell script does);
//   D. an Ansible playbook of `command: true` tasks (ansible-core, pipelining, SSH ControlPersist,
//      the inventory's key, address and pinned host key): per task, from a 1-task and a 21-task run.
// It also prints where the engine's step goes (bench/history-profile.ts) before and after, and the
// floor under it: the same activity from a workflow without the engine (bench/bare-steps-workflow.ts).
// BENCH_CODE_BASELINE=<git ref>[,<ref>...] adds the step with the workflow code of those commits
// (bench/code-at-ref.ts) on today's dev server: a change of the engine, before and after, in one run.
// BENCH_SERVER_BEFORE=0 leaves out the dev server as before; BENCH_ENGINE_ONLY=1 leaves out B, C and D.
// Usage: npm run bench  (needs root for the lab; BENCH_STEPS=50 BENCH_ROUNDS=2 BENCH_SAMPLES=40)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { sh } from '../activities/ssh/command';
import { runRemote } from '../activities/ssh/exec';
import { defaultInventoryPath, loadInventory, type InventoryHost } from '../activities/ssh/inventory';
import { sharedPool, closeSharedPool } from '../activities/ssh/shared-pool';
import { labDown, labStatus, labUp } from '../lab/lab';
import { DEV_SERVER_SETTINGS, DEV_SERVER_SETTINGS_BEFORE } from '../lab/temporal-dev-server';
import { writeWorkflowBundle } from '../workers/workflow-bundle';
import { bundleWorkflowsAt, type CodeAtRef } from './code-at-ref';
import { phaseTable, type StepProfile } from './history-profile';
import { fmtMs, median, percentile } from './stats';
import { installWorkerMetrics, runSteps, type StepRunConfig } from './step-run';

const HOST = 'node1';
const STEPS = Number(process.env.BENCH_STEPS ?? 50); // engineDrill allows at most 50
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40);
const ANSIBLE_TASKS = 20;
const SERVER_BEFORE = process.env.BENCH_SERVER_BEFORE !== '0';
const ENGINE_ONLY = process.env.BENCH_ENGINE_ONLY === '1';
const CODE_BASELINES = (process.env.BENCH_CODE_BASELINE ?? '')
  .split(',')
  .map((r) => r.trim())
  .filter(Boolean);

/** The workflow code each configuration runs, bundled once (not by every round's worker). */
interface Bundles {
  now: string;
  bare: string;
  baselines: CodeAtRef[];
}

async function bundle(dir: string): Promise<Bundles> {
  const now = path.join(dir, 'now.js');
  await writeWorkflowBundle(now);
  const bare = path.join(dir, 'bare.js');
  writeFileSync(bare, (await bundleWorkflowCode({ workflowsPath: require.resolve('./bare-steps-workflow'), logger: new DefaultLogger('WARN') })).code);
  const baselines: CodeAtRef[] = [];
  try {
    for (const ref of CODE_BASELINES) baselines.push(bundleWorkflowsAt(ref));
  } catch (err) {
    for (const b of baselines) b.cleanup();
    throw err;
  }
  return { now, bare, baselines };
}

/** What is compared, 'now' (this checkout on today's dev server) last. */
function configurations(b: Bundles): StepRunConfig[] {
  const code = (codePath: string) => ({ workflowBundle: { codePath } });
  return [
    ...(SERVER_BEFORE ? [{ label: 'before', server: DEV_SERVER_SETTINGS_BEFORE, worker: code(b.now) }] : []),
    ...b.baselines.map((x) => ({ label: `code ${x.commit}`, server: DEV_SERVER_SETTINGS, worker: code(x.codePath) })),
    { label: 'no engine', server: DEV_SERVER_SETTINGS, worker: code(b.bare), workflowType: 'bareSteps' as const },
    { label: 'quick read', server: DEV_SERVER_SETTINGS, worker: code(b.now), drill: { action: 'read-true' } },
    { label: 'now', server: DEV_SERVER_SETTINGS, worker: code(b.now) },
  ];
}

interface EngineFigures {
  label: string;
  profile: StepProfile;
  cpu: { server: number; worker: number }[];
  /** The worker's own latency means per round (ms), by metric (bench/step-run.ts). */
  workerMeans: Record<string, number>[];
  /** Wall time per step of each round (ms): the run's time from the client / steps. */
  walls: number[];
}

/**
 * Rounds alternate the configurations (before, now, before, now, ...) so that load from other work on
 * the machine falls on all alike; each round is a fresh server and worker.
 */
async function viaRunbook(configs: StepRunConfig[]): Promise<EngineFigures[]> {
  const figures = configs.map((c): EngineFigures => ({
    label: c.label,
    profile: { cycles: [], phases: {} as StepProfile['phases'], eventsPerStep: {}, workflowTasksPerStep: 0 },
    cpu: [],
    workerMeans: [],
    walls: [],
  }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, config] of configs.entries()) {
      const r = await runSteps(config, { host: HOST, steps: STEPS, port: 7300 + i });
      const f = figures[i];
      f.profile.cycles.push(...r.profile.cycles);
      for (const [phase, xs] of Object.entries(r.profile.phases)) (f.profile.phases[phase as keyof StepProfile['phases']] ??= []).push(...xs);
      f.profile.eventsPerStep = r.profile.eventsPerStep;
      f.profile.workflowTasksPerStep = r.profile.workflowTasksPerStep;
      f.cpu.push(r.cpuPerStep);
      f.workerMeans.push(r.workerMeans);
      f.walls.push(r.wallPerStep);
    }
  }
  return figures;
}

async function viaWarmSsh2(): Promise<number[]> {
  const pool = sharedPool();
  await runRemote(pool, HOST, sh`true`); // connect once
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = process.hrtime.bigint();
    const r = await runRemote(pool, HOST, sh`true`);
    if (r.record.exitCode !== 0) throw new Error('true failed');
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return samples;
}

function labHost(): InventoryHost & { keyFile: string } {
  const host = loadInventory(defaultInventoryPath()).hosts[HOST];
  if (!('file' in host.key)) throw new Error(`${HOST}'s key is not a file`);
  return { ...host, keyFile: host.key.file };
}

function pinnedKnownHosts(dir: string, host: InventoryHost): string {
  const file = path.join(dir, 'known_hosts');
  writeFileSync(file, `${host.address} ${host.hostKey}\n`);
  return file;
}

function viaOpenSshClient(dir: string): number[] {
  const host = labHost();
  const args = [
    '-i',
    host.keyFile,
    '-o',
    `UserKnownHostsFile=${pinnedKnownHosts(dir, host)}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
    '-p',
    String(host.port),
    `${host.user}@${host.address}`,
    'true',
  ];
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync('ssh', args, { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`ssh exited ${r.status}`);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return samples;
}

function hasAnsible(): boolean {
  return spawnSync('ansible-playbook', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** ansible-core from Debian, installed with apt-get when missing (says so); an error says why not. */
function ensureAnsible(): string | undefined {
  if (hasAnsible()) return undefined;
  console.log('ansible-playbook is missing: installing the Debian package ansible-core with apt-get');
  const r = spawnSync('apt-get', ['install', '-y', '-q', 'ansible-core'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status === 0 && hasAnsible()) return undefined;
  // /work/bin/isolated gives the benchmark a network namespace with only a loopback: no mirror there.
  return 'apt-get install ansible-core failed (inside /work/bin/isolated there is no network: run `apt-get install -y ansible-core` once outside it)';
}

interface AnsibleFigures {
  perTask: number[];
  oneTaskRun: number[];
  version: string;
}

function viaAnsible(dir: string): AnsibleFigures {
  const host = labHost();
  const inventory = path.join(dir, 'hosts.ini');
  const sshArgs = `-o UserKnownHostsFile=${pinnedKnownHosts(dir, host)} -o StrictHostKeyChecking=yes`;
  writeFileSync(
    inventory,
    `${HOST} ansible_host=${host.address} ansible_port=${host.port} ansible_user=${host.user} ansible_ssh_private_key_file=${host.keyFile} ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='${sshArgs}'\n`,
  );
  const playbook = (tasks: number) => {
    const file = path.join(dir, `true-${tasks}.yml`);
    const body = Array.from({ length: tasks }, (_, i) => `    - name: true ${i + 1}\n      ansible.builtin.command: 'true'\n      changed_when: false\n`).join('');
    writeFileSync(file, `- hosts: ${HOST}\n  gather_facts: false\n  tasks:\n${body}`);
    return file;
  };
  const env = {
    ...process.env,
    ANSIBLE_PIPELINING: 'True',
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_LOCAL_TEMP: path.join(dir, 'tmp'),
    ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(dir, 'cp'),
    ANSIBLE_NOCOLOR: '1',
  };
  const run = (file: string): number => {
    const t = process.hrtime.bigint();
    const r = spawnSync('ansible-playbook', ['-i', inventory, file], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ansible-playbook ${path.basename(file)} exited ${r.status}: ${(r.stdout + r.stderr).slice(-800)}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const one = playbook(1);
  const many = playbook(ANSIBLE_TASKS + 1);
  run(one); // warm: the SSH control master (ControlPersist) is up for what follows
  const oneTaskRun: number[] = [];
  const perTask: number[] = [];
  for (let i = 0; i < 3; i++) {
    const a = run(one);
    const b = run(many);
    oneTaskRun.push(a);
    perTask.push((b - a) / ANSIBLE_TASKS);
  }
  const version = execFileSync('ansible-playbook', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  return { perTask, oneTaskRun, version };
}

async function main(): Promise<void> {
  installWorkerMetrics();
  const labWasUp = labStatus().some((h) => h.running);
  await labUp({ scenarios: ['base'] });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-step-'));
  let bundles: Bundles | undefined;
  try {
    bundles = await bundle(dir);
    const load = os.loadavg();
    const engine = await viaRunbook(configurations(bundles));
    const ssh2 = ENGINE_ONLY ? undefined : await viaWarmSsh2();
    closeSharedPool();
    const openssh = ENGINE_ONLY ? undefined : viaOpenSshClient(dir);
    const ansibleMissing = ENGINE_ONLY ? 'BENCH_ENGINE_ONLY=1' : ensureAnsible();
    const ansible = ansibleMissing ? undefined : viaAnsible(dir);
    const loadAfter = os.loadavg();

    const now = engine.at(-1)!;
    const earlier = engine.slice(0, -1);
    const a = median(now.profile.cycles);
    const describe = (f: EngineFigures) =>
      f.label === 'before'
        ? 'the same step, dev server as before'
        : f.label === 'no engine'
          ? 'the same activity from a workflow without the engine (the floor: bench/bare-steps-workflow.ts)'
          : f.label === 'quick read'
            ? "the same command as a quick read-only step (a local activity; cycles from the markers' schedule times)"
            : `the same step, workflow code of ${f.label.replace(/^code /, '')}, dev server now`;
    const rows: [string, number[] | undefined][] = [
      ['A. runbook step running `true` (engine), now', now.profile.cycles],
      ...earlier.map((f, k): [string, number[]] => [`A${k}. ${describe(f)}`, f.profile.cycles]),
      ['B. `true` over a warm ssh2 connection', ssh2],
      ['C. `ssh host true` (OpenSSH client, new connection)', openssh],
      [`D. Ansible task \`command: true\` (${ansible?.version ?? 'ansible-core'}, pipelining), per task`, ansible?.perTask],
    ];
    console.log(
      `\nPer-step cost on ${HOST}: ${STEPS} runbook steps x ${ROUNDS} rounds per configuration, ${SAMPLES} samples for B and C, ${os.cpus().length} cores, load average ${load[0].toFixed(1)} at start, ${loadAfter[0].toFixed(1)} at end\n`,
    );
    console.log('| what | median | p90 | this / A (engine now) | A / this |');
    console.log('|---|---|---|---|---|');
    for (const [what, xs] of rows) {
      if (!xs) {
        console.log(`| ${what} | not measured: ${ansibleMissing ?? 'BENCH_ENGINE_ONLY=1'} | | | |`);
        continue;
      }
      const m = median(xs);
      console.log(`| ${what} | ${fmtMs(m)} | ${fmtMs(percentile(xs, 90))} | ${(m / a).toFixed(2)}x | ${(a / m).toFixed(2)}x |`);
    }
    if (ansible) console.log(`\nAnsible: a 1-task playbook run takes ${fmtMs(median(ansible.oneTaskRun))} in all (process start, inventory, connection); per task is (21-task run - 1-task run) / 20.`);
    console.log('');
    for (const f of earlier) {
      const m = median(f.profile.cycles);
      console.log(`${f.label} -> now: median ${fmtMs(m)} -> ${fmtMs(a)} (${(m / a).toFixed(2)}x), p90 ${fmtMs(percentile(f.profile.cycles, 90))} -> ${fmtMs(percentile(now.profile.cycles, 90))}`);
    }
    const cpu = (f: EngineFigures) => `${f.label}: server ${fmtMs(median(f.cpu.map((c) => c.server)))}, worker ${fmtMs(median(f.cpu.map((c) => c.worker)))}`;
    console.log(`CPU per step (less sensitive to other load than latency; median of the rounds): ${engine.map(cpu).join('; ')}`);
    const workerMean = (f: EngineFigures, metric: string) => median(f.workerMeans.map((m) => m[metric] ?? NaN)).toFixed(2);
    console.log(
      `the worker's own means (ms; median of the rounds), workflow task execution / activity execution: ${engine.map((f) => `${f.label} ${workerMean(f, 'temporal_workflow_task_execution_latency')} / ${workerMean(f, 'temporal_activity_execution_latency')}`).join('; ')}`,
    );
    console.log(`wall time per step (client, mean of each run; median of the rounds): ${engine.map((f) => `${f.label} ${fmtMs(median(f.walls))}`).join(', ')}`);
    console.log(`workflow tasks per step: ${engine.map((f) => `${f.label} ${f.profile.workflowTasksPerStep.toFixed(2)}`).join(', ')}`);
    console.log(
      `history events per step: ${engine
        .map(
          (f) =>
            `${f.label} ${Object.values(f.profile.eventsPerStep)
              .reduce((x, y) => x + y, 0)
              .toFixed(2)}`,
        )
        .join(', ')}\n`,
    );
    console.log('Where a step goes (server event times; medians of phases need not add up to the step):\n');
    // Quick steps run inside one workflow task: no phases to split.
    console.log(phaseTable(engine.filter((f) => f.profile.phases['activity dispatch'].length).map((f) => ({ label: f.label, profile: f.profile }))).join('\n'));
  } finally {
    closeSharedPool();
    for (const b of bundles?.baselines ?? []) b.cleanup();
    rmSync(dir, { recursive: true, force: true });
    if (!labWasUp) await labDown();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
