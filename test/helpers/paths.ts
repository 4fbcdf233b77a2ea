import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');
// The dev server's folder (RUNBOOK_DATA_DIR, as lab/temporal-dev-server.ts reads it): a test shard
// has its own, with its own server, lab and logs.
export const testDataDir = process.env.RUNBOOK_DATA_DIR ? path.resolve(process.env.RUNBOOK_DATA_DIR) : path.join(repoRoot, '.data');
// Per jest process (global setup and teardown run in the same one), so concurrent runs stay apart.
export const stateFile = path.join(testDataDir, `test-run-${process.pid}.json`);
export const tsxCli = path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
// The workflow code bundled once by global setup; every worker a test starts loads it instead of webpacking.
export const workflowBundleFile = path.join(testDataDir, `workflow-bundle-${process.pid}.js`);
