import { hostFactsCommands } from './commands';
import { HostSession } from '../ssh/session';
import { sharedPool } from '../ssh/shared-pool';
import type { StepOutput } from '../../common/step';
import { parseDf, parseFindmnt, parseLosetup, parseLsblk, type BlockDevice, type DfEntry, type LoopDevice, type Mount } from './parse';

export interface HostFacts {
  host: string;
  hostname: string;
  kernel: string;
  filesystems: DfEntry[];
  mounts: Mount[];
  blockDevices: BlockDevice[];
  loopDevices: LoopDevice[];
}

/** Read-only: what a host is, what it mounts and what block devices it has. Commands run concurrently on one connection. */
export async function collectHostFacts(host: string): Promise<StepOutput<HostFacts>> {
  const session = new HostSession(sharedPool(), host);
  const c = hostFactsCommands;
  // df exits 1 when one filesystem cannot be read (e.g. a stale fuse mount) but still prints the rest.
  const [hostname, kernel, df, findmnt, lsblk, losetup] = await Promise.all([
    session.check(c.hostname),
    session.check(c.kernel),
    session.check(c.df, { okExitCodes: [0, 1] }),
    session.check(c.findmnt),
    session.check(c.lsblk),
    session.check(c.losetup),
  ]);
  return session.output({
    host,
    hostname: hostname.stdout.trim(),
    kernel: kernel.stdout.trim(),
    filesystems: parseDf(df.stdout),
    mounts: parseFindmnt(findmnt.stdout),
    blockDevices: parseLsblk(lsblk.stdout),
    loopDevices: parseLosetup(losetup.stdout),
  });
}
