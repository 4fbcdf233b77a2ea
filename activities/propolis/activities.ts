import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { StepOutput } from '../../common/step';
import { addressOf, Calls, instanceSpecGetSchema, migrationsSchema, publishedStateSchema, unexpected, type PublishedState } from './api';
import { PropolisUnreachable } from './http';
import { parseGuestSerial, type GuestReport } from './serial';

// liveMigrate's activities against propolis-server. Each is idempotent: it looks before it acts
// (an instance this run already created is not created again; a state already reached is not asked
// for again), so a retry after a worker crash never applies a change twice.

function ctx(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ServerInspection {
  host: string;
  address: string;
  port: number;
  /** The server speaks API 5.0.0 (it did not refuse our api-version header). */
  apiOk: boolean;
  detail: string;
  instance: null | {
    id: string;
    name: string;
    state: string;
    /** The boot disk backend's VCR (gen, targets), when the spec is known. */
    disk: { backend: string; gen: number; targets: string[]; volumeId: string } | null;
    cpus: number | null;
    memoryMiB: number | null;
  };
}

/** GET /instance/spec: is the server there, does it speak 5.0.0, what instance (if any) does it hold. */
export async function propolisInspectServer(host: string, port: number, backend: string): Promise<StepOutput<ServerInspection>> {
  const calls = new Calls(host, port);
  const address = addressOf(host);
  let r;
  try {
    r = await calls.call('GET', '/instance/spec');
  } catch (err) {
    if (err instanceof PropolisUnreachable) throw new Error(`${host}: propolis-server is not reachable on ${address}:${port} (${err.message}); start it or check the inventory`);
    throw err;
  }
  const base = { host, address, port };
  if (r.status === 400) return { value: { ...base, apiOk: false, detail: `refuses API 5.0.0: ${(r.body as { message?: string })?.message ?? r.text}`, instance: null }, commands: calls.records };
  if (r.status === 424) return { value: { ...base, apiOk: true, detail: 'API 5.0.0; no instance', instance: null }, commands: calls.records };
  if (r.status !== 200) throw unexpected(host, 'GET /instance/spec', r);
  const s = instanceSpecGetSchema.parse(r.body);
  let disk: NonNullable<ServerInspection['instance']>['disk'] = null;
  let cpus: number | null = null;
  let memoryMiB: number | null = null;
  if (s.spec.type === 'Present') {
    cpus = s.spec.value.board.cpus;
    memoryMiB = s.spec.value.board.memory_mb;
    const c = s.spec.value.components[backend];
    if (c?.type === 'crucible_storage_backend') {
      const vcr = JSON.parse((c.component as { request_json: string }).request_json) as { id: string; sub_volumes: Array<{ gen: number; opts: { target: string[] } }> };
      disk = { backend, gen: vcr.sub_volumes[0].gen, targets: vcr.sub_volumes[0].opts.target, volumeId: vcr.id };
    }
  }
  return {
    value: {
      ...base,
      apiOk: true,
      detail: `API 5.0.0; instance ${s.properties.name} (${s.properties.id}) ${s.state}`,
      instance: { id: s.properties.id, name: s.properties.name, state: s.state, disk, cpus, memoryMiB },
    },
    commands: calls.records,
  };
}

/**
 * PUT /instance, unless the server already holds the instance with this id (a retry after a crash).
 * Another instance there is a refusal (409), not something to retry.
 */
export async function propolisEnsure(host: string, port: number, request: { properties: { id: string } }): Promise<StepOutput<{ created: boolean; state: string }>> {
  const calls = new Calls(host, port);
  const current = await calls.call('GET', '/instance');
  if (current.status === 200) {
    const inst = (current.body as { instance: { properties: { id: string; name: string }; state: string } }).instance;
    if (inst.properties.id === request.properties.id) return { value: { created: false, state: inst.state }, commands: calls.records };
    if (inst.state !== 'Destroyed') throw ApplicationFailure.nonRetryable(`${host} already holds instance ${inst.properties.name} (${inst.properties.id}, ${inst.state}); stop it first`, 'ServerBusy');
  } else if (current.status !== 424) throw unexpected(host, 'GET /instance', current);
  const r = await calls.call('PUT', '/instance', request);
  if (r.status === 201) return { value: { created: true, state: 'Creating' }, commands: calls.records };
  if (r.status === 400) throw ApplicationFailure.nonRetryable(unexpected(host, 'PUT /instance', r).message, 'BadSpec');
  throw unexpected(host, 'PUT /instance', r);
}

/** PUT /instance/state; 204 and "already halted" for a Stop are both done. 424 (no instance) is done for a Stop too. */
export async function propolisSetState(host: string, port: number, requested: 'Run' | 'Stop', instanceId: string | null): Promise<StepOutput<{ status: number; state: string | null }>> {
  const calls = new Calls(host, port);
  const current = await calls.call('GET', '/instance');
  if (current.status === 424) {
    if (requested === 'Stop') return { value: { status: 424, state: null }, commands: calls.records };
    throw unexpected(host, 'GET /instance', current);
  }
  const inst = (current.body as { instance: { properties: { id: string }; state: string } }).instance;
  if (instanceId && inst.properties.id !== instanceId) {
    if (requested === 'Stop') return { value: { status: 200, state: `another instance (${inst.properties.id}) ${inst.state}; left alone` }, commands: calls.records };
    throw ApplicationFailure.nonRetryable(`${host} holds instance ${inst.properties.id}, not ${instanceId}`, 'ServerBusy');
  }
  if (requested === 'Stop' && ['Stopping', 'Stopped', 'Destroyed'].includes(inst.state)) return { value: { status: 200, state: inst.state }, commands: calls.records };
  // Asked already (a retry after a crash): a Run that took is not sent again.
  if (requested === 'Run' && ['Starting', 'Running'].includes(inst.state)) return { value: { status: 200, state: inst.state }, commands: calls.records };
  const r = await calls.call('PUT', '/instance/state', requested);
  if (r.status !== 204) throw unexpected(host, `PUT /instance/state "${requested}"`, r);
  return { value: { status: 204, state: inst.state }, commands: calls.records };
}

/**
 * Follow state-monitor (gen by gen) until the state is one of `want`; one of `fail` ends it with an
 * error. Heartbeats name the state. The last published state is the value.
 */
export async function propolisWaitForState(host: string, port: number, want: string[], fail: string[], timeoutMs: number): Promise<StepOutput<PublishedState>> {
  const calls = new Calls(host, port);
  const deadline = Date.now() + timeoutMs;
  let gen = 0;
  let last: PublishedState | null = null;
  while (Date.now() < deadline) {
    // Long polls of at most a second, so the activity heartbeats at least that often.
    const r = await calls.call('GET', '/instance/state-monitor', { gen }, { timeoutMs: Math.max(200, Math.min(1000, deadline - Date.now())), record: gen === 0 }).catch((err: unknown) => {
      if (err instanceof PropolisUnreachable && /did not answer/.test(err.message)) return null; // no newer gen yet
      throw err;
    });
    if (r) {
      if (r.status === 410)
        throw ApplicationFailure.nonRetryable(
          `${host}: the instance is gone (${last ? `last ${last.state} at gen ${last.gen}` : 'state-monitor 410'}) before reaching ${want.join('/')}`,
          'InstanceGone',
        );
      if (r.status !== 200) throw unexpected(host, 'GET /instance/state-monitor', r);
      last = publishedStateSchema.parse(r.body);
      ctx()?.heartbeat({ host, state: last.state, gen: last.gen });
      if (want.includes(last.state)) {
        calls.records.push({
          host,
          command: `state-monitor: ${last.state} at gen ${last.gen}`,
          exitCode: 200,
          startedAt: new Date().toISOString(),
          durationMs: 0,
          stdoutTail: JSON.stringify(last),
          stderrTail: '',
          truncated: false,
        });
        return { value: last, commands: calls.records };
      }
      // What the server reports is the answer: asking again would only wait again.
      if (fail.includes(last.state)) throw ApplicationFailure.nonRetryable(`${host}: the instance is ${last.state} (gen ${last.gen}), not ${want.join('/')}`, 'InstanceState');
      gen = last.gen + 1;
    }
    ctx()?.heartbeat({ host, state: last?.state ?? null });
    ctx()?.cancellationSignal.throwIfAborted();
  }
  throw ApplicationFailure.nonRetryable(`${host}: the instance did not reach ${want.join('/')} within ${timeoutMs} ms (it is ${last?.state ?? 'unknown'})`, 'InstanceStateTimeout');
}

/**
 * The guest's own account, from COM1: booted from what, heartbeats, journal and image checks;
 * `advancing` from two reads. With `awaitLine`, first wait (bounded) until the console shows it
 * (a check the guest runs in the background).
 */
export async function propolisGuestReport(
  host: string,
  port: number,
  watchMs: number,
  awaitLine: string | null = null,
): Promise<StepOutput<GuestReport & { advancing: boolean; state: string | null }>> {
  const calls = new Calls(host, port);
  let text = '';
  const read = async () => {
    const r = await calls.call('GET', '/instance/serial/history?from_start=0', undefined, { record: false });
    if (r.status !== 200) throw unexpected(host, 'GET /instance/serial/history', r);
    text = Buffer.from((r.body as { data: number[] }).data).toString('utf8');
    return parseGuestSerial(text);
  };
  let first = await read();
  const deadline = Date.now() + 30_000;
  while (awaitLine && !text.includes(awaitLine) && Date.now() < deadline) {
    await sleep(200);
    first = await read();
  }
  await sleep(watchMs);
  const second = await read();
  const st = await calls.call('GET', '/instance');
  const state = st.status === 200 ? (st.body as { instance: { state: string } }).instance.state : null;
  calls.records.push({
    host,
    command: `GET /instance/serial/history twice, ${watchMs} ms apart`,
    exitCode: 200,
    startedAt: new Date().toISOString(),
    durationMs: watchMs,
    stdoutTail: `heartbeat ${first.heartbeats.last} -> ${second.heartbeats.last}; ${second.journalChecks.slice(-1)[0] ?? ''}`,
    stderrTail: '',
    truncated: false,
  });
  return { value: { ...second, advancing: second.heartbeats.last > first.heartbeats.last, state }, commands: calls.records };
}

export interface MigrationFollow {
  outcome: 'finished' | 'failed' | 'timeout';
  /** Each side's phases, with when each was first seen (ms since the follow began). */
  source: Array<{ phase: string; atMs: number }>;
  destination: Array<{ phase: string; atMs: number }>;
  /** The furthest phase the destination reached before a failure. */
  reached: string | null;
  detail: string;
  totalMs: number;
}

/** Poll both sides' migration status (as propolis-cli migrate does, but every 100 ms), heartbeating the phases. */
export async function propolisFollowMigration(source: string, destination: string, port: number, migrationId: string, timeoutMs: number): Promise<StepOutput<MigrationFollow>> {
  const src = new Calls(source, port);
  const dst = new Calls(destination, port);
  const t0 = Date.now();
  const seen = { source: [] as MigrationFollow['source'], destination: [] as MigrationFollow['destination'] };
  const note = (side: 'source' | 'destination', phase: string | null) => {
    if (phase && seen[side][seen[side].length - 1]?.phase !== phase) seen[side].push({ phase, atMs: Date.now() - t0 });
  };
  const end = (outcome: MigrationFollow['outcome'], detail: string): StepOutput<MigrationFollow> => {
    const reached = seen.destination.filter((p) => p.phase !== 'Error').pop()?.phase ?? null;
    src.records.push({
      host: source,
      command: `follow migration ${migrationId}: GET /instance/migration-status on ${source} and ${destination} every 100 ms`,
      exitCode: outcome === 'finished' ? 0 : 1,
      startedAt: new Date(t0).toISOString(),
      durationMs: Date.now() - t0,
      stdoutTail: `source ${seen.source.map((p) => `${p.phase}@${p.atMs}`).join(' ')}; destination ${seen.destination.map((p) => `${p.phase}@${p.atMs}`).join(' ')}`,
      stderrTail: outcome === 'finished' ? '' : detail,
      truncated: false,
    });
    return { value: { outcome, ...seen, reached, detail, totalMs: Date.now() - t0 }, commands: [...src.records, ...dst.records] };
  };
  let dstGoneSince: number | null = null;
  while (Date.now() - t0 < timeoutMs) {
    const [a, b] = await Promise.all([
      src.call('GET', '/instance/migration-status', undefined, { record: false }).catch(() => null),
      dst.call('GET', '/instance/migration-status', undefined, { record: false }).catch(() => null),
    ]);
    const sOut = a?.status === 200 ? migrationsSchema.parse(a.body).migration_out : null;
    const dIn = b?.status === 200 ? migrationsSchema.parse(b.body).migration_in : null;
    const sMine = sOut && sOut.id === migrationId ? sOut.state : null;
    const dMine = dIn && dIn.id === migrationId ? dIn.state : null;
    note('source', sMine);
    note('destination', dMine);
    ctx()?.heartbeat({ migrationId, source: sMine, destination: dMine, elapsedMs: Date.now() - t0 });
    if (sMine === 'Finish' && dMine === 'Finish') return end('finished', 'both sides report Finish');
    if (sMine === 'Error' || dMine === 'Error') return end('failed', `migration reports Error on the ${sMine === 'Error' ? 'source' : 'destination'} (source ${sMine}, destination ${dMine})`);
    // A destination that no longer knows the migration (its server restarted: 424) never will.
    if (!b || b.status === 424 || (dIn && dIn.id !== migrationId)) {
      dstGoneSince ??= Date.now();
      if (Date.now() - dstGoneSince > 1500) return end('failed', `the destination ${destination} no longer has the migrating instance (${b ? `HTTP ${b.status}` : 'unreachable'})`);
    } else dstGoneSince = null;
    ctx()?.cancellationSignal.throwIfAborted();
    await sleep(100);
  }
  return end('timeout', `no end of migration ${migrationId} within ${timeoutMs} ms`);
}

/** GET /instance/disk/{backend}/status: does this server's upstairs hold the volume active? */
export async function propolisDiskActive(host: string, port: number, backend: string): Promise<StepOutput<{ active: boolean | null; detail: string }>> {
  const calls = new Calls(host, port);
  const r = await calls.call('GET', `/instance/disk/${encodeURIComponent(backend)}/status`);
  if (r.status === 424) return { value: { active: null, detail: 'no instance' }, commands: calls.records };
  if (r.status !== 200) return { value: { active: null, detail: unexpected(host, 'disk status', r).message }, commands: calls.records };
  const active = (r.body as { active: boolean }).active;
  return { value: { active, detail: active ? 'holds the volume active' : 'does not hold the volume' }, commands: calls.records };
}

/**
 * A migration cannot be cancelled (propolis has no such call; Oxide's saga gives it no undo): wait
 * for it to end. Failed: the destination's instance is torn down and the source must be Running
 * again. Finished: the VM runs on the destination; nothing to undo.
 */
export async function propolisSettleMigration(
  source: string,
  destination: string,
  port: number,
  migrationId: string,
  destinationId: string,
  timeoutMs: number,
): Promise<StepOutput<{ outcome: string; detail: string }>> {
  const follow = await propolisFollowMigration(source, destination, port, migrationId, timeoutMs);
  const commands = [...follow.commands];
  if (follow.value.outcome === 'finished') {
    // Settled once the destination runs the VM (or says it will not).
    const dst = await propolisWaitForState(destination, port, ['Running'], ['Failed', 'Destroyed'], 30_000).catch((err: unknown) => err as Error);
    if (dst instanceof Error) return { value: { outcome: 'finished', detail: `the migration finished, but the destination is not running the VM: ${dst.message}` }, commands };
    commands.push(...dst.commands);
    return { value: { outcome: 'finished', detail: `the migration finished: the VM runs on the destination (gen ${dst.value.gen})` }, commands };
  }
  const stop = await propolisSetState(destination, port, 'Stop', destinationId);
  commands.push(...stop.commands);
  const src = await propolisWaitForState(source, port, ['Running'], ['Destroyed', 'Failed'], 30_000);
  commands.push(...src.commands);
  return { value: { outcome: follow.value.outcome, detail: `${follow.value.detail}; destination torn down, source ${src.value.state} at gen ${src.value.gen}` }, commands };
}
