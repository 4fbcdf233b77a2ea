// The workflow code of another commit, bundled, for a benchmark that compares the engine's step
// before and after a change of the workflow code in one run (bench/engine-step-cost.ts,
// BENCH_CODE_BASELINE). The commit's files are extracted to a temporary folder (git archive: no
// worktree is registered, the checkout is not touched) and bundled by that commit's own
// scripts/bundle-workflows.ts, so the bundle has exactly the interceptors that commit's workers had.
// Activities stay this checkout's: compare commits whose activities the drill's steps share.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..');

export interface CodeAtRef {
  /** The commit, abbreviated, as the report names it. */
  commit: string;
  codePath: string;
  cleanup(): void;
}

export function bundleWorkflowsAt(ref: string): CodeAtRef {
  const commit = execFileSync('git', ['rev-parse', '--short', `${ref}^{commit}`], { cwd: repoRoot, encoding: 'utf8' }).trim();
  const dir = mkdtempSync(path.join(os.tmpdir(), `bench-code-${commit}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const tar = path.join(dir, 'code.tar');
    const tree = path.join(dir, 'tree');
    execFileSync('git', ['archive', '--format=tar', '-o', tar, commit], { cwd: repoRoot });
    execFileSync('mkdir', [tree]);
    execFileSync('tar', ['-xf', tar, '-C', tree]);
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(tree, 'node_modules'));
    const codePath = path.join(dir, 'workflow-bundle.js');
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(tree, 'scripts', 'bundle-workflows.ts'), codePath], {
      cwd: tree,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`bundling the workflows of ${commit} failed (exit ${r.status}): ${(r.stdout + r.stderr).slice(-1500)}`);
    return { commit, codePath, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}
