import path from 'node:path';
import { installCommandTool } from '../bundle';
import { PROGRAMS } from './main';

// Builds the Crucible emulator for a lab host (see ../bundle.ts): one wrapper per program
// (`crucible-downstairs`, `dsc`) in the host's bin/ folder, pinning the faults file (faults.ts) and
// the command log. The bundle carries no zod: a command starts in well under 100 ms.

export const BUNDLE_NAME = 'crucible-emu.cjs';
export const LAUNCHER_NAME = 'crucible-emu-run.cjs';

export interface CrucibleBuildOptions {
  /** The faults file the wrappers pin (CRUCIBLE_EMU_FAULTS); default none. */
  faultsPath?: string;
  /** The command log the wrappers pin (CRUCIBLE_EMU_LOG): one line per create and run; default none. */
  logPath?: string;
  /** The node binary the wrappers exec; default the one running this build. */
  nodePath?: string;
}

export async function buildCrucibleEmulator(outDir: string, opts: CrucibleBuildOptions = {}): Promise<Record<string, string>> {
  const { wrappers } = await installCommandTool({
    outDir,
    entry: path.join(__dirname, 'cli.ts'),
    bundleName: BUNDLE_NAME,
    launcherName: LAUNCHER_NAME,
    programs: PROGRAMS,
    describe: (program) => `${program}: the lab's emulated Crucible tool (durable-runbooks lab/emulators/crucible).`,
    env: {
      ...(opts.faultsPath ? { CRUCIBLE_EMU_FAULTS: opts.faultsPath } : {}),
      ...(opts.logPath ? { CRUCIBLE_EMU_LOG: opts.logPath } : {}),
    },
    warm: ['crucible-downstairs', 'version'],
    nodePath: opts.nodePath,
  });
  return wrappers;
}
