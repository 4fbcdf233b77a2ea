import { z } from 'zod';
import { ZfsOutputError, outputLines } from './errors';

// zfs-fuse has no `written` property, so "did this project change since snapshot X?" is answered by
// sending the increment from X to a fresh probe snapshot into zstreamdump and reading its SUMMARY:
// an increment of an unchanged dataset holds only the BEGIN and END records (624 bytes on zfs-fuse,
// verified; see lab/zfs/README.md). This parses that summary, from zfs-fuse's zstreamdump and from
// OpenZFS's `zstream dump` (which adds "(N bytes)" per record type and renames "write size").

export const streamSummarySchema = z.object({
  /** Record counts by type, e.g. { DRR_BEGIN: 1, DRR_END: 1, DRR_WRITE: 3 }. */
  records: z.record(z.string(), z.number().int().nonnegative()),
  totalRecords: z.number().int().nonnegative(),
  /** Bytes of file data in WRITE records (zfs-fuse "write size", OpenZFS "payload size"). */
  payloadBytes: z.number().int().nonnegative().nullable(),
  streamBytes: z.number().int().nonnegative(),
});
export type StreamSummary = z.infer<typeof streamSummarySchema>;

/** The SUMMARY block of `zstreamdump` / `zstream dump` output (the per-record lines before it are ignored). */
export function parseStreamSummary(stdout: string): StreamSummary {
  const lines = outputLines(stdout);
  const start = lines.findIndex((l) => l.trim() === 'SUMMARY:');
  if (start < 0) throw new ZfsOutputError('zstreamdump', 0, lines.slice(-3).join(' | '), 'no SUMMARY: block (stream truncated or not a zfs stream?)');
  const records: Record<string, number> = {};
  let totalRecords: number | null = null;
  let payloadBytes: number | null = null;
  let streamBytes: number | null = null;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i].trim();
    let m: RegExpExecArray | null;
    if ((m = /^Total (DRR_[A-Z_]+) records = (\d+)/.exec(line))) records[m[1]] = Number(m[2]);
    else if ((m = /^Total records = (\d+)/.exec(line))) totalRecords = Number(m[1]);
    else if ((m = /^Total (?:write|payload) size = (\d+)/.exec(line))) payloadBytes = Number(m[1]);
    else if ((m = /^Total stream length = (\d+)/.exec(line))) streamBytes = Number(m[1]);
  }
  if (totalRecords === null || streamBytes === null) throw new ZfsOutputError('zstreamdump', start + 1, lines.slice(start).join(' | '), 'SUMMARY lacks "Total records" or "Total stream length"');
  return streamSummarySchema.parse({ records, totalRecords, payloadBytes, streamBytes });
}

/**
 * True when an incremental stream carries no change: nothing but its BEGIN and END records. Errs
 * towards "changed" (any other record counts), as OpenZFS's `written` does for atime-only updates.
 */
export function isEmptyIncrementalStream(summary: StreamSummary): boolean {
  const others = Object.entries(summary.records).filter(([type, n]) => n > 0 && type !== 'DRR_BEGIN' && type !== 'DRR_END');
  return summary.totalRecords === 2 && (summary.records.DRR_BEGIN ?? 0) === 1 && (summary.records.DRR_END ?? 0) === 1 && others.length === 0;
}
