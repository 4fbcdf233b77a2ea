import { mkdirSync, readFileSync } from 'node:fs';
import type { InventoryHost } from '../activities/ssh/inventory';
import { hostsWithManifest } from './host-folder';
import { hostStatus, startNamespace, startSshd, stopHost, type HostStatus, type Log } from './hosts';
import { addInventoryHosts, removeInventoryHosts } from './inventory-file';
import { ensureOperatorKey, hostKeyPath } from './keys';
import { readManifest, updateManifest } from './manifest';
import { withLabLock } from './lock';
import { labDir } from './paths';
import { requireRoot } from './require-root';
import { somethingListens } from './sshd-ready';
import { scenarioContext } from './scenario-context';
import { getScenario, scenarios as registry } from './scenarios';
import type { CheckReport, LabScenario } from './scenarios/types';

// The lab's entry points: what `runbook lab up/down/status/check` and the tests call.

export type { HostStatus, Log } from './hosts';
export { startSshd, stopSshd } from './hosts';
export { execInHost, spawnInHost } from './exec';

const quiet: Log = () => undefined;
const LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export interface LabUpOptions {
  /** Scenarios to bring up; default ['base']. Hosts of other scenarios already up are left alone. */
  scenarios?: string[];
  /** Build scenarios at the incident's real size. */
  fullSize?: boolean;
  /** Stop and rebuild the requested scenarios' hosts even when they are up. */
  rebuild?: boolean;
  log?: Log;
}

export interface LabUpResult {
  hosts: HostStatus[];
  inventory: string;
  elapsedMs: number;
}

/** Host names and addresses must not clash, within the request or with hosts already up. */
function checkHostLayout(requested: LabScenario[]): void {
  const byName = new Map<string, { address: string; scenario: string }>();
  const byAddress = new Map<string, string>();
  for (const s of requested) {
    for (const h of s.hosts) {
      if (!LOOPBACK.test(h.address)) throw new Error(`scenario ${s.name}: host ${h.name} has address ${h.address}; lab hosts live on 127.0.0.0/8 (loopback)`);
      const other = byName.get(h.name);
      if (other) throw new Error(`host ${h.name} appears in scenarios ${other.scenario} and ${s.name}; give one of them another name`);
      const sameAddress = byAddress.get(h.address);
      if (sameAddress) throw new Error(`hosts ${sameAddress} and ${h.name} (scenario ${s.name}) both want ${h.address}; give one another address`);
      byName.set(h.name, { address: h.address, scenario: s.name });
      byAddress.set(h.address, h.name);
    }
  }
  for (const name of hostsWithManifest()) {
    const up = hostStatus(name);
    if (!up || !up.running) continue;
    const wanted = byName.get(name);
    if (wanted && wanted.scenario !== up.scenario) throw new Error(`host ${name} is up for scenario ${up.scenario}, not ${wanted.scenario}; run \`runbook lab down\` first`);
    const owner = byAddress.get(up.address);
    if (owner && owner !== name) throw new Error(`address ${up.address} is taken by running lab host ${name}; run \`runbook lab down\` first`);
  }
}

/** A host as workers see it: pinned host key, the operator key by file, root on port 22. */
function inventoryEntry(host: string, address: string, scenario: string): InventoryHost {
  return {
    address,
    port: 22,
    user: 'root',
    key: { file: ensureOperatorKey() },
    hostKey: readFileSync(`${hostKeyPath(host)}.pub`, 'utf8').trim(),
    tags: ['lab', scenario],
  };
}

async function teardownIfRunning(host: string, log: Log): Promise<void> {
  const manifest = readManifest(host);
  const status = hostStatus(host);
  if (!manifest || !status?.running) return;
  const scenario = registry[manifest.scenario];
  if (!scenario) {
    log(`${host}: scenario ${manifest.scenario} is no longer registered; skipping its teardown`);
    return;
  }
  if (scenario.teardown) {
    log(`${host}: tearing down scenario ${scenario.name}`);
    await scenario.teardown(scenarioContext(host, log));
  }
}

/** Teardown, then stop. A teardown failure is reported but does not keep the host running. */
async function stopLabHost(host: string, log: Log): Promise<void> {
  let teardownError: Error | null = null;
  try {
    await teardownIfRunning(host, log);
  } catch (err) {
    teardownError = err as Error;
  }
  await stopHost(host, log);
  if (teardownError) throw new Error(`the teardown of lab host ${host} failed (the host was stopped anyway): ${teardownError.message}`);
}

async function startLabHost(host: { name: string; address: string }, scenario: LabScenario, fullSize: boolean, log: Log): Promise<void> {
  // Another lab folder's hosts (RUNBOOK_LAB_DIR) use the same addresses and are invisible from here.
  if (await somethingListens(host.address, 22)) {
    throw new Error(
      `something already listens on ${host.address}:22, probably a lab up from another lab folder (RUNBOOK_LAB_DIR); run \`runbook lab down\` there, or find it with \`ss -ltnp 'sport = :22'\``,
    );
  }
  await startNamespace(host.name, host.address, scenario.name, fullSize, log);
  await startSshd(host.name, log);
}

/**
 * Bring the lab up: start each requested scenario's hosts that are not already up (namespace, sshd),
 * build them, and merge them into the inventory. Idempotent: hosts already up and built are kept
 * (a stopped sshd is started again) unless rebuild is set. Throws, after writing the inventory for
 * the hosts that did come up, when any host failed.
 */
export async function labUp(opts: LabUpOptions = {}): Promise<LabUpResult> {
  requireRoot();
  const log = opts.log ?? quiet;
  const fullSize = opts.fullSize ?? false;
  const requested = [...new Set(opts.scenarios ?? ['base'])].map(getScenario);
  const began = Date.now();
  mkdirSync(labDir(), { recursive: true });
  return withLabLock(log, async () => {
    checkHostLayout(requested);
    ensureOperatorKey();
    const failures: string[] = [];
    const toBuild: Array<{ scenario: LabScenario; host: { name: string; address: string } }> = [];

    // Start (or keep) every host in parallel: namespaces and sshds are independent of each other.
    await Promise.all(
      requested.flatMap((scenario) =>
        scenario.hosts.map(async (host) => {
          try {
            const status = hostStatus(host.name);
            const keep = status?.running && status.built && status.address === host.address && !opts.rebuild;
            if (keep) {
              if (!status.sshdRunning) {
                log(`${host.name}: up, but its sshd was stopped; starting it`);
                await startSshd(host.name, log);
              } else {
                log(`${host.name}: already up (sshd pid ${status.sshdPid})`);
              }
              return;
            }
            if (status) await stopLabHost(host.name, log);
            await startLabHost(host, scenario, fullSize, log);
            toBuild.push({ scenario, host });
          } catch (err) {
            failures.push(`${host.name}: ${(err as Error).message}`);
          }
        }),
      ),
    );

    // Builds run one host at a time, in each scenario's host order, so a scenario may rely on it.
    for (const scenario of requested) {
      for (const host of scenario.hosts) {
        if (!toBuild.some((b) => b.host.name === host.name)) continue;
        const t0 = Date.now();
        try {
          await scenario.build(scenarioContext(host.name, log), { fullSize });
          updateManifest(host.name, (m) => {
            m.built = true;
          });
          log(`${host.name}: scenario ${scenario.name} built in ${Date.now() - t0} ms`);
        } catch (err) {
          failures.push(
            `${host.name}: scenario ${scenario.name} failed to build: ${(err as Error).message} ` +
              `(the host stays up for inspection; \`runbook lab up --rebuild\` retries, \`runbook lab down\` removes it)`,
          );
        }
      }
    }

    const entries: Record<string, InventoryHost> = {};
    for (const scenario of requested) {
      for (const host of scenario.hosts) {
        const status = hostStatus(host.name);
        if (status?.running && status.built && status.sshdRunning) entries[host.name] = inventoryEntry(host.name, host.address, scenario.name);
      }
    }
    const inventory = addInventoryHosts(entries);
    if (failures.length) throw new Error(`lab up failed for ${failures.length} host(s):\n  ${failures.join('\n  ')}`);
    const elapsedMs = Date.now() - began;
    log(`lab up: ${Object.keys(entries).join(', ')} ready in ${elapsedMs} ms; inventory ${inventory}`);
    return { hosts: labStatus(), inventory, elapsedMs };
  });
}

/**
 * Stop exactly what lab up started, host by host from the manifests: scenario teardown, recorded
 * processes, sshd, the namespace, loop devices by backing file, recorded paths. Then remove the
 * hosts from the inventory. Keys stay, so the next lab up pins the same host keys.
 */
export async function labDown(opts: { log?: Log } = {}): Promise<void> {
  requireRoot();
  const log = opts.log ?? quiet;
  mkdirSync(labDir(), { recursive: true });
  await withLabLock(log, async () => {
    const hosts = hostsWithManifest();
    const results = await Promise.allSettled(hosts.map((h) => stopLabHost(h, log)));
    const stopped = hosts.filter((h) => readManifest(h) === null);
    removeInventoryHosts(stopped);
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    if (failures.length) throw new Error(`lab down could not stop everything:\n  ${failures.join('\n  ')}`);
    log(hosts.length ? `lab down: stopped ${hosts.join(', ')}` : 'lab down: nothing was up');
  });
}

/** Every host lab up started (from the manifests), with whether its namespace and sshd run. */
export function labStatus(): HostStatus[] {
  requireRoot();
  return hostsWithManifest()
    .map(hostStatus)
    .filter((s): s is HostStatus => s !== null);
}

export interface LabCheckReport {
  scenario: string;
  ok: boolean;
  /** The scenario's own check, per host. */
  hosts: Record<string, CheckReport>;
}

/** Run a scenario's independent check on each of its hosts (via nsenter, so it works without sshd). */
export async function labCheck(name: string, opts: { log?: Log } = {}): Promise<LabCheckReport> {
  requireRoot();
  const log = opts.log ?? quiet;
  const scenario = getScenario(name);
  if (!scenario.check) throw new Error(`scenario ${name} has no check`);
  const hosts: Record<string, CheckReport> = {};
  for (const host of scenario.hosts) {
    const manifest = readManifest(host.name);
    const status = hostStatus(host.name);
    if (!manifest || !status?.running || manifest.scenario !== name) {
      throw new Error(`lab host ${host.name} of scenario ${name} is not up; run \`runbook lab up --scenario ${name}\` first`);
    }
    hosts[host.name] = await scenario.check(scenarioContext(host.name, log), { fullSize: manifest.fullSize });
  }
  return { scenario: name, ok: Object.values(hosts).every((r) => r.ok), hosts };
}

/** Stop and rebuild just this scenario's hosts: a freshly broken host for the next test. */
export async function rebuildScenario(name: string, opts: { fullSize?: boolean; log?: Log } = {}): Promise<LabUpResult> {
  return labUp({ scenarios: [name], rebuild: true, fullSize: opts.fullSize, log: opts.log });
}
