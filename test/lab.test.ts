import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'ssh2';
import { loadInventory } from '../activities/ssh/inventory';
import { execInHost, labCheck, labDown, labStatus, labUp, rebuildScenario, spawnInHost, startSshd, stopSshd } from '../lab/lab';
import { listLoopDevices } from '../lab/loop-devices';
import { readManifest, type HostManifest } from '../lab/manifest';
import { inventoryPath, operatorKeyPath } from '../lab/paths';
import { isRunning, processRef, type ProcessRef } from '../lab/processes';
import { baseScenario } from '../lab/scenarios/base';
import { scenarios } from '../lab/scenarios';
import type { LabScenario } from '../lab/scenarios/types';

// The lab core against real namespaces, a real sshd and the system ssh client; no mocks.
//
// The test runs in its own RUNBOOK_LAB_DIR, so a lab someone runs from .lab is not touched. Lab
// addresses are machine-wide, though, so it brings up base's hosts (node1, node2, same build) on
// addresses no lab folder's scenarios use, plus a host whose scenario leaves behind everything lab
// down must clean: a loop device with a mounted ext4, a service, a process outside the namespace
// and a path outside the lab folder.

const TEST_BASE = 'lab-test-base';
const LEFTOVERS = 'lab-test-leftovers';
const BROKEN = 'lab-test-broken';
const CLASH = 'lab-test-clash';
const machineInit = readFileSync('/proc/1/comm', 'utf8').trim();
const lines: string[] = [];
const t0 = Date.now();
const log = (line: string) => lines.push(`[${Date.now() - t0} ms] ${line}`);

let labRoot: string;
let globalPath: string;
let teardowns = 0;
let previousLabDir: string | undefined;

const testBase: LabScenario = {
  ...baseScenario,
  name: TEST_BASE,
  hosts: [
    { name: 'node1', address: '127.0.0.101' },
    { name: 'node2', address: '127.0.0.102' },
  ],
};

const leftovers: LabScenario = {
  name: LEFTOVERS,
  description: 'a host whose build leaves a loop device, processes and an outside path for lab down to clean',
  hosts: [{ name: 'labtest', address: '127.0.0.103' }],
  async build(ctx) {
    const image = path.join(ctx.hostDir, 'disk.img');
    const made = await ctx.exec(
      `set -e; truncate -s 16M ${image}; dev=$(losetup -f --show ${image}); mkfs.ext4 -q "$dev"; mkdir -p /mnt/data-${ctx.host}; ` +
        `mount "$dev" /mnt/data-${ctx.host}; echo hello > /mnt/data-${ctx.host}/file; echo "$dev"`,
    );
    if (made.code !== 0) throw new Error(`disk setup failed: ${made.stderr}`);
    ctx.recordLoopBackingFile(image);
    ctx.recordPath(`/mnt/data-${ctx.host}`);
    await ctx.spawn('exec sleep 1000');
    // A process outside the namespace, as an emulator run by the scenario would be.
    const outside = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
    outside.unref();
    ctx.recordPid(outside.pid as number);
    mkdirSync(globalPath, { recursive: true });
    writeFileSync(path.join(globalPath, 'state'), 'x');
    ctx.recordPath(globalPath);
  },
  async check(ctx) {
    const r = await ctx.exec('test -f /root/healthy');
    return { ok: r.code === 0, checks: [{ name: 'healthy marker', ok: r.code === 0, detail: r.code === 0 ? 'present' : '/root/healthy is missing' }] };
  },
  async teardown(ctx) {
    teardowns++;
    await ctx.exec(`umount /mnt/data-${ctx.host}`);
  },
};

function run(cmd: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 255) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The system ssh client, pinned to the inventory's host keys: nothing but the operator key and known_hosts. */
async function ssh(host: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const inventory = loadInventory(inventoryPath());
  const entry = inventory.hosts[host];
  if (!entry) throw new Error(`${host} is not in the inventory`);
  const knownHosts = path.join(labRoot, 'known_hosts');
  writeFileSync(
    knownHosts,
    Object.values(inventory.hosts)
      .map((h) => `${h.address} ${h.hostKey}\n`)
      .join(''),
  );
  const key = 'file' in entry.key ? entry.key.file : '';
  return run('ssh', [
    '-F',
    '/dev/null',
    '-i',
    key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=5',
    '-p',
    String(entry.port),
    `${entry.user}@${entry.address}`,
    command,
  ]);
}

function manifests(): HostManifest[] {
  return ['node1', 'node2', 'labtest', 'broken'].map((h) => readManifest(h)).filter((m): m is HostManifest => m !== null);
}

function recordedProcesses(ms: HostManifest[]): ProcessRef[] {
  return ms.flatMap((m) => [m.unshare, m.init, ...(m.sshd ? [m.sshd] : []), ...m.pids]);
}

beforeAll(() => {
  previousLabDir = process.env.RUNBOOK_LAB_DIR;
  labRoot = mkdtempSync(path.join(os.tmpdir(), 'runbook-lab-test-'));
  process.env.RUNBOOK_LAB_DIR = labRoot;
  globalPath = mkdtempSync(path.join(os.tmpdir(), 'runbook-lab-test-outside-'));
  scenarios[TEST_BASE] = testBase;
  scenarios[LEFTOVERS] = leftovers;
});

afterAll(async () => {
  if (process.env.LAB_TEST_VERBOSE) console.log(lines.join('\n'));
  try {
    await labDown();
  } finally {
    delete scenarios[TEST_BASE];
    delete scenarios[LEFTOVERS];
    delete scenarios[BROKEN];
    delete scenarios[CLASH];
    if (previousLabDir === undefined) delete process.env.RUNBOOK_LAB_DIR;
    else process.env.RUNBOOK_LAB_DIR = previousLabDir;
    rmSync(labRoot, { recursive: true, force: true });
    rmSync(globalPath, { recursive: true, force: true });
  }
});

test('base is node1 and node2 on 127.0.0.11/12, the default scenario', () => {
  expect(scenarios.base.hosts).toEqual([
    { name: 'node1', address: '127.0.0.11' },
    { name: 'node2', address: '127.0.0.12' },
  ]);
});

test('lab up starts real sshds, each in its own namespace, reachable with the inventory', async () => {
  const t0 = Date.now();
  const result = await labUp({ scenarios: [TEST_BASE], log });
  console.log(`labUp of two base hosts (cold): ${Date.now() - t0} ms`);
  expect(result.hosts.map((h) => [h.name, h.running, h.sshdRunning])).toEqual([
    ['node1', true, true],
    ['node2', true, true],
  ]);

  const inventory = loadInventory(inventoryPath());
  expect(inventory.hosts.node1).toEqual({
    address: '127.0.0.101',
    port: 22,
    user: 'root',
    key: { file: operatorKeyPath() },
    hostKey: readFileSync(path.join(labRoot, 'hosts/node1/ssh/ssh_host_ed25519_key.pub'), 'utf8').trim(),
    tags: ['lab', TEST_BASE],
  });
  expect(inventory.hosts.node1.site).toBeUndefined();
  expect(inventory.hosts.node1.hostKey).not.toBe(inventory.hosts.node2.hostKey);

  for (const host of ['node1', 'node2']) {
    const r = await ssh(host, 'hostname; cat /proc/1/comm; echo "$HOME"; ls -A /root; echo PATH=$PATH');
    expect(r.stderr).toBe('');
    const [name, init, home, ...rest] = r.stdout.trim().split('\n');
    expect(name).toBe(host);
    expect(init).not.toBe(machineInit); // its own PID namespace
    expect(home).toBe('/root');
    expect(rest).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']); // an empty home of its own
  }
  const ids = await Promise.all(['node1', 'node2'].map((h) => ssh(h, 'readlink /proc/1/ns/mnt /proc/1/ns/pid')));
  expect(ids[0].stdout).not.toBe(ids[1].stdout);

  // A wrong host key is refused: pin node2's key for node1's address.
  const bad = path.join(labRoot, 'bad_known_hosts');
  writeFileSync(bad, `127.0.0.101 ${inventory.hosts.node2.hostKey}\n`);
  const refused = await run('ssh', [
    '-F',
    '/dev/null',
    '-i',
    operatorKeyPath(),
    '-o',
    `UserKnownHostsFile=${bad}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    'root@127.0.0.101',
    'true',
  ]);
  expect(refused.code).toBe(255);
  expect(refused.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
});

/** One ssh2 connection (the library workers use), with the inventory's host key pinned. */
async function connect(host: string): Promise<Client> {
  const entry = loadInventory(inventoryPath()).hosts[host];
  const pinned = Buffer.from(entry.hostKey.split(' ')[1], 'base64');
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.on('ready', () => resolve()).on('error', reject);
    client.connect({
      host: entry.address,
      port: entry.port,
      username: entry.user,
      privateKey: readFileSync(operatorKeyPath()),
      hostVerifier: (key: Buffer) => key.equals(pinned),
    });
  });
  return client;
}

function execOver(client: Client, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(cmd, (err, stream) => {
      if (err) return reject(err);
      let out = '';
      stream.on('data', (b: Buffer) => (out += b.toString())).on('close', () => resolve(out));
      stream.stderr.resume();
    });
  });
}

test('20 commands in parallel over one ssh2 connection (MaxSessions), host key pinned', async () => {
  const client = await connect('node1');
  try {
    const t0 = Date.now();
    const outputs = await Promise.all(Array.from({ length: 20 }, (_, i) => execOver(client, `sleep 0.3; echo ${i}`)));
    expect(outputs.map((o) => o.trim())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(Date.now() - t0).toBeLessThan(3000); // in parallel, not one after another
  } finally {
    client.end();
  }
});

test('a second lab up is a no-op: same processes', async () => {
  const before = manifests();
  const t0 = Date.now();
  await labUp({ scenarios: [TEST_BASE], log });
  console.log(`labUp of two base hosts (already up): ${Date.now() - t0} ms`);
  expect(manifests()).toEqual(before);
});

test('execInHost enters the namespaces without ssh; input, exit code and timeout', async () => {
  const r = await execInHost('node2', 'hostname; cat; pwd; exit 3', { input: 'from stdin\n' });
  expect(r).toEqual({ code: 3, stdout: 'node2\nfrom stdin\n/root\n', stderr: '' });
  await expect(execInHost('node2', 'sleep 30', { timeoutMs: 300 })).rejects.toThrow(/ran longer than 300 ms/);
  await expect(execInHost('nosuchhost', 'true')).rejects.toThrow(/not running/);
});

test('stopSshd makes a host unreachable but keeps it running; startSshd brings it back', async () => {
  const before = readManifest('node1') as HostManifest;
  const service = await spawnInHost('node1', 'exec sleep 1000');
  expect(readManifest('node1')?.pids.map((p) => p.pid)).toContain(service);
  const open = await connect('node1');
  const dropped = new Promise<void>((resolve) => open.on('close', () => resolve()));
  const longCommand = new Promise<string>((resolve, reject) => {
    open.exec('echo started; sleep 60; echo finished', (err, stream) => {
      if (err) return reject(err);
      let out = '';
      stream.on('data', (b: Buffer) => {
        out += b.toString();
        if (out === 'started\n') running();
      });
      stream.on('close', () => resolve(out));
    });
  });
  let running: () => void = () => undefined;
  await new Promise<void>((resolve) => (running = resolve));

  await stopSshd('node1', log);
  await dropped; // a dead host drops its connections, not just its listener
  expect(await longCommand).toBe('started\n');
  expect(isRunning(processRef(service) as ProcessRef)).toBe(true); // services live on
  expect(isRunning(before.sshd as ProcessRef)).toBe(false);
  const down = await ssh('node1', 'true');
  expect(down.code).toBe(255);
  expect(down.stderr).toMatch(/Connection refused/);
  const status = labStatus().find((h) => h.name === 'node1');
  expect(status).toMatchObject({ running: true, sshdRunning: false, sshdPid: null });
  expect((await execInHost('node1', 'hostname')).stdout).toBe('node1\n'); // the host itself lives on
  expect(isRunning(before.init)).toBe(true);

  const again = await startSshd('node1', log);
  expect(again.pid).not.toBe(before.sshd?.pid);
  expect((await ssh('node1', 'hostname')).stdout).toBe('node1\n');
  expect(readManifest('node1')?.init).toEqual(before.init);

  // lab up brings back a stopped sshd, and keeps the rest.
  await stopSshd('node1', log);
  await labUp({ scenarios: [TEST_BASE], log });
  expect((await ssh('node1', 'hostname')).stdout).toBe('node1\n');
  expect(readManifest('node1')?.init).toEqual(before.init);
});

test('scenario state: build, check, rebuild with teardown', async () => {
  await labUp({ scenarios: [LEFTOVERS], log });
  const first = readManifest('labtest') as HostManifest;
  expect(first.loopBackingFiles).toEqual([path.join(labRoot, 'hosts/labtest/disk.img')]);
  expect(first.pids).toHaveLength(2);
  expect((await ssh('labtest', 'cat /mnt/data-labtest/file')).stdout).toBe('hello\n');
  expect(labStatus().map((h) => h.name)).toEqual(['labtest', 'node1', 'node2']);

  expect((await labCheck(LEFTOVERS)).ok).toBe(false);
  await execInHost('labtest', 'touch /root/healthy');
  const healthy = await labCheck(LEFTOVERS);
  expect(healthy).toEqual({ scenario: LEFTOVERS, ok: true, hosts: { labtest: { ok: true, checks: [{ name: 'healthy marker', ok: true, detail: 'present' }] } } });

  await rebuildScenario(LEFTOVERS, { log });
  expect(teardowns).toBe(1);
  recordedProcesses([first]).forEach((p) => expect(isRunning(p)).toBe(false));
  const second = readManifest('labtest') as HostManifest;
  expect(second.init).not.toEqual(first.init);
  expect((await labCheck(LEFTOVERS)).ok).toBe(false); // a fresh, broken host again
  expect(isRunning((readManifest('node1') as HostManifest).init)).toBe(true); // other scenarios untouched
});

test('a failed build is reported, kept out of the inventory, and retried by the next lab up', async () => {
  let builds = 0;
  scenarios[BROKEN] = {
    name: BROKEN,
    description: 'a scenario whose build fails',
    hosts: [{ name: 'broken', address: '127.0.0.104' }],
    async build() {
      builds++;
      throw new Error('boom');
    },
  };
  await expect(labUp({ scenarios: [BROKEN], log })).rejects.toThrow(/broken: scenario lab-test-broken failed to build: boom .*lab down/);
  expect(loadInventory(inventoryPath()).hosts.broken).toBeUndefined();
  expect(loadInventory(inventoryPath()).hosts.node1).toBeDefined();
  expect(labStatus().find((h) => h.name === 'broken')).toMatchObject({ running: true, built: false });
  const firstInit = readManifest('broken')?.init;
  await expect(labUp({ scenarios: [BROKEN], log })).rejects.toThrow(/boom/);
  expect(builds).toBe(2);
  expect(readManifest('broken')?.init).not.toEqual(firstInit);
  // Another lab folder's host on the same address cannot start; the error says why.
  scenarios[CLASH] = { ...testBase, name: CLASH, hosts: [{ name: 'clash', address: '127.0.0.101' }] };
  await expect(labUp({ scenarios: [CLASH] })).rejects.toThrow(/address 127.0.0.101 is taken by running lab host node1/);
  await expect(labUp({ scenarios: ['no-such-scenario'] })).rejects.toThrow(/no lab scenario "no-such-scenario"; known scenarios: base, /);
});

test('every lab operation refuses to run as non-root, saying why', () => {
  const out = execFileSync(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'env',
      'HOME=/tmp',
      process.execPath,
      '-r',
      'tsx/cjs',
      '-e',
      "const lab = require('./lab/lab'); for (const f of [() => lab.labStatus(), () => lab.labUp(), () => lab.labDown(), () => lab.labCheck('base'), () => lab.rebuildScenario('base')]) { try { const p = f(); if (p && p.catch) p.catch((e) => console.log(e.message)); } catch (e) { console.log(e.message) } }",
    ],
    { cwd: path.resolve(__dirname, '..'), encoding: 'utf8' },
  );
  expect(out.trim().split('\n')).toEqual(Array(5).fill('the lab needs root (it creates namespaces, loop devices and mounts); run as root'));
});

test('lab down stops exactly what lab up started', async () => {
  const before = manifests();
  const recorded = recordedProcesses(before);
  expect(recorded.length).toBeGreaterThanOrEqual(4 * 3 + 2);
  recorded.forEach((p) => expect(isRunning(p)).toBe(true));
  expect(listLoopDevices().filter((d) => d.backingFile.startsWith(labRoot))).toHaveLength(1);

  const t0 = Date.now();
  await labDown({ log });
  console.log(`labDown of four hosts: ${Date.now() - t0} ms`);

  recorded.forEach((p) => expect(isRunning(p)).toBe(false));
  expect(listLoopDevices().filter((d) => d.backingFile.startsWith(labRoot))).toEqual([]);
  expect(loadInventory(inventoryPath()).hosts).toEqual({});
  expect(existsSync(globalPath)).toBe(false);
  expect(existsSync('/mnt/data-labtest')).toBe(false);
  expect(manifests()).toEqual([]);
  expect(labStatus()).toEqual([]);
  expect(teardowns).toBe(2);
  // Host keys survive, so the next lab up pins the same keys.
  expect(existsSync(path.join(labRoot, 'hosts/node1/ssh/ssh_host_ed25519_key'))).toBe(true);
  await expect(ssh('node1', 'true')).rejects.toThrow(/not in the inventory/);
});
