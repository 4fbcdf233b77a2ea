import type { WorkflowHandle } from '@temporalio/client';
import { checkCruciblePools } from '../lab/scenarios/maas/check';
import { approveUpdate } from '../workflows/engine/messages';
import type { MaasRepartitionResult } from '../workflows/maasRepartition';
import type { RunbookResult } from '../workflows/engine/runbook';
import { startMaasLab, type MaasLab } from './helpers/maas-lab';
import { closeTestClient, runFailure, waitForAudit } from './helpers/temporal';

// maasRepartition end to end on the maas lab: the region emulator, proper-raptor's real disk and
// sshd, zfs-fuse in its namespace, a worker of this file's own.

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

const ops = (lab: MaasLab, op: string) => lab.requests().filter((r) => r.op === op && r.method === 'POST').length;

async function approve(handle: WorkflowHandle, step: string, decision: 'approve' | 'reject' = 'approve'): Promise<void> {
  await waitForAudit(handle, (a) => a.steps.some((s) => s.name === step && s.status === 'waiting-approval'));
  await handle.executeUpdate(approveUpdate, { args: [{ step, decision, approver: 'test', comment: 'lab' }] });
}

describe('maasRepartition', () => {
  let lab: MaasLab;
  beforeAll(async () => {
    lab = await startMaasLab('maas-repartition', { worker: true });
  }, 180_000);
  afterAll(async () => {
    await lab?.stop();
    await closeTestClient();
  });

  test('happy path: one big root → three healthy pools on three real partitions; the seed check passes; each MAAS op issued once', async () => {
    expect((await checkCruciblePools(lab.machine)).ok).toBe(false);
    const t0 = Date.now();
    const handle = await lab.start('maasRepartition', LAB_INPUT);
    await approve(handle, 'release');
    const result = (await handle.result()) as RunbookResult<MaasRepartitionResult>;
    const elapsed = Date.now() - t0;
    process.stderr.write(`maasRepartition lab run: ${elapsed} ms\n`);
    expect(result.outcome).toBe('succeeded');
    expect(result.value.outcome).toBe('repartitioned');
    expect(result.value.partitions.map((p) => p.name)).toEqual(['sda-part3', 'sda-part4', 'sda-part5']);
    expect(result.value.partitions.every((p) => p.stablePath.startsWith('/dev/disk/by-partuuid/'))).toBe(true);
    expect(result.value.pools.map((p) => [p.name, p.health, p.mountpoint, p.createdByThisRun])).toEqual([1, 2, 3].map((n) => [`crucible${n}`, 'ONLINE', `/crucible${n}`, true]));
    expect(result.value.evidence.scriptOutput).toContain('custom storage layout written for sda');
    const check = await checkCruciblePools(lab.machine);
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
    expect([ops(lab, 'release'), ops(lab, 'commission'), ops(lab, 'deploy')]).toEqual([1, 1, 1]);
    expect(result.audit.steps.map((s) => s.name)).toEqual(expect.arrayContaining(['inspect-machine', 'decide', 'upload-script', 'release', 'commit', 'commission-1', 'check-commissioning-1', 'deploy-1', 'cloud-init', 'resolve-partitions', 'create-pool-1', 'create-pool-3']));
    // A second run finds the target state and changes nothing.
    const again = (await (await lab.start('maasRepartition', LAB_INPUT)).result()) as RunbookResult<MaasRepartitionResult>;
    expect(again.value.outcome).toBe('already-in-target-state');
    expect([ops(lab, 'release'), ops(lab, 'commission'), ops(lab, 'deploy')]).toEqual([1, 1, 1]);
  });
});
