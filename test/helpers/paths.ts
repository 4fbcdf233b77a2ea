import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const stateFile = path.join(repoRoot, '.data', 'test-run.json');
export const tsxCli = path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
