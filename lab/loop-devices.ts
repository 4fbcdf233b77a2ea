import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { z } from 'zod';

// Loop devices outlive the namespace that attached them, so lab down detaches them explicitly,
// found by the file that backs them (never by device number, which the kernel reuses).

function run(args: string[]): string {
  try {
    return execFileSync('losetup', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`losetup ${args.join(' ')} failed: ${stderr || (err as Error).message}`);
  }
}

const listSchema = z.object({ loopdevices: z.array(z.object({ name: z.string(), 'back-file': z.string().nullable() })) });

/** Every attached loop device with its backing file (" (deleted)" stripped). */
export function listLoopDevices(): Array<{ device: string; backingFile: string }> {
  const out = run(['--list', '--json', '--output', 'NAME,BACK-FILE']).trim();
  if (!out) return []; // losetup prints nothing at all when no loop device is attached
  return listSchema.parse(JSON.parse(out)).loopdevices.map((d) => ({ device: d.name, backingFile: (d['back-file'] ?? '').replace(/ \(deleted\)$/, '') }));
}

/** Loop devices backed by file: `losetup -j` while the file exists, else the list (a deleted file). */
export function loopDevicesBackedBy(file: string): string[] {
  if (existsSync(file)) {
    return run(['-j', file])
      .split('\n')
      .map((line) => line.split(':')[0].trim())
      .filter((d) => d.startsWith('/dev/'));
  }
  return listLoopDevices()
    .filter((d) => d.backingFile === file)
    .map((d) => d.device);
}

/** Loop devices whose backing file lies under dir: lab down's safety net for unrecorded ones. */
export function loopDevicesUnder(dir: string): Array<{ device: string; backingFile: string }> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return listLoopDevices().filter((d) => d.backingFile.startsWith(prefix));
}

export function detachLoopDevice(device: string): void {
  // Partitions `partx -a` added (proper-raptor's sda) outlive the detach: the next lab that attaches
  // this device number finds the old ones in the kernel, its `partx -a` refuses to add overlapping
  // ones, and its build waits for partition devices that never come (10 s per maas lab up).
  try {
    execFileSync('partx', ['-d', device], { stdio: 'ignore' });
  } catch {
    // no partitions (or no partx): nothing to forget
  }
  // A device still mounted somewhere is only marked for auto-detach; it goes when the last user does.
  run(['-d', device]);
}
