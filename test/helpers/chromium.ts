import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { repoRoot } from './paths';

/** Debian's Chromium (scripts/setup.sh installs it); playwright-core downloads no browser. */
export const CHROMIUM = process.env.RUNBOOK_CHROMIUM ?? '/usr/bin/chromium';
export const artifactsDir = path.join(repoRoot, 'test-artifacts');

/**
 * Headless Chromium with a fresh profile, and the flags that keep it from phoning home or needing a
 * GPU or a sandbox (tests run as root in a container).
 */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  mkdirSync(artifactsDir, { recursive: true });
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
