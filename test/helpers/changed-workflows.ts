import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './paths';

/**
 * A copy of the workflow code (workflows/ and what it imports: common/, runbooks/, activities/) in a temp
 * folder with one deliberate change, as a developer might make it, for proving that replay catches
 * it. The anchor must exist, so a refactor of the original makes this fail loudly, not pass quietly.
 */
export function changedWorkflows(file: string, anchor: string, insertAfter: string): { indexPath: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'changed-workflows-'));
  for (const folder of ['common', 'workflows', 'runbooks', 'activities']) cpSync(path.join(repoRoot, folder), path.join(dir, folder), { recursive: true });
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  const target = path.join(dir, file);
  const source = readFileSync(target, 'utf8');
  if (!source.includes(anchor)) throw new Error(`${file} no longer contains ${JSON.stringify(anchor)}; update the changed-workflow test`);
  writeFileSync(target, source.replace(anchor, anchor + insertAfter));
  return { indexPath: path.join(dir, 'workflows', 'index.ts'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
