import path from 'node:path';
import { bundleEntry } from '../bundle';

// Builds the emulator for a lab sled host: one bundled JS file run by node (see ../bundle.ts).

export const PROPOLIS_BUNDLE = 'propolis-emu.cjs';

export async function buildPropolisEmulator(outDir: string): Promise<string> {
  return bundleEntry(path.join(__dirname, 'main.ts'), path.join(outDir, PROPOLIS_BUNDLE));
}
