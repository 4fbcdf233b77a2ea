import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { RunbookName } from '../workflows/engine/search-attributes';

// The dev server keeps a closed run for 24 hours (the namespace's retention); a retrospective after an
// outage needs its history later than that. The archiver runs in the worker process and writes the
// history of every runbook run that has closed to archive/<runbook>/ as the same JSON `runbook history`
// writes, which `runbook retro` and `runbook replay` read.

export const defaultArchiveDir = path.resolve(__dirname, '..', 'archive');
const CHECKPOINT = '.checkpoint.json';
/** Visibility is eventually consistent: a run that closed just before a scan may show up after it. */
const OVERLAP_MS = 60_000;
/** With no checkpoint, everything the server still keeps. */
const FIRST_LOOK_BACK_MS = 24 * 3600_000;

function safe(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 150);
}

/** Where a run's history goes: one file per run, named so that a listing sorts by close time. */
export function archivePath(dir: string, run: { runbook: string; workflowId: string; runId: string; closeTime?: Date }): string {
  const stamp = (run.closeTime ?? new Date(0))
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return path.join(dir, safe(run.runbook), `${stamp}_${safe(run.workflowId)}_${run.runId}.json`);
}

function readCheckpoint(dir: string): Date | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path.join(dir, CHECKPOINT), 'utf8')) as { closedSince?: string };
    const d = parsed.closedSince ? new Date(parsed.closedSince) : undefined;
    return d && !Number.isNaN(d.getTime()) ? d : undefined;
  } catch {
    return undefined;
  }
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file); // several workers may archive into one folder: a reader never sees half a file
}

/**
 * One pass: export every runbook run that closed since the checkpoint and is not archived yet, then
 * move the checkpoint. Returns the files written.
 */
export async function archiveClosedRuns(client: Client, dir = defaultArchiveDir): Promise<string[]> {
  const scanStarted = Date.now();
  const since = readCheckpoint(dir) ?? new Date(scanStarted - FIRST_LOOK_BACK_MS);
  const query = `RunbookName IS NOT NULL AND ExecutionStatus != 'Running' AND CloseTime >= '${since.toISOString()}'`;
  const written: string[] = [];
  for await (const run of client.workflow.list({ query })) {
    const runbook = run.typedSearchAttributes.get(RunbookName) ?? run.type;
    const file = archivePath(dir, { runbook, workflowId: run.workflowId, runId: run.runId, closeTime: run.closeTime });
    if (existsSync(file)) continue;
    const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    writeAtomically(file, historyToJSON(history));
    written.push(file);
  }
  writeAtomically(path.join(dir, CHECKPOINT), JSON.stringify({ closedSince: new Date(scanStarted - OVERLAP_MS).toISOString() }));
  return written;
}

export interface Archiver {
  stop(): Promise<void>;
}

/** Archive in the background every `intervalMs` until stopped. A failed pass is logged and retried. */
export function startArchiver(client: Client, opts: { dir?: string; intervalMs?: number; log?: (line: string) => void } = {}): Archiver {
  const log = opts.log ?? ((l: string) => console.error(l));
  const intervalMs = opts.intervalMs ?? 5_000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  const tick = () => {
    pass = archiveClosedRuns(client, opts.dir)
      .then((files) => {
        if (files.length) log(`archived ${files.length} run histor${files.length === 1 ? 'y' : 'ies'} to ${opts.dir ?? defaultArchiveDir}`);
      })
      .catch((err: Error) => log(`archiver: ${err.message} (will retry)`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await pass;
    },
  };
}

/** RUNBOOK_ARCHIVE=0 turns it off; RUNBOOK_ARCHIVE_DIR moves it; RUNBOOK_ARCHIVE_INTERVAL_MS paces it. */
export function archiverSettings(env = process.env): { enabled: boolean; dir: string; intervalMs: number } {
  return {
    enabled: env.RUNBOOK_ARCHIVE !== '0',
    dir: env.RUNBOOK_ARCHIVE_DIR ? path.resolve(env.RUNBOOK_ARCHIVE_DIR) : defaultArchiveDir,
    intervalMs: Number(env.RUNBOOK_ARCHIVE_INTERVAL_MS ?? 5_000) || 5_000,
  };
}
