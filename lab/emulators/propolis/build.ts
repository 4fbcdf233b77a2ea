import { mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

// Builds the emulator for a lab sled host: one bundled JS file run by node (no TypeScript at start).

export const PROPOLIS_BUNDLE = 'propolis-emu.cjs';

export async function buildPropolisEmulator(outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const bundle = path.join(outDir, PROPOLIS_BUNDLE);
  const tmp = `${bundle}.tmp-${process.pid}`;
  await build({
    entryPoints: [path.join(__dirname, 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: tmp,
    logLevel: 'silent',
    legalComments: 'none',
  });
  renameSync(tmp, bundle); // a supervisor restarting mid-build never loads half a bundle
  return bundle;
}
