import path from 'node:path';
import { installCommandTool } from '../bundle';
import { COMMANDS } from './main';
import { DEFAULT_STATE_PATH } from './state';

// Builds the LVM emulator for a lab host (see ../bundle.ts): one wrapper per LVM command name, each
// pinning the host's state file.

export const BUNDLE_NAME = 'lvm-emu.cjs';
export const LAUNCHER_NAME = 'lvm-emu-run.cjs';

export interface BuildOptions {
  /** The state file the wrappers pin (LVM_EMU_STATE); default /etc/lvm-emu/state.json. */
  statePath?: string;
  /** The node binary the wrappers exec; default the one running this build. */
  nodePath?: string;
}

export interface BuiltEmulator {
  bundle: string;
  /** Absolute paths of the wrapper scripts, by command name. */
  wrappers: Record<string, string>;
}

export async function buildLvmEmulator(outDir: string, opts: BuildOptions = {}): Promise<BuiltEmulator> {
  return installCommandTool({
    outDir,
    entry: path.join(__dirname, 'cli.ts'),
    bundleName: BUNDLE_NAME,
    launcherName: LAUNCHER_NAME,
    programs: COMMANDS,
    describe: (command) => `${command}: the lab's emulated LVM command (durable-runbooks lab/emulators/lvm); metadata in the file below.`,
    env: { LVM_EMU_STATE: path.resolve(opts.statePath ?? DEFAULT_STATE_PATH) },
    warm: ['lvm', 'version'],
    nodePath: opts.nodePath,
  });
}
