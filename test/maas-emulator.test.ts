import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { applyLayout, validateLayout } from '../lab/emulators/maas/storage-custom';
import { apiKeyFile } from '../lab/scenarios/maas';
import type { MachineState } from '../lab/emulators/maas/state';
import { startMaasLab, type MaasLab } from './helpers/maas-lab';

// Golden tests of the MAAS region emulator against the shapes, status codes and messages in
// domain-apis.md §C and maas-runbook.md, on the real maas lab (proper-raptor's real disk and sshd).

const SCRIPT_NAME = '45-lab-layout';

function layoutScript(layout: unknown, opts: { name?: string; extra?: string; raw?: string } = {}): string {
  return `#!/bin/bash
# --- Start MAAS 1.0 script metadata ---
# name: ${opts.name ?? SCRIPT_NAME}
# title: lab layout
# script_type: commissioning
# hardware_type: node
# parallel: disabled
# timeout: 60
# tags: [noauto, lab]
# --- End MAAS 1.0 script metadata ---
${opts.extra ?? ''}
cat > "$MAAS_STORAGE_CONFIG_FILE" <<'LAYOUT'
${opts.raw ?? JSON.stringify(layout)}
LAYOUT
echo "layout written; disks: $(grep -c '"id": "sda"' "$MAAS_RESOURCES_FILE")"
`;
}

const GOOD = {
  layout: {
    sda: {
      type: 'disk',
      ptable: 'gpt',
      boot: true,
      partitions: [
        { name: 'sda1', fs: 'fat32', size: '512M', bootable: true },
        { name: 'sda2', fs: 'ext4', size: '1000M' },
        { name: 'sda3', size: '800M' },
        { name: 'sda4', size: '800M' },
        { name: 'sda5', size: '800M' },
      ],
    },
  },
  mounts: { '/': { device: 'sda2', options: 'noatime' }, '/boot/efi': { device: 'sda1' } },
};

describe('MAAS region emulator (golden)', () => {
  let lab: MaasLab;
  const sid = () => lab.systemId;
  const machine = () => lab.json('GET', `machines/${sid()}/`);
  const events = async () => (await lab.json('GET', `events/?op=query&id=${sid()}&limit=50`)).events.map((e: any) => e.description) as string[];
  async function upload(script: string): Promise<void> {
    const existing = await lab.call('GET', `scripts/${SCRIPT_NAME}`);
    const r = existing.status === 200 ? await lab.call('PUT', `scripts/${SCRIPT_NAME}`, { script }, { multipart: true }) : await lab.call('POST', 'scripts/', { script }, { multipart: true });
    expect(r.status).toBe(200);
  }
  async function toReady(): Promise<void> {
    const m = await machine();
    if (m.status_name === 'Ready') return;
    if (m.status_name === 'Failed commissioning' || m.status_name === 'New') {
      expect((await lab.call('POST', `machines/${sid()}/`, { op: 'commission', commissioning_scripts: 'none', testing_scripts: 'none', skip_storage: '1' })).status).toBe(200);
      await lab.waitForStatus(['Ready']);
      return;
    }
    expect((await lab.call('POST', `machines/${sid()}/`, { op: 'release' })).status).toBe(200);
    await lab.waitForStatus(['Ready']);
  }
  async function commissionWith(layout: unknown, opts: { raw?: string; extra?: string } = {}): Promise<any> {
    await toReady();
    await upload(layoutScript(layout, opts));
    const r = await lab.call('POST', `machines/${sid()}/`, { op: 'commission', commissioning_scripts: SCRIPT_NAME, testing_scripts: 'none' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).status_name).toBe('Commissioning');
    return lab.waitForStatus(['Ready', 'Failed commissioning'], 20_000);
  }

  beforeAll(async () => {
    lab = await startMaasLab('maas-emulator');
  }, 120_000);
  afterAll(async () => {
    await lab?.stop();
  });
  afterEach(() => lab.configure({ faults: {} }));

  test('auth: both PLAINTEXT header forms work; no auth, a wrong key, a missing parameter are refused as MAAS does; version is anonymous', async () => {
    const v = await lab.call('GET', 'version/', undefined, { user: null });
    expect(v.status).toBe(200);
    expect(JSON.parse(v.text).capabilities).toContain('storage-deployment-ubuntu');
    expect((await lab.call('GET', 'machines/', undefined, { user: null })).status).toBe(401);
    const [ck, tk, ts] = lab.key().split(':');
    const get = (authorization: string) => fetch(`${lab.baseUrl}api/2.0/machines/`, { headers: { authorization } });
    const curlForm = await get(`OAuth oauth_version=1.0, oauth_signature_method=PLAINTEXT, oauth_consumer_key=${ck}, oauth_token=${tk}, oauth_signature=&${ts}, oauth_nonce=x, oauth_timestamp=1`);
    expect(curlForm.status).toBe(200);
    const wrong = await get(`OAuth oauth_consumer_key="${ck}", oauth_token="${tk}", oauth_signature="%26nope", oauth_signature_method="PLAINTEXT"`);
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toBe('Authorization Error: Invalid API key.');
    const missing = await get(`OAuth oauth_consumer_key="${ck}", oauth_signature="%26${ts}"`);
    expect(missing.status).toBe(400);
  });

  test('op dispatch, machine and block device shapes, partition by id or name without trailing slash', async () => {
    const bad = await lab.call('POST', `machines/${sid()}/`, { op: 'foo' });
    expect([bad.status, bad.text]).toEqual([400, 'Unrecognised signature: method=POST op=foo']);
    const list = await lab.json('GET', 'machines/');
    expect(list).toHaveLength(1);
    const m = await machine();
    expect(m).toMatchObject({
      system_id: sid(),
      hostname: 'proper-raptor',
      fqdn: 'proper-raptor.maas',
      status: 6,
      status_name: 'Deployed',
      owner: 'admin',
      power_state: 'on',
      resource_uri: `/MAAS/api/2.0/machines/${sid()}/`,
    });
    const [sda] = await lab.json('GET', `nodes/${sid()}/blockdevices/`);
    expect(sda).toMatchObject({ name: 'sda', path: '/dev/disk/by-dname/sda', partition_table_type: 'GPT', used_for: 'GPT partitioned with 2 partitions' });
    expect(sda.partitions.map((p: any) => [p.path, p.used_for])).toEqual([
      ['/dev/disk/by-dname/sda-part1', 'fat32 formatted filesystem mounted at /boot/efi'],
      ['/dev/disk/by-dname/sda-part2', 'ext4 formatted filesystem mounted at /'],
    ]);
    const byName = await lab.json('GET', `nodes/${sid()}/blockdevices/${sda.id}/partition/sda-part2`);
    const byId = await lab.json('GET', `nodes/${sid()}/blockdevices/${sda.id}/partitions/${byName.id}`);
    expect(byId).toEqual(byName);
    expect((await lab.call('GET', 'machines/nosuch/')).text).toBe('No Machine matches the given query.');
  });

  test('state refusals: 400/409/403 bodies', async () => {
    const c = await lab.call('POST', `machines/${sid()}/`, { op: 'commission' });
    expect([c.status, JSON.parse(c.text)]).toEqual([400, { __all__: ['Commission is not available because of the current state of the node.'] }]);
    const d = await lab.call('POST', `machines/${sid()}/`, { op: 'deploy' });
    expect([d.status, d.text]).toEqual([409, "Can't deploy a machine that is in the 'Deployed' state"]);
    const a = await lab.call('POST', `machines/${sid()}/`, { op: 'abort' });
    expect([a.status, a.text]).toEqual([409, `Cannot abort in current state: node ${sid()} is in state Deployed.`]);
    const f = await lab.call('POST', `machines/${sid()}/`, { op: 'mark_fixed' });
    expect([f.status, f.text]).toEqual([409, "Can't mark a non-broken node as 'Ready'."]);
    expect((await lab.call('POST', `machines/${sid()}/`, { op: 'set_storage_layout', storage_layout: 'flat' })).status).toBe(409);
    expect((await lab.call('POST', `machines/${sid()}/`, { op: 'mark_broken', comment: 'x' }, { user: 'operator' })).status).toBe(403);
  });

  // maasRepartition allocates a Ready machine before mark_broken (only the owner may mark it broken).
  test('op=allocate: a Ready machine becomes Allocated to the caller with an event; 409 for a machine that is not Ready or unknown, and with nothing available; 400 for the wrong method or a machine path; 401 without a key', async () => {
    expect((await machine()).status_name).toBe('Deployed');
    const notReady = await lab.call('POST', 'machines/', { op: 'allocate', system_id: sid() });
    expect([notReady.status, notReady.text]).toEqual([409, `No available machine matches constraints: [('system_id', ['${sid()}'])] (resolved to "system_id=${sid()}")`]);
    const unknown = await lab.call('POST', 'machines/', { op: 'allocate', system_id: 'nosuch' });
    expect([unknown.status, unknown.text]).toEqual([409, `No available machine matches constraints: [('system_id', ['nosuch'])] (resolved to "system_id=nosuch")`]);
    const none = await lab.call('POST', 'machines/', { op: 'allocate' });
    expect([none.status, none.text]).toEqual([409, 'No machine available.']);
    const get = await lab.call('GET', 'machines/?op=allocate');
    expect([get.status, get.text]).toEqual([400, 'Unrecognised signature: method=GET op=allocate']);
    const onMachine = await lab.call('POST', `machines/${sid()}/`, { op: 'allocate' });
    expect([onMachine.status, onMachine.text]).toEqual([400, 'Unrecognised signature: method=POST op=allocate']);
    expect((await lab.call('POST', 'machines/', { op: 'allocate', system_id: sid() }, { user: null })).status).toBe(401);
    expect((await machine()).status_name).toBe('Deployed');

    expect((await lab.call('POST', `machines/${sid()}/`, { op: 'release' })).status).toBe(200);
    expect((await lab.waitForStatus(['Ready'])).owner).toBeNull();
    const ok = await lab.call('POST', 'machines/', { op: 'allocate', system_id: sid(), comment: 'golden' }, { user: 'operator' });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toMatchObject({
      system_id: sid(),
      hostname: 'proper-raptor',
      status: 10,
      status_name: 'Allocated',
      owner: 'operator',
      resource_uri: `/MAAS/api/2.0/machines/${sid()}/`,
    });
    expect(await machine()).toMatchObject({ status: 10, status_name: 'Allocated', owner: 'operator' });
    expect((await events())[0]).toBe('(operator) - Allocated: golden');
    // Allocated is no longer available, and only its owner may mark it broken.
    const again = await lab.call('POST', 'machines/', { op: 'allocate', system_id: sid() });
    expect([again.status, again.text]).toEqual([409, `No available machine matches constraints: [('system_id', ['${sid()}'])] (resolved to "system_id=${sid()}")`]);
    expect((await lab.call('POST', `machines/${sid()}/`, { op: 'mark_broken', comment: 'x' })).status).toBe(403);
    expect((await machine()).status_name).toBe('Allocated'); // the release test below starts from here
  });

  test('script upload: shebang rule, embedded YAML, no override, duplicate name', async () => {
    const noShebang = await lab.call('POST', 'scripts/', { script: 'echo hi\n' }, { multipart: true });
    expect([noShebang.status, JSON.parse(noShebang.text)]).toEqual([400, { script: ['Must start with shebang.'] }]);
    const override = await lab.call('POST', 'scripts/', { script: layoutScript(GOOD, { name: '46-other' }), parallel: 'any' }, { multipart: true });
    expect([override.status, JSON.parse(override.text)]).toEqual([400, { __all__: ['May not override values defined in embedded YAML.'] }]);
    const same = await lab.call('POST', 'scripts/', { script: layoutScript(GOOD, { name: '46-other' }), type: 'commissioning', timeout: '00:01:00' }, { multipart: true });
    expect(same.status).toBe(200);
    expect(JSON.parse(same.text)).toMatchObject({
      name: '46-other',
      type: 0,
      type_name: 'Commissioning script',
      hardware_type: 0,
      parallel: 0,
      timeout: '0:01:00',
      tags: ['lab', 'noauto'],
      resource_uri: '/MAAS/api/2.0/scripts/46-other',
    });
    const dup = await lab.call('POST', 'scripts/', { script: layoutScript(GOOD, { name: '46-other' }) }, { multipart: true });
    expect(dup.status).toBe(400);
    expect((await lab.call('GET', 'scripts/46-other?op=download')).text).toContain('# name: 46-other');
    expect((await lab.call('DELETE', 'scripts/46-other')).status).toBe(204);
  });

  test('release, then a valid custom layout: Ready with MAAS partition names, result set passed with base64 output, set_storage_layout custom', async () => {
    const r = await lab.call('POST', `machines/${sid()}/`, { op: 'release' });
    expect(JSON.parse(r.text).status_name).toBe('Releasing');
    await lab.waitForStatus(['Ready']);
    const m = await commissionWith(GOOD);
    expect(m.status_name).toBe('Ready');
    const [sda] = await lab.json('GET', `nodes/${sid()}/blockdevices/`);
    expect(sda.partitions.map((p: any) => [p.path.split('/').pop(), p.size, p.used_for])).toEqual([
      ['sda-part1', 511705088, 'fat32 formatted filesystem mounted at /boot/efi'],
      ['sda-part2', 998244352, 'ext4 formatted filesystem mounted at /'],
      ['sda-part3', 796917760, 'Unused'],
      ['sda-part4', 796917760, 'Unused'],
      ['sda-part5', 796917760, 'Unused'],
    ]);
    const set = await lab.json('GET', `nodes/${sid()}/results/current-commissioning/?include_output=1`);
    expect(set).toMatchObject({ type: 0, status: 2, status_name: 'Passed' });
    expect(set.results.map((x: any) => x.name)).toEqual(['20-maas-03-machine-resources', SCRIPT_NAME, '50-maas-01-commissioning']);
    const mine = set.results.find((x: any) => x.name === SCRIPT_NAME);
    expect(Buffer.from(mine.stdout, 'base64').toString()).toContain('layout written; disks: 1');
    const fifty = await lab.json('GET', `nodes/${sid()}/results/current-commissioning/?filters=50-maas-01-commissioning&include_output=1`);
    expect(Buffer.from(fifty.results[0].stdout, 'base64').toString()).toContain('"storage-extra"');
    expect((await lab.call('GET', `nodes/${sid()}/results/current-commissioning/?op=download&filters=${SCRIPT_NAME}&output=stdout`)).text).toContain('layout written');
    const sets = await lab.json('GET', `nodes/${sid()}/results/?type=commissioning`);
    expect(sets.length).toBeGreaterThanOrEqual(1);
    expect((await lab.call('POST', `machines/${sid()}/`, { op: 'set_storage_layout', storage_layout: 'custom' })).status).toBe(200);
  });

  test('the ecosystem Go client (github.com/canonical/gomaasclient, unmodified) lists machines, reads block devices and partitions, and commissions', async () => {
    const bin = clientCheckBinary();
    const out = execFileSync(bin, [lab.baseUrl.replace(/\/$/, ''), apiKeyFile('admin'), 'commission'], { encoding: 'utf8', timeout: 60_000 });
    const report = JSON.parse(out);
    expect(report).toMatchObject({ machines: 1, hostname: 'proper-raptor', status: 'Ready', commissioned: 'Commissioning' });
    expect(report.partitions).toEqual([
      '/dev/disk/by-dname/sda-part1:511705088',
      '/dev/disk/by-dname/sda-part2:998244352',
      '/dev/disk/by-dname/sda-part3:796917760',
      '/dev/disk/by-dname/sda-part4:796917760',
      '/dev/disk/by-dname/sda-part5:796917760',
    ]);
    await lab.waitForStatus(['Ready']);
  });

  test('silent failures: unappliable layout ends Ready with no layout and one event; deploy then refuses', async () => {
    const unknown = await commissionWith({ ...GOOD, layout: { vda: GOOD.layout.sda }, mounts: { '/': { device: 'sda2' } } });
    expect(unknown.status_name).toBe('Ready');
    expect(unknown.blockdevice_set[0].partitions).toEqual([]);
    expect(await events()).toContain('Cannot apply custom layout: Unknown machine disk(s): vda');
    const d = await lab.call('POST', `machines/${sid()}/`, { op: 'deploy' });
    expect([d.status, JSON.parse(d.text)]).toEqual([400, { storage: ['Specify a storage device to be able to deploy this node.', "Mount the root '/' filesystem to be able to deploy this node."] }]);
    await lab.call('POST', `machines/${sid()}/`, { op: 'release' });
    const big = structuredClone(GOOD);
    big.layout.sda.partitions[4].size = '5G';
    const tooBig = await commissionWith(big);
    expect(tooBig.status_name).toBe('Ready');
    expect(await events()).toContain("Cannot apply custom layout: {'size': ['Partition cannot be saved; not enough free space on the block device.']}");
  });

  test('invalid layouts fail commissioning with MAAS events: seed-style "unformatted", no mounts, bad size, not JSON', async () => {
    const seedStyle = structuredClone(GOOD) as any;
    seedStyle.layout.sda.partitions[2].fs = 'unformatted';
    const m = await commissionWith(seedStyle);
    expect(m.status_name).toBe('Failed commissioning');
    expect(m.error_description).toBe('1 commissioning scripts failed to run');
    const ev = await events();
    expect(ev.some((e) => e.startsWith("Failed processing commissioning data: Invalid config at layout/sda/partitions/2/fs: 'unformatted' is not one of ["))).toBe(true);
    expect(ev).toContain("proper-raptor: commissioning script '50-maas-01-commissioning' failed during post-processing.");
    expect((await commissionWith({ layout: GOOD.layout })).status_name).toBe('Failed commissioning');
    expect(await events()).toContain("Failed processing commissioning data: Invalid config at top level: 'mounts' is a required property");
    const gib = structuredClone(GOOD) as any;
    gib.layout.sda.partitions[2].size = '500GiB';
    expect((await commissionWith(gib)).status_name).toBe('Failed commissioning');
    expect(await events()).toContain("Failed processing commissioning data: Invalid size '500GiB'");
    expect((await commissionWith(null, { raw: '{"layout": ' })).status_name).toBe('Failed commissioning');
    const set = await lab.json('GET', `nodes/${sid()}/results/current-commissioning/?include_output=1&filters=50-maas-01-commissioning`);
    expect(Buffer.from(set.results[0].stderr, 'base64').toString()).toMatch(/^Failed to parse \/storage-config.json: /);
  });

  test('faults: script exit, script timeout, BMC unreachable reverts to Ready with Aborted results, node_timeout', async () => {
    expect((await commissionWith(GOOD, { extra: 'echo boom >&2; exit 7' })).status_name).toBe('Failed commissioning');
    let set = await lab.json('GET', `nodes/${sid()}/results/current-commissioning/`);
    expect(set.results.find((x: any) => x.name === SCRIPT_NAME)).toMatchObject({ status: 3, status_name: 'Failed', exit_status: 7 });
    lab.configure({ faults: { scriptTimeout: SCRIPT_NAME } });
    expect((await commissionWith(GOOD)).status_name).toBe('Failed commissioning');
    set = await lab.json('GET', `nodes/${sid()}/results/current-commissioning/?include_output=1`);
    const timedOut = set.results.find((x: any) => x.name === SCRIPT_NAME);
    expect(timedOut).toMatchObject({ status: 4, exit_status: 124 });
    expect(Buffer.from(timedOut.stderr, 'base64').toString()).toBe(`Timeout(0:01:00) expired on ${SCRIPT_NAME}`);
    lab.configure({ faults: {} });
    await toReady();
    const before = (await machine()).current_commissioning_result_id;
    lab.configure({ faults: { bmcUnreachable: true } });
    await lab.call('POST', `machines/${sid()}/`, { op: 'commission', commissioning_scripts: SCRIPT_NAME, testing_scripts: 'none' });
    const reverted = await lab.waitForStatus(['Ready']);
    expect(reverted.current_commissioning_result_id).not.toBe(before);
    set = await lab.json('GET', `nodes/${sid()}/results/current-commissioning/`);
    expect(set.status_name).toBe('Aborted');
    expect(await events()).toContain('(admin) - Aborting COMMISSIONING and reverting to READY. Unable to power control the node. Please check power credentials.');
    lab.configure({ faults: { hang: 'commissioning' }, timings: { nodeTimeoutMs: 1500 } });
    await lab.call('POST', `machines/${sid()}/`, { op: 'commission', commissioning_scripts: SCRIPT_NAME, testing_scripts: 'none' });
    const timed = await lab.waitForStatus(['Failed commissioning'], 10_000);
    expect(timed.error_description).toBe("Node operation 'Commissioning' timed out after 30 minutes.");
    lab.configure({ timings: { nodeTimeoutMs: 6000 } });
  });

  test('deploy writes the layout to the real disk; Deployed comes before cloud-init is done; abort; failed deployment with an install log; mark broken and fixed', async () => {
    expect((await commissionWith(GOOD)).status_name).toBe('Ready');
    const d = await lab.call('POST', `machines/${sid()}/`, { op: 'deploy', distro_series: 'jammy' });
    expect(JSON.parse(d.text).status_name).toBe('Deploying');
    await lab.waitForStatus(['Deployed']);
    expect((await lab.sh('cloud-init status')).trim()).toBe('status: running');
    expect(await lab.sh('cloud-init status --wait')).toContain('status: done');
    const links = await lab.sh('for p in 3 4 5; do readlink -f /dev/disk/by-dname/sda-part$p; done; ls /dev/disk/by-partuuid | wc -l; sfdisk -J $(readlink -f /dev/disk/by-dname/sda) | grep -c node');
    expect(links.trim().split('\n')).toEqual([expect.stringMatching(/^\/dev\/loop\d+p3$/), expect.stringMatching(/p4$/), expect.stringMatching(/p5$/), '5', '5']);
    // abort mid-deploy goes back to Allocated
    await lab.call('POST', `machines/${sid()}/`, { op: 'release' });
    await lab.waitForStatus(['Ready']);
    lab.configure({ faults: { hang: 'deploying' } });
    await lab.call('POST', `machines/${sid()}/`, { op: 'deploy' });
    const aborted = await lab.call('POST', `machines/${sid()}/`, { op: 'abort' });
    expect(JSON.parse(aborted.text).status_name).toBe('Allocated');
    lab.configure({ faults: { deployFail: true } });
    await lab.call('POST', `machines/${sid()}/`, { op: 'deploy' });
    const failed = await lab.waitForStatus(['Failed deployment']);
    expect(failed.error_description).toContain('Installation failed');
    const log = await lab.call('GET', `nodes/${sid()}/results/current-installation/?op=download`);
    expect(log.text).toContain('curtin: Installation failed with exception');
    const broken = await lab.call('POST', `machines/${sid()}/`, { op: 'mark_broken', comment: 'deploy failed twice' });
    expect(JSON.parse(broken.text)).toMatchObject({ status_name: 'Broken', error_description: 'deploy failed twice', owner: null });
    expect(JSON.parse((await lab.call('POST', `machines/${sid()}/`, { op: 'mark_fixed' })).text).status_name).toBe('Ready');
  });
});

/** The Go client check, built once per source version and cached under .tools/. */
function clientCheckBinary(): string {
  const dir = path.join(__dirname, '..', 'lab', 'emulators', 'maas', 'client-check');
  const hash = createHash('sha256')
    .update(readFileSync(path.join(dir, 'main.go')))
    .update(readFileSync(path.join(dir, 'go.mod')))
    .digest('hex')
    .slice(0, 12);
  const bin = path.join(__dirname, '..', '.tools', `maas-client-check-${hash}`);
  if (!existsSync(bin)) {
    mkdirSync(path.dirname(bin), { recursive: true });
    execFileSync('go', ['build', '-o', bin, '.'], { cwd: dir, stdio: 'inherit', timeout: 300_000 });
  }
  return bin;
}

describe('custom layout apply rules (pure)', () => {
  const machine = (boot: 'uefi' | 'pxe'): MachineState =>
    ({
      bios_boot_method: boot,
      architecture: 'amd64/generic',
      disks: [{ id: 1, name: 'sda', size: 4 * 2 ** 30, block_size: 512, model: 'm', serial: 's', partition_table_type: null, filesystem: null, partitions: [], labDevice: '/dev/null' }],
    }) as unknown as MachineState;
  const layout = (ptable: string, n: number) =>
    validateLayout({
      layout: { sda: { type: 'disk', ptable, partitions: Array.from({ length: n }, (_, i) => ({ name: `p${i}`, size: '100M', ...(i === 0 ? { fs: 'ext4' } : {}) })) } },
      mounts: { '/': { device: 'p0' } },
    });
  let id = 1;
  test('bios_grub takes number 1 on GPT without UEFI; MBR skips 4; sizes round down to 4 MiB', () => {
    const pxe = machine('pxe');
    applyLayout(pxe, layout('gpt', 2), () => id++);
    expect(pxe.disks[0].partitions.map((p) => p.index)).toEqual([2, 3]);
    expect(pxe.disks[0].partitions[0].size).toBe(92 * 2 ** 20);
    const uefi = machine('uefi');
    applyLayout(uefi, layout('gpt', 2), () => id++);
    expect(uefi.disks[0].partitions.map((p) => p.index)).toEqual([1, 2]);
    const mbr = machine('uefi');
    applyLayout(mbr, layout('mbr', 5), () => id++);
    expect(mbr.disks[0].partitions.map((p) => p.index)).toEqual([1, 2, 3, 5, 6]);
  });
});
