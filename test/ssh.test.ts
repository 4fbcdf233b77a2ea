import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { sh, secret } from '../activities/ssh/command';
import { assertSucceeded, runRemote } from '../activities/ssh/exec';
import { InventoryProvider } from '../activities/ssh/inventory-provider';
import { defaultInventoryPath } from '../activities/ssh/inventory';
import { SshPool } from '../activities/ssh/pool';
import { fingerprintOfPublicKeyLine } from '../activities/ssh/host-key';
import { execInHost } from '../lab/exec';
import { pipeBetweenHosts } from '../activities/zfs-replication/pipe';

const pool = new SshPool();
afterAll(() => pool.close());

test('a value full of shell metacharacters reaches the remote command as one literal argument', async () => {
  const evil = `a b'"\`$(touch /tmp/pwned-$$)\`; rm -rf /nonexistent && echo $HOME | cat > /tmp/pwned2 \\ \n * ? [x] {a,b} ~ # ! %`;
  await execInHost('node1', 'rm -f /tmp/pwned-* /tmp/pwned2');
  const r = assertSucceeded(await runRemote(pool, 'node1', sh`printf '%s\\0' ${evil} ${'second'}`));
  expect(r.stdout.split('\0')).toEqual([evil, 'second', '']);
  const leftovers = await execInHost('node1', 'ls /tmp/pwned-* /tmp/pwned2 2>/dev/null | wc -l');
  expect(leftovers.stdout.trim()).toBe('0');
});

test('secrets are quoted like any value but never shown in the record', async () => {
  const r = await runRemote(pool, 'node1', sh`echo token=${secret('s3cr3t-value')} >&2; exit 4`);
  expect(r.record.exitCode).toBe(4);
  expect(r.record.command).not.toContain('s3cr3t-value');
  expect(r.record.command).toContain('***');
  expect(r.record.stderrTail).toBe('token=***\n');
  expect(() => assertSucceeded(r)).toThrow(/failed \(exit 4\)/);
});

test('a changed host key is refused, naming the host and both fingerprints, and is not retryable', async () => {
  const real = JSON.parse(readFileSync(defaultInventoryPath(), 'utf8'));
  const impostorKey = real.hosts.node2.hostKey as string; // a valid key, but not node1's
  const dir = mkdtempSync(path.join(os.tmpdir(), 'inventory-'));
  const file = path.join(dir, 'inventory.json');
  writeFileSync(file, JSON.stringify({ hosts: { node1: { ...real.hosts.node1, hostKey: impostorKey } } }));
  const tampered = new SshPool(new InventoryProvider(file));
  try {
    const err = await runRemote(tampered, 'node1', sh`true`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.type).toBe('HostKeyMismatch');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('node1');
    expect(failure.message).toContain(fingerprintOfPublicKeyLine(impostorKey));
    expect(failure.message).toContain(fingerprintOfPublicKeyLine(real.hosts.node1.hostKey));
  } finally {
    tampered.close();
  }
});

test('one pooled connection serves many commands, and a dropped connection reconnects', async () => {
  const first = await pool.connection('node1');
  await Promise.all(Array.from({ length: 8 }, (_, i) => runRemote(pool, 'node1', sh`echo ${i}`)));
  expect(await pool.connection('node1')).toBe(first);
  first.end();
  await new Promise((r) => setTimeout(r, 200));
  const r = assertSucceeded(await runRemote(pool, 'node1', sh`hostname`));
  expect(r.stdout.trim()).toBe('node1');
  expect(await pool.connection('node1')).not.toBe(first);
});

test('a per-command timeout stops the remote command', async () => {
  const marker = `/tmp/timeout-${process.pid}`;
  const r = await runRemote(pool, 'node1', sh`sleep 5; touch ${marker}`, { timeoutMs: 500 });
  expect(r.record.timedOut).toBe(true);
  expect(r.record.durationMs).toBeLessThan(4_000);
  await new Promise((res) => setTimeout(res, 5_500));
  const left = await execInHost('node1', `test -e ${marker} && echo yes || echo no`);
  expect(left.stdout.trim()).toBe('no');
});

test('an abort signal (activity cancellation) stops the remote command', async () => {
  const marker = `/tmp/cancel-${process.pid}`;
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 300);
  const r = await runRemote(pool, 'node1', sh`sleep 4; touch ${marker}`, { signal: controller.signal });
  expect(r.record.cancelled).toBe(true);
  await new Promise((res) => setTimeout(res, 4_500));
  const left = await execInHost('node1', `test -e ${marker} && echo yes || echo no`);
  expect(left.stdout.trim()).toBe('no');
});

test("a stream's receiver reads from a 1 MiB stdin pipe, not the kernel's 64 KiB, and every byte arrives", async () => {
  // F_GETPIPE_SZ is 1032 on Linux; the pipe is the one sshd feeds from the worker's channel.
  const r = await pipeBetweenHosts(pool, {
    from: { host: 'node1', command: sh`head -c 3000000 /dev/urandom` },
    to: { host: 'node2', command: sh`perl -e ${'print STDERR fcntl(STDIN, 1032, 0), "\n"'} && wc -c >&2` },
  });
  expect([r.senderExit.code, r.receiverExit.code]).toEqual([0, 0]);
  expect(r.bytes).toBe(3_000_000);
  expect(r.receiverStderr.trim().split(/\s+/)).toEqual(['1048576', '3000000']);
});
