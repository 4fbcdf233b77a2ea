import { sh } from '../ssh/command';
import { DF_COMMAND_FIELDS } from './parse';

/** Read-only commands whose machine-readable output activities/facts/parse.ts understands. */
export const hostFactsCommands = {
  hostname: sh`hostname`,
  kernel: sh`uname -r`,
  df: sh`df -B1 --output=${DF_COMMAND_FIELDS}`,
  findmnt: sh`findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS`,
  lsblk: sh`lsblk -J -b -o NAME,PATH,TYPE,SIZE,RO,FSTYPE,MOUNTPOINTS`,
  losetup: sh`losetup -J -l -O NAME,BACK-FILE,RO`,
};
