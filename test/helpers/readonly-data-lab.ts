import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { execInHost, labCheck, labDown, labUp, type LabCheckReport } from '../../lab/lab';
import { checkConsistency, readState } from '../../lab/emulators/lvm';
import { hostDir } from '../../lab/paths';
import { HOST, readBuildRecord, readonlyDataPaths, readonlyDataSizes, type BuildRecord } from '../../lab/scenarios/readonly-data';
import { guardWorkflowId } from '../../runbooks/autoGrowGuard/schema';
import { repoRoot, testDataDir } from './paths';
import { startRunbook, testClient } from './temporal';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

// The readonly-data lab host for the fixReadonlyData and autoGrowGuard tests: a lab folder of its
// own (so lab down at the end touches nothing of the suite's base lab), a worker process of its own
// on its own task queue (reading that lab's inventory), and independent ways to look at the host:
// its LVM state file, its mounts and files, its objects' checksums, the LVM commands it ran.

export const SIZES = readonlyDataSizes({ fullSize: false });
export const GUARD_ID = guardWorkflowId(HOST.name, 'vg0', 'data0');

/** The catalog's example input: it must match the scaled lab (a test checks it). */
export function exampleInput(): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(repoRoot, 'runbooks', 'fixReadonlyData', 'examples', 'lab.json'), 'utf8'));
}

export class ReadonlyDataLab {
  readonly taskQueue = `readonly-data-${randomUUID().slice(0, 8)}`;
  worker?: WorkerProcess;
  record!: BuildRecord;
  private root = '';
  private previousLabDir: string | undefined;
  readonly log: string[] = [];

  get hostDir(): string {
    return hostDir(HOST.name);
  }

  get paths() {
    return readonlyDataPaths(this.hostDir);
  }

  /** Own lab folder, the host freshly broken, and a worker for it. */
  async setUp(): Promise<void> {
    if (process.getuid?.() !== 0) throw new Error('the readonly-data tests need root (namespaces, loop devices)');
    this.previousLabDir = process.env.RUNBOOK_LAB_DIR;
    this.root = mkdtempSync(path.join(os.tmpdir(), 'fix-readonly-data-'));
    process.env.RUNBOOK_LAB_DIR = this.root;
    await this.rebuild();
    await this.startWorker();
  }

  async tearDown(): Promise<void> {
    try {
      await this.stopGuard();
      await this.worker?.stop('SIGKILL');
      await labDown({ log: (l) => this.log.push(l) });
    } finally {
      if (this.previousLabDir === undefined) delete process.env.RUNBOOK_LAB_DIR;
      else process.env.RUNBOOK_LAB_DIR = this.previousLabDir;
      rmSync(this.root, { recursive: true, force: true });
    }
  }

  /** A freshly broken host (about a second), with the LVM command log installed. */
  async rebuild(): Promise<void> {
    await this.stopGuard();
    await labUp({ scenarios: ['readonly-data'], rebuild: true, log: (l) => this.log.push(l) });
    const r = readBuildRecord(this.hostDir);
    if (!r) throw new Error('the readonly-data build left no record');
    this.record = r;
    this.logLvmCommands();
  }

  async startWorker(): Promise<WorkerProcess> {
    this.worker = await startWorkerProcess({
      taskQueue: this.taskQueue,
      env: { RUNBOOK_LAB_DIR: this.root, RUNBOOK_INVENTORY: path.join(this.root, 'inventory.json'), RUNBOOK_ARCHIVE: '0' },
      logFile: path.join(testDataDir, `worker-${this.taskQueue}-${Date.now()}.log`),
    });
    return this.worker;
  }

  /** The example input with some fields replaced (raw JSON, as a client would send it). */
  input(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return { ...exampleInput(), ...overrides };
  }

  start(input: Record<string, unknown>, workflowId?: string): Promise<WorkflowHandle> {
    return startRunbook('fixReadonlyData', input, { taskQueue: this.taskQueue, workflowId });
  }

  async host(script: string, timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }> {
    return execInHost(HOST.name, script, { timeoutMs });
  }

  /** The scenario's own, independent judgement (fill test included unless told otherwise). */
  async check(fillTest = true): Promise<LabCheckReport['hosts'][string]> {
    if (fillTest) return (await labCheck('readonly-data')).hosts[HOST.name];
    const { checkReadonlyData } = await import('../../lab/scenarios/readonly-data');
    const { scenarioContext } = await import('../../lab/scenario-context');
    return checkReadonlyData(
      scenarioContext(HOST.name, (l) => this.log.push(l)),
      { fullSize: false, fillTest: false },
    );
  }

  lvmState() {
    return readState(this.paths.lvmState);
  }

  /** The VG as LVM's own rules see it: no pvmove half done, no extent used twice or out of place. */
  vgProblems(): string[] {
    const state = this.lvmState();
    return [...checkConsistency(state), ...(state.pvmove ? [`a pvmove of ${state.pvmove.sourceName} is still in progress`] : [])];
  }

  /** data0's extent count, from the state file. */
  lvExtents(): number {
    const lv = this.lvmState()
      .vgs.find((v) => v.name === 'vg0')
      ?.lvs.find((l) => l.name === 'data0');
    return lv ? lv.segments.reduce((n, s) => n + s.len, 0) : 0;
  }

  async objectsIntact(): Promise<{ ok: boolean; detail: string }> {
    const r = await this.host(`cd /data/objects && sha256sum --quiet --strict -c ${this.paths.objectsManifest}`, 120_000);
    return { ok: r.code === 0, detail: (r.stdout + r.stderr).trim().slice(0, 500) };
  }

  /**
   * What plan mode must not change: the LVM metadata, the mounts, the files in /media and /data
   * (names, sizes, times), the loop devices and who serves on port 8000.
   */
  async fingerprint(): Promise<{ digest: string; parts: Record<string, string> }> {
    const parts: Record<string, string> = {
      lvmState: readFileSync(this.paths.lvmState, 'utf8'),
      mounts: (await this.host("grep -E ' (/data|/media) ' /proc/mounts")).stdout,
      files: (await this.host("find /media /data -xdev -printf '%p %s %T@ %C@\\n' | sort")).stdout,
      // Loop devices are the kernel's: list only those over this host's images (by inode, via -j).
      loops: (await this.host('for f in /media/*.img; do echo "$f: $(losetup -l -n -O NAME -j "$f" | tr "\\n" " ")"; done')).stdout,
      service: (await this.host('cat /run/object-service/server.pid /run/object-service/supervisor.pid')).stdout,
    };
    const digest = createHash('sha256').update(JSON.stringify(parts)).digest('hex');
    return { digest, parts };
  }

  /**
   * Every LVM command the host runs is appended to a log (the emulator's wrapper scripts get one
   * line more), so a test can count changes on the host itself, independently of the runbook's audit.
   */
  private logLvmCommands(): void {
    const bin = path.join(this.hostDir, 'bin');
    const logFile = this.lvmLogPath();
    for (const name of readdirSync(bin)) {
      const file = path.join(bin, name);
      const text = readFileSync(file, 'utf8');
      if (!text.includes('lvm-emu-run.cjs') || text.includes('lvm-commands.log')) continue;
      writeFileSync(file, text.replace(/^(#!\/bin\/sh\n)/, `$1echo "${name} $*" >> ${logFile}\n`));
    }
  }

  lvmLogPath(): string {
    return path.join(this.hostDir, 'lvm-commands.log');
  }

  lvmCommands(): string[] {
    try {
      return readFileSync(this.lvmLogPath(), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** LVM commands that change metadata (a `pvmove` with no PV only carries on an interrupted move). */
  lvmChanges(): string[] {
    return this.lvmCommands().filter((c) => /^(pvchange|pvresize|vgreduce|pvcreate|vgextend|lvextend|pvremove|vgchange|lvchange) /.test(c) || /^pvmove .*\/dev\//.test(c));
  }

  /** How many times the supervisor restarted the object service (its log says so each time). */
  serviceRestarts(): number {
    try {
      return (readFileSync(this.paths.serviceLog, 'utf8').match(/exited with status \d+; restarting/g) ?? []).length;
    } catch {
      return 0;
    }
  }

  async guardHandle(): Promise<WorkflowHandle> {
    return (await testClient()).workflow.getHandle(GUARD_ID);
  }

  /**
   * Wait until the guard's watcher runs and heartbeats (after a worker crash, the dead worker's
   * watcher is only replaced after its heartbeat timeout): the scenario's fill test, which knows
   * nothing of runbooks, needs something watching from its first write.
   */
  async waitForGuardWatching(timeoutMs = 60_000): Promise<void> {
    const handle = await this.guardHandle();
    const deadline = Date.now() + timeoutMs;
    let seen = 'nothing';
    while (Date.now() < deadline) {
      const d = await handle.describe();
      const w = (d.raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'watchVolume');
      const beat = w?.lastHeartbeatTime?.seconds ? Number(w.lastHeartbeatTime.seconds) * 1000 + (w.lastHeartbeatTime.nanos ?? 0) / 1e6 : 0;
      if (w && beat > 0 && Date.now() - beat < 2_000) return;
      seen = w ? `watcher state ${String(w.state)}, last heartbeat ${beat ? `${Date.now() - beat} ms ago` : 'never'}` : `no watcher (${d.status.name})`;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the guard ${GUARD_ID} was not watching within ${timeoutMs} ms: ${seen}`);
  }

  /** The guard outlives the runs that start it (ABANDON); tests end it so the next host starts clean. */
  async stopGuard(): Promise<void> {
    const handle = await this.guardHandle();
    try {
      const d = await handle.describe();
      if (d.status.name === 'RUNNING') await handle.terminate('test cleanup');
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
}
