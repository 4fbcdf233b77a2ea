import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');
// Per jest process (global setup and teardown run in the same one), so concurrent runs stay apart.
export const stateFile = path.join(repoRoot, '.data', `test-run-${process.pid}.json`);
export const tsxCli = path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
// The workflow code bundled once by global setup; every worker a test starts loads it instead of webpacking.
export const workflowBundleFile = path.join(repoRoot, '.data', `workflow-bundle-${process.pid}.js`);
