import { type EventLevel, NODE_STATUS as S, NODE_STATUS_NAME, SCRIPT_STATUS, SCRIPT_STATUS_FAILED } from './enums';
import { badRequest, conflict, forbidden, notFound } from './errors';
import { clearStorageConfig, collectResources, readStorageConfig, runScriptOnMachine, setCloudInit, writeDeployedLayout } from './machine-host';
import { formatTimeout } from './script-metadata';
import { applyLayout, CannotApply, ConfigError, flatLayout, validateLayout } from './storage-custom';
import { loadRegion, readLabConfig, saveRegion, type MachineState, type RegionState, type ResultSetState, type ScriptResultState, type UserState } from './state';

// The region's machine life cycle (domain-apis.md C4, maas-runbook.md §2-5): the transitions each
// op allows, and the background work (commissioning, deploying, releasing) that the real region
// hands to the rack and the machine. Background jobs carry the machine's generation and stop at the
// first await after an abort or release bumped it.

export const BUILTIN_RESOURCES = '20-maas-03-machine-resources';
export const BUILTIN_COMMISSIONING = '50-maas-01-commissioning';
export const INSTALL_LOG = '/tmp/install.log';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => new Date().toISOString();
const COMMISSIONABLE: number[] = [S.NEW, S.FAILED_COMMISSIONING, S.READY, S.BROKEN];
const RELEASABLE: number[] = [S.ALLOCATED, S.RESERVED, S.BROKEN, S.DEPLOYING, S.DEPLOYED, S.FAILED_DEPLOYMENT, S.FAILED_DISK_ERASING, S.FAILED_RELEASING];

interface PlannedScript {
  name: string;
  script_id: number | null;
  parallel: number;
  hardware_type: number;
}

export class Region {
  state: RegionState;

  constructor(readonly dir: string) {
    this.state = loadRegion(dir);
  }

  save(): void {
    saveRegion(this.dir, this.state);
  }

  /**
   * Lab only: take the state file as it is now on disk (a test re-seeded it), so tests reset the
   * region in milliseconds instead of restarting it. Every machine's generation moves past the one
   * it had, so a background job of the old state stops at its next await.
   */
  reload(): void {
    const old = this.state;
    this.state = loadRegion(this.dir);
    for (const m of this.state.machines) {
      const before = old.machines.find((x) => x.system_id === m.system_id);
      if (before) m.generation = Math.max(m.generation, before.generation) + 1;
    }
    this.save();
  }

  get config() {
    return readLabConfig(this.dir);
  }

  machine(id: string): MachineState {
    const m = this.state.machines.find((x) => x.system_id === id || x.hostname === id);
    if (!m) throw notFound();
    return m;
  }

  event(m: MachineState, level: EventLevel, type: string, description: string, username = ''): void {
    this.state.events.push({ id: this.state.nextId.event++, node: m.system_id, hostname: m.hostname, username, level, type, description, created: now() });
  }

  private setStatus(m: MachineState, status: number, message = ''): void {
    m.status = status;
    m.status_message = message || NODE_STATUS_NAME[status];
  }

  private newSet(m: MachineState, type: number, names: PlannedScript[]): ResultSetState {
    const set: ResultSetState = {
      id: this.state.nextId.resultSet++,
      system_id: m.system_id,
      type,
      started: now(),
      ended: null,
      last_ping: null,
      results: names.map((s) => ({
        id: this.state.nextId.result++,
        name: s.name,
        script_id: s.script_id,
        status: SCRIPT_STATUS.PENDING,
        exit_status: null,
        started: null,
        ended: null,
        output: '',
        stdout: '',
        stderr: '',
        result: '',
        suppressed: false,
        parameters: {},
      })),
    };
    this.state.resultSets.push(set);
    return set;
  }

  set(id: number | null): ResultSetState | undefined {
    return id === null ? undefined : this.state.resultSets.find((s) => s.id === id);
  }

  private abortOpenResults(set: ResultSetState | undefined): void {
    for (const r of set?.results ?? []) {
      if (r.status === SCRIPT_STATUS.PENDING || r.status === SCRIPT_STATUS.RUNNING || r.status === SCRIPT_STATUS.INSTALLING) {
        r.status = SCRIPT_STATUS.ABORTED;
        r.ended = now();
      }
    }
    if (set && !set.ended) set.ended = now();
  }

  private requireAdmin(user: UserState, what: string): void {
    if (!user.is_superuser) throw forbidden(`You do not have permission to ${what}.`);
  }

  /** The scripts a commission runs, in MAAS's order: serial, then instance, then any; node last; by name. */
  private commissioningPlan(param: string | undefined): PlannedScript[] {
    const customs = this.state.scripts.filter((s) => s.type === 0);
    let chosen = customs.filter((s) => !s.tags.includes('noauto'));
    if (param !== undefined) {
      const wanted = param
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      if (wanted.length === 1 && wanted[0] === 'none') chosen = [];
      else {
        const unknown = wanted.filter((w) => !customs.some((s) => s.name === w || s.tags.includes(w) || String(s.id) === w) && w !== BUILTIN_RESOURCES && w !== BUILTIN_COMMISSIONING);
        if (unknown.length) throw badRequest('commissioning_scripts', `Unknown name or tag: ${unknown.join(', ')}`);
        chosen = customs.filter((s) => wanted.some((w) => s.name === w || s.tags.includes(w) || String(s.id) === w));
      }
    }
    const all: PlannedScript[] = [
      { name: BUILTIN_RESOURCES, script_id: 1, parallel: 0, hardware_type: 0 },
      { name: BUILTIN_COMMISSIONING, script_id: 2, parallel: 0, hardware_type: 0 },
      ...chosen.map((s) => ({ name: s.name, script_id: s.id, parallel: s.parallel, hardware_type: s.hardware_type })),
    ];
    const nodeLast = (h: number) => (h === 0 ? 1 : 0);
    return all.sort((a, b) => a.parallel - b.parallel || nodeLast(a.hardware_type) - nodeLast(b.hardware_type) || a.name.localeCompare(b.name));
  }

  commission(m: MachineState, user: UserState, p: { commissioning_scripts?: string; testing_scripts?: string; skip_storage?: string }): void {
    this.requireAdmin(user, 'commission this machine');
    if (!COMMISSIONABLE.includes(m.status)) throw badRequest('__all__', 'Commission is not available because of the current state of the node.');
    if (!m.power_type) throw badRequest('__all__', 'Unconfigured power type. Please configure the power type and try again.');
    const plan = this.commissioningPlan(p.commissioning_scripts);
    const set = this.newSet(m, 0, plan);
    m.previousStatus = m.status;
    m.currentCommissioningSet = set.id;
    m.owner = user.username;
    m.error_description = '';
    m.generation++;
    m.operationStartedAt = now();
    this.setStatus(m, S.COMMISSIONING);
    this.event(m, 'INFO', 'Commissioning', `(${user.username}) - Started commissioning on '${m.hostname}'`, user.username);
    this.save();
    void this.guarded(m, () => this.runCommissioning(m.system_id, m.generation, user.username, p.skip_storage === '1' || p.skip_storage === 'true')); // background: the API answers at once
    void this.guarded(m, () => this.nodeTimeout(m.system_id, m.generation, S.COMMISSIONING, 'Commissioning', S.FAILED_COMMISSIONING));
  }

  /** A background job's unexpected error becomes a MAAS-like failure on the machine, not a crash. */
  private async guarded(m: MachineState, job: () => Promise<void>): Promise<void> {
    try {
      await job();
    } catch (err) {
      const failTo = m.status === S.COMMISSIONING ? S.FAILED_COMMISSIONING : m.status === S.DEPLOYING ? S.FAILED_DEPLOYMENT : null;
      this.event(m, 'ERROR', 'Lab emulator error', (err as Error).message.slice(0, 2000));
      if (failTo !== null) {
        m.error_description = (err as Error).message.slice(0, 500);
        this.setStatus(m, failTo);
      }
      this.save();
    }
  }

  private live(id: string, gen: number): MachineState | null {
    const m = this.state.machines.find((x) => x.system_id === id);
    return m && m.generation === gen ? m : null;
  }

  private async nodeTimeout(id: string, gen: number, during: number, opName: string, failTo: number): Promise<void> {
    const { nodeTimeoutMs, nodeTimeoutMinutes } = this.config.timings;
    await sleep(nodeTimeoutMs);
    const m = this.live(id, gen);
    if (!m || m.status !== during) return;
    m.generation++;
    m.error_description = `Node operation '${opName}' timed out after ${nodeTimeoutMinutes} minutes.`;
    this.abortOpenResults(this.set(during === S.COMMISSIONING ? m.currentCommissioningSet : m.currentInstallationSet));
    this.setStatus(m, failTo);
    this.event(m, 'ERROR', `Failed ${opName.toLowerCase()}`, m.error_description);
    this.save();
  }

  /** Power on through the BMC. False when the status was reverted (unreachable BMC) or someone must press the button (manual). */
  private async powerOn(m: MachineState, user: string, op: 'COMMISSIONING' | 'DEPLOYING', revertTo: number, set: ResultSetState | undefined): Promise<boolean> {
    if (m.power_type === 'manual') {
      this.event(m, 'INFO', 'Powering on', `You need to power on ${m.system_id} manually.`);
      this.event(m, 'INFO', op === 'COMMISSIONING' ? 'Commissioning' : 'Deploying', `${m.hostname} must be started manually`);
      this.save();
      return false; // nobody PXE-boots a lab machine: node_timeout ends it
    }
    if (this.config.faults.bmcUnreachable) {
      m.generation++;
      this.abortOpenResults(set);
      m.power_state = 'error';
      this.setStatus(m, revertTo);
      if (revertTo === S.READY || revertTo === S.NEW) m.owner = null;
      this.event(
        m,
        'WARNING',
        "Failed to query node's BMC",
        `(${user}) - Aborting ${op} and reverting to ${NODE_STATUS_NAME[revertTo].toUpperCase()}. Unable to power control the node. Please check power credentials.`,
        user,
      );
      this.save();
      return false;
    }
    m.power_state = 'on';
    this.event(m, 'INFO', 'Powering on', `Powering on ${m.hostname}`);
    this.save();
    return true;
  }

  private startResult(r: ScriptResultState): void {
    r.status = SCRIPT_STATUS.RUNNING;
    r.started = now();
  }

  private endResult(r: ScriptResultState, status: number, exit: number | null, stdout: string, stderr: string): void {
    r.status = status;
    r.exit_status = exit;
    r.stdout = stdout;
    r.stderr = stderr;
    r.output = stdout + stderr;
    r.ended = now();
  }

  private async runCommissioning(id: string, gen: number, user: string, skipStorage: boolean): Promise<void> {
    await sleep(this.config.timings.bootMs);
    let m = this.live(id, gen);
    if (!m) return;
    const set = this.set(m.currentCommissioningSet)!;
    if (!(await this.powerOn(m, user, 'COMMISSIONING', m.previousStatus === S.NEW ? S.NEW : S.READY, set))) return;
    if (this.config.faults.hang === 'commissioning') return;
    await clearStorageConfig(m);
    let resourcesFile = '';
    for (const r of set.results) {
      m = this.live(id, gen);
      if (!m) return;
      this.startResult(r);
      set.last_ping = now();
      this.save();
      const faults = this.config.faults;
      if (r.name === BUILTIN_RESOURCES) {
        const res = await collectResources(m);
        resourcesFile = res.file;
        this.endResult(r, SCRIPT_STATUS.PASSED, 0, JSON.stringify(res.json), '');
      } else if (r.name === BUILTIN_COMMISSIONING) {
        await this.builtinCommissioning(m, r, skipStorage, user);
      } else if (faults.scriptTimeout === r.name) {
        const script = this.state.scripts.find((s) => s.name === r.name)!;
        this.endResult(r, SCRIPT_STATUS.TIMEDOUT, 124, '', `Timeout(${formatTimeout(script.timeout || 3600)}) expired on ${r.name}`);
      } else {
        const script = this.state.scripts.find((s) => s.name === r.name);
        if (!script) {
          this.endResult(r, SCRIPT_STATUS.FAILED, 2, '', `script ${r.name} was deleted`);
        } else {
          const run = await runScriptOnMachine(m, r.name, script.script, script.timeout, resourcesFile);
          if (!this.live(id, gen)) return;
          if (faults.scriptExit?.name === r.name) {
            this.endResult(r, SCRIPT_STATUS.FAILED, faults.scriptExit.code, run.stdout, `${run.stderr}${r.name}: exited ${faults.scriptExit.code} (lab fault)\n`);
          } else if (run.timedOut) {
            this.endResult(r, SCRIPT_STATUS.TIMEDOUT, 124, run.stdout, `${run.stderr}Timeout(${formatTimeout(script.timeout)}) expired on ${r.name}\n`);
          } else {
            this.endResult(r, run.code === 0 ? SCRIPT_STATUS.PASSED : SCRIPT_STATUS.FAILED, run.code, run.stdout, run.stderr);
          }
        }
      }
      this.save();
    }
    m = this.live(id, gen);
    if (!m) return;
    set.ended = now();
    const failed = set.results.filter((r) => SCRIPT_STATUS_FAILED.includes(r.status));
    if (failed.length) {
      m.error_description = `${failed.length} commissioning scripts failed to run`;
      this.setStatus(m, S.FAILED_COMMISSIONING);
      this.event(m, 'ERROR', 'Failed commissioning', m.error_description);
    } else {
      m.owner = null;
      m.power_state = 'off';
      this.setStatus(m, S.READY);
      this.event(m, 'INFO', 'Ready', `Commissioning of ${m.hostname} completed`);
    }
    m.generation++;
    this.save();
  }

  /**
   * 50-maas-01-commissioning and its post-processing hook: read the custom script's file, embed it
   * as storage-extra, then validate (ConfigError → the script is Failed, events) and apply it
   * (CannotApply → one CONFIGURING_STORAGE event, machine keeps NO layout). No file → flat layout.
   */
  private async builtinCommissioning(m: MachineState, r: ScriptResultState, skipStorage: boolean, user: string): Promise<void> {
    const raw = this.config.faults.storageConfigOverride ?? (await readStorageConfig(m));
    let parsed: unknown = undefined;
    if (raw !== null) {
      try {
        parsed = JSON.parse(raw);
      } catch (err) {
        this.endResult(r, SCRIPT_STATUS.FAILED, 1, '', `Failed to parse /storage-config.json: ${(err as Error).message}\n`);
        return;
      }
    }
    const stdout = JSON.stringify(parsed === undefined ? { 'machine-resources': 'see 20-maas-03-machine-resources' } : { 'storage-extra': parsed });
    if (parsed === undefined || skipStorage) {
      applyLayout(m, flatLayout(m), () => this.state.nextId.partition++);
      this.endResult(r, SCRIPT_STATUS.PASSED, 0, stdout, '');
      return;
    }
    let layout;
    try {
      layout = validateLayout(parsed);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.endResult(r, SCRIPT_STATUS.FAILED, 0, stdout, '');
      this.event(m, 'ERROR', 'Script result lookup or storage error', `Failed processing commissioning data: ${err.message}`, user);
      this.event(m, 'ERROR', 'Script result lookup or storage error', `${m.hostname}: commissioning script '${BUILTIN_COMMISSIONING}' failed during post-processing.`, user);
      return;
    }
    m.storageExtra = parsed;
    try {
      applyLayout(m, layout, () => this.state.nextId.partition++);
    } catch (err) {
      if (!(err instanceof CannotApply)) throw err;
      for (const d of m.disks) {
        d.partitions = [];
        d.partition_table_type = null;
        d.filesystem = null;
      }
      this.event(m, 'INFO', 'Configuring storage', `Cannot apply custom layout: ${err.message}`, user);
    }
    this.endResult(r, SCRIPT_STATUS.PASSED, 0, stdout, '');
  }

  deploy(m: MachineState, user: UserState, p: { distro_series?: string; user_data?: string }): void {
    if (m.status === S.READY) {
      m.owner = user.username;
      this.setStatus(m, S.ALLOCATED);
    } else if (m.status !== S.ALLOCATED) {
      throw conflict(`Can't deploy a machine that is in the '${NODE_STATUS_NAME[m.status]}' state`);
    } else if (m.owner !== user.username && !user.is_superuser) {
      throw forbidden('You do not have permission to deploy this machine.');
    }
    const hasRoot = m.disks.some((d) => d.filesystem?.mount_point === '/' || d.partitions.some((x) => x.filesystem?.mount_point === '/'));
    const hasStorage = m.disks.some((d) => d.filesystem || d.partitions.length);
    if (!hasRoot) {
      const msgs = [...(hasStorage ? [] : ['Specify a storage device to be able to deploy this node.']), "Mount the root '/' filesystem to be able to deploy this node."];
      this.save();
      throw badRequest('storage', ...msgs);
    }
    const series = (p.distro_series ?? 'jammy').replace(/^ubuntu\//, '');
    m.distro_series = series === '22.04' ? 'jammy' : series === '24.04' ? 'noble' : series;
    m.osystem = 'ubuntu';
    m.previousStatus = S.ALLOCATED;
    const set = this.newSet(m, 1, [{ name: INSTALL_LOG, script_id: null, parallel: 0, hardware_type: 0 }]);
    m.currentInstallationSet = set.id;
    m.generation++;
    m.operationStartedAt = now();
    m.error_description = '';
    this.setStatus(m, S.DEPLOYING);
    this.event(m, 'INFO', 'Deploying', `(${user.username}) - Started deploying '${m.hostname}'`, user.username);
    this.save();
    void this.guarded(m, () => this.runDeploy(m.system_id, m.generation, user.username)); // background: the API answers at once
    void this.guarded(m, () => this.nodeTimeout(m.system_id, m.generation, S.DEPLOYING, 'Deploying', S.FAILED_DEPLOYMENT));
  }

  private async runDeploy(id: string, gen: number, user: string): Promise<void> {
    await sleep(this.config.timings.bootMs);
    let m = this.live(id, gen);
    if (!m) return;
    const set = this.set(m.currentInstallationSet)!;
    if (!(await this.powerOn(m, user, 'DEPLOYING', S.ALLOCATED, set))) return;
    if (this.config.faults.hang === 'deploying') return;
    const r = set.results[0];
    r.status = SCRIPT_STATUS.INSTALLING;
    r.started = now();
    this.save();
    await setCloudInit(m, 'running');
    if (this.config.faults.deployFail) {
      m = this.live(id, gen);
      if (!m) return;
      const log = `curtin: Installation started. (21.3-1)\nstart: cmd-install/stage-partitioning/builtin/cmd-block-meta: curtin command block-meta\nAn error occured handling 'sda': ProcessExecutionError - Unexpected error while running command.\nCommand: ['sgdisk', '--new', '3:1581056:3203071', '/dev/sda']\nExit code: 4\ncurtin: Installation failed with exception: Unexpected error while running command.\n`;
      this.endResult(r, SCRIPT_STATUS.FAILED_INSTALLING, 1, log, '');
      set.ended = now();
      m.error_description = 'Installation failed (refer to the installation log for more information).';
      this.setStatus(m, S.FAILED_DEPLOYMENT);
      this.event(m, 'ERROR', 'Failed deployment', m.error_description);
      m.generation++;
      this.save();
      return;
    }
    const out = await writeDeployedLayout(m);
    m = this.live(id, gen);
    if (!m) return;
    this.endResult(r, SCRIPT_STATUS.PASSED, 0, `curtin: Installation started.\n${out}curtin: Installation finished.\n`, '');
    set.ended = now();
    this.setStatus(m, S.DEPLOYED);
    this.event(m, 'INFO', 'Deployed', `Deployed ${m.osystem}/${m.distro_series} on ${m.hostname}`);
    m.generation++;
    const after = m.generation;
    this.save();
    // Deployed is reported when cloud-init asks for user-data, before it is done (maas-runbook.md §3).
    await sleep(this.config.timings.cloudInitMs);
    m = this.live(id, after);
    if (m && m.status === S.DEPLOYED) await setCloudInit(m, 'done');
  }

  release(m: MachineState, user: UserState, p: { comment?: string }): void {
    if (m.status === S.READY || m.status === S.RELEASING) return;
    if (!RELEASABLE.includes(m.status)) throw conflict(`Machine cannot be released in its current state ('${NODE_STATUS_NAME[m.status]}').`);
    if (m.owner !== user.username && !user.is_superuser) throw forbidden('You do not have permission to release this machine.');
    m.generation++;
    this.abortOpenResults(this.set(m.currentInstallationSet));
    this.event(m, 'INFO', 'Releasing', `(${user.username}) - Released ${m.hostname}${p.comment ? `: ${p.comment}` : ''}`, user.username);
    if (m.power_type === 'manual') {
      // "this node is not suitable for use with MAAS": straight to Ready, power untouched.
      this.finishRelease(m);
      return;
    }
    this.setStatus(m, S.RELEASING);
    this.save();
    const gen = m.generation;
    void this.guarded(m, async () => {
      await sleep(this.config.timings.releaseMs);
      const live = this.live(m.system_id, gen);
      if (!live || live.status !== S.RELEASING) return;
      live.power_state = 'off';
      await setCloudInit(live, 'running');
      this.finishRelease(live);
    });
  }

  private finishRelease(m: MachineState): void {
    m.owner = null;
    m.osystem = '';
    m.distro_series = '';
    this.setStatus(m, S.READY);
    m.generation++;
    this.save();
  }

  abort(m: MachineState, user: UserState, p: { comment?: string }): void {
    const to = m.status === S.COMMISSIONING ? S.NEW : m.status === S.DEPLOYING ? S.ALLOCATED : m.status === S.TESTING ? m.previousStatus : m.status === S.DISK_ERASING ? S.FAILED_DISK_ERASING : null;
    if (to === null) throw conflict(`Cannot abort in current state: node ${m.system_id} is in state ${NODE_STATUS_NAME[m.status]}.`);
    const op = NODE_STATUS_NAME[m.status].toUpperCase();
    m.generation++;
    this.abortOpenResults(this.set(m.status === S.DEPLOYING ? m.currentInstallationSet : m.currentCommissioningSet));
    if (to === S.NEW) m.owner = null;
    this.setStatus(m, to);
    m.power_state = m.power_type === 'manual' ? 'unknown' : 'off';
    this.event(m, 'INFO', `Aborted ${op.toLowerCase()}`, `(${user.username}) - Aborted '${op}' operation${p.comment ? `: ${p.comment}` : ''}`, user.username);
    this.save();
  }

  /**
   * `machines allocate [system_id=…]`: a Ready machine becomes Allocated to the caller. MAAS's 409
   * texts (api/machines.py, NodesNotAvailable): with constraints it names them twice, as Python
   * printed the request's lists and as the form resolved them; with none, "No machine available.".
   */
  allocate(user: UserState, systemId: string | undefined, comment: string | undefined): MachineState {
    const m = this.state.machines.find((x) => x.status === S.READY && (systemId === undefined || x.system_id === systemId));
    if (!m) throw conflict(systemId === undefined ? 'No machine available.' : `No available machine matches constraints: [('system_id', ['${systemId}'])] (resolved to "system_id=${systemId}")`);
    m.owner = user.username;
    this.setStatus(m, S.ALLOCATED);
    this.event(m, 'INFO', 'Allocated', `(${user.username}) - Allocated${comment ? `: ${comment}` : ''}`, user.username);
    this.save();
    return m;
  }

  markBroken(m: MachineState, user: UserState, p: { comment?: string; error_description?: string }): void {
    if (m.owner !== user.username) throw forbidden('You do not have permission to mark this machine broken.');
    m.generation++;
    if (RELEASABLE.includes(m.status)) this.abortOpenResults(this.set(m.currentInstallationSet));
    m.error_description = p.comment ?? p.error_description ?? '';
    m.owner = null;
    this.setStatus(m, S.BROKEN);
    this.event(m, 'INFO', 'Marking node broken', `(${user.username}) - ${m.error_description}`, user.username);
    this.save();
  }

  markFixed(m: MachineState, user: UserState): void {
    this.requireAdmin(user, 'mark this machine fixed');
    if (m.status !== S.BROKEN) throw conflict("Can't mark a non-broken node as 'Ready'.");
    m.error_description = '';
    this.setStatus(m, S.READY);
    this.event(m, 'INFO', 'Marking node fixed', `(${user.username}) - Marked fixed`, user.username);
    this.save();
  }

  setStorageLayout(m: MachineState, user: UserState, p: { storage_layout?: string }): void {
    this.requireAdmin(user, 'set the storage layout');
    if (m.status !== S.READY) throw conflict(`Cannot change the storage layout on a node that is not Ready.`);
    const name = p.storage_layout ?? 'flat';
    if (name === 'custom') {
      if (m.storageExtra === null) throw badRequest('storage_layout', "Failed to configure storage layout 'custom': No custom storage layout configuration found");
      try {
        applyLayout(m, validateLayout(m.storageExtra), () => this.state.nextId.partition++);
      } catch (err) {
        throw badRequest('storage_layout', `Failed to configure storage layout 'custom': ${(err as Error).message}`);
      }
    } else if (name === 'flat') {
      applyLayout(m, flatLayout(m), () => this.state.nextId.partition++);
    } else if (name === 'blank') {
      for (const d of m.disks) {
        d.partitions = [];
        d.partition_table_type = null;
        d.filesystem = null;
      }
    } else if (['lvm', 'bcache', 'vmfs6', 'vmfs7'].includes(name)) {
      throw badRequest('storage_layout', `the lab emulator does not model the '${name}' layout`);
    } else {
      throw badRequest('storage_layout', `Select a valid choice. ${name} is not one of the available choices.`);
    }
    this.save();
  }
}
