// Usage: npx tsx scripts/bundle-workflows.ts [file]   (default .data/workflow-bundle.js)
// Bundles the workflow code once; start workers with RUNBOOK_WORKFLOW_BUNDLE=<file> to skip webpack.
import path from 'node:path';
import { writeWorkflowBundle } from '../workers/workflow-bundle';

const file = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '.data', 'workflow-bundle.js'));
writeWorkflowBundle(file).then(
  ({ bytes }) => console.log(`workflow bundle: ${file} (${(bytes / 1024 / 1024).toFixed(2)} MiB); start workers with RUNBOOK_WORKFLOW_BUNDLE=${file}`),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
