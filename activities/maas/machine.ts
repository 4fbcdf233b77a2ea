import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CommandRecord, StepOutput } from '../../common/step';
import { calls, displayCall, type MaasCallSpec } from './calls';
import { expectJson, maasCall, type MaasResponse } from './client';
import { eventsSchema, machineSchema, partitionIndex, resultSetSchema, type MaasMachine } from './parse';

// maasRepartition's MAAS activities. Each MAAS call is audited like a command (host `maas:<endpoint>`,
// the call as the plan shows it, the HTTP status). Acts check the machine before they act, so a retry
// after a worker crash never issues an operation twice: a commission or deploy that already started
// (a result set newer than the one recorded before) is waited for, not started again.

export interface DiskView {
  id: number;
  name: string;
  size: number;
  partitionTable: string | null;
  partitions: Array<{ index: number; path: string; size: number; fstype: string | null; mount: string | null; usedFor: string; uuid: string | null }>;
}

export interface MachineView {
  systemId: string;
  hostname: string;
  status: string;
  powerType: string;
  powerState: string;
  owner: string | null;
  errorDescription: string;
  biosBootMethod: string;
  architecture: string;
  commissioningSet: number | null;
  installationSet: number | null;
  disk: DiskView | null;
  lastEventId: number;
  /**
   * The commissioning script as it was before the run touched it (content null: it did not exist),
   * when the inspection was asked for it: what the script upload's undo puts back.
   */
  script?: { name: string; content: string | null };
}

class Calls {
  readonly commands: CommandRecord[] = [];
  constructor(readonly endpoint: string) {}

  async send(c: MaasCallSpec, opts: { multipart?: boolean } = {}): Promise<MaasResponse> {
    heartbeat({ call: `${c.method} ${c.path}` }); // every call proves the worker alive (short heartbeat timeouts)
    const startedAt = new Date().toISOString();
    const r = await maasCall(this.endpoint, c.method, c.path, c.params, opts);
    this.commands.push({
      host: `maas:${this.endpoint}`,
      command: displayCall(this.endpoint, c),
      exitCode: r.status < 400 ? 0 : 1,
      startedAt,
      durationMs: r.record.durationMs,
      stdoutTail: `HTTP ${r.status} ${r.text.slice(0, 400)}`,
      stderrTail: '',
      truncated: r.text.length > 400,
    });
    return r;
  }

  output<T>(value: T): StepOutput<T> {
    return { value, commands: this.commands };
  }

  /** Fail with MAAS's answer and the calls made so far in the audit. */
  fail(message: string, type: string, nonRetryable = true): never {
    throw ApplicationFailure.create({ message, type, nonRetryable, details: this.commands });
  }
}

function view(m: MaasMachine, disk: string, lastEventId: number): MachineView {
  const d = m.blockdevice_set.find((b) => b.name === disk);
  return {
    systemId: m.system_id,
    hostname: m.hostname,
    status: m.status_name,
    powerType: m.power_type,
    powerState: m.power_state,
    owner: m.owner,
    errorDescription: m.error_description,
    biosBootMethod: m.bios_boot_method,
    architecture: m.architecture,
    commissioningSet: m.current_commissioning_result_id ?? null,
    installationSet: m.current_installation_result_id ?? null,
    lastEventId,
    disk: d
      ? {
          id: d.id,
          name: d.name,
          size: d.size,
          partitionTable: d.partition_table_type,
          partitions: d.partitions.map((p) => ({
            index: partitionIndex(p.path) ?? -1,
            path: p.path,
            size: p.size,
            fstype: p.filesystem?.fstype ?? null,
            mount: p.filesystem?.mount_point ?? null,
            usedFor: p.used_for,
            uuid: p.uuid ?? null,
          })),
        }
      : null,
  };
}

async function findMachine(c: Calls, machine: string): Promise<MaasMachine> {
  const byId = await c.send(calls.readMachine(machine));
  if (byId.status === 200) return machineSchema.parse(JSON.parse(byId.text));
  const list = await c.send({ method: 'GET', path: `machines/?hostname=${encodeURIComponent(machine)}` });
  const found = expectJson<unknown[]>(list, 'listing machines');
  if (found.length !== 1) c.fail(`MAAS ${c.endpoint} has no machine with hostname or system_id "${machine}"; check the name with \`maas <profile> machines read\``, 'UnknownMachine');
  return machineSchema.parse(found[0]);
}

async function lastEventId(c: Calls, sid: string): Promise<number> {
  const r = await c.send({ method: 'GET', path: `events/?op=query&id=${sid}&level=DEBUG&limit=1` });
  return eventsSchema.parse(expectJson(r, 'reading events')).events[0]?.id ?? 0;
}

/** Read-only: the machine, its disk and the newest event id; and the named commissioning script's text. */
export async function maasInspectMachine(endpoint: string, machine: string, disk: string, scriptName?: string): Promise<StepOutput<MachineView>> {
  const c = new Calls(endpoint);
  const m = await findMachine(c, machine);
  const v = view(m, disk, await lastEventId(c, m.system_id));
  if (scriptName !== undefined) v.script = { name: scriptName, content: await scriptText(c, scriptName) };
  return c.output(v);
}

/** The script's text, or null when MAAS has no script of that name. */
async function scriptText(c: Calls, name: string): Promise<string | null> {
  const r = await c.send({ method: 'GET', path: `scripts/${name}?op=download` });
  if (r.status === 404) return null;
  if (r.status !== 200) c.fail(`reading the script ${name}: MAAS answered ${r.status}: ${r.text.slice(0, 500)}`, 'MaasRefused', false);
  return r.text;
}

function heartbeat(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // outside an activity
  }
}

async function pause(ms: number): Promise<void> {
  let signal: AbortSignal | undefined;
  try {
    signal = Context.current().cancellationSignal;
  } catch {
    signal = undefined;
  }
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal!.reason instanceof Error ? signal!.reason : new Error('cancelled'));
    });
  });
}

/** Poll while the status is one of `during`, heartbeating status and the newest event. */
async function waitWhile(c: Calls, sid: string, disk: string, during: string[], timeoutMs: number, pollMs: number): Promise<MachineView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = machineSchema.parse(JSON.parse((await maasCall(c.endpoint, 'GET', `machines/${sid}/`)).text));
    if (!during.includes(m.status_name)) {
      c.commands.push({
        host: `maas:${c.endpoint}`,
        command: displayCall(c.endpoint, calls.readMachine(sid)),
        exitCode: 0,
        startedAt: new Date().toISOString(),
        durationMs: 0,
        stdoutTail: `status ${m.status_name}${m.error_description ? `: ${m.error_description}` : ''}`,
        stderrTail: '',
        truncated: false,
      });
      return view(m, disk, 0);
    }
    const ev = eventsSchema.parse(JSON.parse((await maasCall(c.endpoint, 'GET', `events/?op=query&id=${sid}&limit=1`)).text)).events[0];
    heartbeat({ status: m.status_name, event: ev ? `${ev.type}: ${ev.description}`.slice(0, 200) : null });
    if (Date.now() > deadline) c.fail(`machine ${m.hostname} still ${m.status_name} after ${Math.round(timeoutMs / 1000)} s`, 'MaasWaitTimedOut');
    await pause(pollMs);
  }
}

/** Release (unless Ready already) and wait for Ready. */
export async function maasRelease(endpoint: string, sid: string, disk: string, comment: string, timeoutMs: number, pollMs: number): Promise<StepOutput<MachineView>> {
  const c = new Calls(endpoint);
  const m = machineSchema.parse(expectJson(await c.send(calls.readMachine(sid)), 'reading the machine'));
  if (m.status_name !== 'Ready' && m.status_name !== 'Releasing') {
    const r = await c.send(calls.release(sid, comment));
    if (r.status !== 200) c.fail(`MAAS refused to release ${m.hostname} (${r.status}): ${r.text}`, 'MaasRefused');
  }
  const after = await waitWhile(c, sid, disk, ['Releasing'], timeoutMs, pollMs);
  if (after.status !== 'Ready') c.fail(`releasing ${m.hostname} ended in ${after.status}${after.errorDescription ? `: ${after.errorDescription}` : ''}`, 'MaasReleaseFailed');
  return c.output(after);
}

/**
 * Commission with only the named script and no tests, then wait. `previousSet` is the commissioning
 * result set id recorded before: a newer one means this commission was already issued (a retry after
 * a crash), so it is waited for instead of issued again.
 */
export async function maasCommission(endpoint: string, sid: string, disk: string, script: string, previousSet: number | null, timeoutMs: number, pollMs: number): Promise<StepOutput<MachineView>> {
  const c = new Calls(endpoint);
  const m = machineSchema.parse(expectJson(await c.send(calls.readMachine(sid)), 'reading the machine'));
  const issued = (m.current_commissioning_result_id ?? null) !== previousSet;
  if (!issued) {
    const r = await c.send(calls.commission(sid, script));
    if (r.status !== 200) c.fail(`MAAS refused to commission ${m.hostname} (${r.status}): ${r.text}`, 'MaasRefused');
  }
  return c.output(await waitWhile(c, sid, disk, ['Commissioning', 'Testing'], timeoutMs, pollMs));
}

/** Deploy and wait for the end of Deploying; `previousSet` (installation results) as for commission. */
export async function maasDeploy(endpoint: string, sid: string, disk: string, distro: string, previousSet: number | null, timeoutMs: number, pollMs: number): Promise<StepOutput<MachineView>> {
  const c = new Calls(endpoint);
  const m = machineSchema.parse(expectJson(await c.send(calls.readMachine(sid)), 'reading the machine'));
  const issued = (m.current_installation_result_id ?? null) !== previousSet;
  if (!issued) {
    const r = await c.send(calls.deploy(sid, distro));
    if (r.status !== 200) c.fail(`MAAS refused to deploy ${m.hostname} (${r.status}): ${r.text}`, 'MaasRefused');
  }
  return c.output(await waitWhile(c, sid, disk, ['Deploying'], timeoutMs, pollMs));
}

export interface CommissioningEvidence {
  setId: number | null;
  setStatus: string;
  results: Array<{ name: string; status: string; exitStatus: number | null; stdoutTail: string; stderrTail: string }>;
  /** Events after the one recorded before commissioning, oldest first. */
  events: Array<{ id: number; level: string; type: string; description: string }>;
  machine: MachineView;
}

const b64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** Read-only: what MAAS says happened (result set, events since, block devices), for the workflow to judge. */
export async function maasEvidence(endpoint: string, sid: string, disk: string, kind: 'commissioning' | 'installation', sinceEventId: number): Promise<StepOutput<CommissioningEvidence>> {
  const c = new Calls(endpoint);
  const m = machineSchema.parse(expectJson(await c.send(calls.readMachine(sid)), 'reading the machine'));
  const setResp = await c.send({ method: 'GET', path: `nodes/${sid}/results/current-${kind}/?include_output=1` });
  const set = setResp.status === 200 ? resultSetSchema.parse(JSON.parse(setResp.text)) : null;
  const evResp = await c.send({ method: 'GET', path: `events/?op=query&id=${sid}&level=DEBUG&limit=100&after=${sinceEventId}` });
  const events = eventsSchema.parse(expectJson(evResp, 'reading events')).events.sort((a, b) => a.id - b.id);
  return c.output({
    setId: set?.id ?? null,
    setStatus: set?.status_name ?? 'none',
    results: (set?.results ?? []).map((r) => ({ name: r.name, status: r.status_name, exitStatus: r.exit_status, stdoutTail: b64(r.stdout).slice(-1500), stderrTail: b64(r.stderr).slice(-1500) })),
    events: events.map((e) => ({ id: e.id, level: e.level, type: e.type, description: e.description })),
    machine: view(m, disk, events.at(-1)?.id ?? sinceEventId),
  });
}

export interface ScriptUpload {
  action: 'created' | 'updated' | 'unchanged';
  /**
   * The script's text as this attempt found it (null: it did not exist). Not what the undo puts back:
   * a retry after a crash finds its own upload ('unchanged'); the undo uses the inspection's text.
   */
  previous: string | null;
}

/** Upload or update the commissioning script; idempotent by content. */
export async function maasEnsureScript(endpoint: string, name: string, script: string): Promise<StepOutput<ScriptUpload>> {
  const c = new Calls(endpoint);
  const previous = await scriptText(c, name);
  if (previous === script) return c.output({ action: 'unchanged', previous });
  const r = await c.send(calls.uploadScript(name, script, previous !== null), { multipart: true });
  if (r.status !== 200) c.fail(`MAAS refused the script ${name} (${r.status}): ${r.text}`, 'MaasRefused');
  return c.output({ action: previous === null ? 'created' : 'updated', previous });
}

/** Undo of the upload: delete the script this run created, or put back the text it replaced. */
export async function maasRestoreScript(endpoint: string, name: string, previous: string | null): Promise<StepOutput<string>> {
  const c = new Calls(endpoint);
  if (previous === null) {
    const r = await c.send(calls.deleteScript(name));
    return c.output(r.status === 404 ? 'already gone' : 'deleted');
  }
  const r = await c.send(calls.uploadScript(name, previous, true), { multipart: true });
  if (r.status !== 200) c.fail(`MAAS refused to restore the script ${name} (${r.status}): ${r.text}`, 'MaasRefused');
  return c.output('restored');
}

/** Abort the operation if the machine is still in it (cancel of commission or deploy). */
export async function maasAbortIfRunning(endpoint: string, sid: string, during: string, comment: string): Promise<StepOutput<string>> {
  const c = new Calls(endpoint);
  const m = machineSchema.parse(expectJson(await c.send(calls.readMachine(sid)), 'reading the machine'));
  if (m.status_name !== during) return c.output(`not ${during} (${m.status_name}): nothing to abort`);
  const r = await c.send(calls.abort(sid, comment));
  if (r.status !== 200) c.fail(`MAAS refused to abort ${during} on ${m.hostname} (${r.status}): ${r.text}`, 'MaasRefused');
  return c.output(`aborted ${during}: now ${JSON.parse(r.text).status_name as string}`);
}

export async function maasMarkBroken(endpoint: string, sid: string, comment: string): Promise<StepOutput<string>> {
  const c = new Calls(endpoint);
  const m = machineSchema.parse(expectJson(await c.send(calls.readMachine(sid)), 'reading the machine'));
  if (m.status_name === 'Broken') return c.output('already Broken');
  // MAAS lets only the owner mark a machine broken, and a Ready machine (commissioning that "passed"
  // with no layout, or a BMC revert) has none: allocate it first, which also takes it out of the pool.
  let allocated = '';
  if (m.status_name === 'Ready' && m.owner === null) {
    const a = await c.send(calls.allocate(sid, comment));
    if (a.status !== 200) return c.output(`NOT marked broken: MAAS refused to allocate ${m.hostname} first (${a.status} ${a.text.trim()}); allocate and mark it broken by hand`);
    allocated = ' (allocated first: it was Ready with no owner)';
  }
  const r = await c.send(calls.markBroken(sid, comment));
  // MAAS lets only the machine's owner mark it broken (403 otherwise, e.g. a Ready machine has no
  // owner): reported, not thrown, so the run's failure still names the real cause.
  if (r.status === 403) return c.output(`NOT marked broken: MAAS refused (403 ${r.text.trim()}); mark ${m.hostname} broken by hand as its owner`);
  if (r.status !== 200) c.fail(`MAAS refused to mark ${m.hostname} broken (${r.status}): ${r.text}`, 'MaasRefused');
  return c.output(`Broken${allocated}`);
}

/** Read-only: the tail of the installation (curtin) log. */
export async function maasInstallLog(endpoint: string, sid: string): Promise<StepOutput<string>> {
  const c = new Calls(endpoint);
  const r = await c.send({ method: 'GET', path: `nodes/${sid}/results/current-installation/?op=download` });
  return c.output(r.status === 200 ? r.text.slice(-3000) : `(no installation log: ${r.status})`);
}
