import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { workflowInterceptorModules } from './workflow-interceptors';

export const workflowsPath = require.resolve('../workflows');

/**
 * The workflow code (this checkout's, or the workflows module at `from`) with the engine's
 * interceptors, bundled quietly: webpack's module statistics are no news to an operator.
 */
export async function bundleWorkflows(from = workflowsPath): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode({ workflowsPath: from, workflowInterceptorModules, logger: new DefaultLogger('WARN') });
  return { code };
}

/**
 * Bundle the workflow code once and write it where RUNBOOK_WORKFLOW_BUNDLE can name it. Written to a
 * temporary name and renamed, so a worker starting meanwhile never reads half a bundle.
 */
export async function writeWorkflowBundle(file: string): Promise<{ file: string; bytes: number }> {
  const { code } = await bundleWorkflows();
  mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.partial-${process.pid}`;
  writeFileSync(partial, code);
  renameSync(partial, file);
  return { file, bytes: Buffer.byteLength(code) };
}
