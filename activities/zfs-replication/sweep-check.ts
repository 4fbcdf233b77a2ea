import { raw, sh, type ShellCommand } from '../ssh/command';
import type { ZfsFeatures } from '../zfs/features';
import { datasetNameSchema, snapshotShortNameSchema } from '../zfs/names';
import { newestSnapshot, type CopyState } from './copy-state';
import { ledgerCurrent, replicaAction, replicaPropertyFixes } from './decide';

// The sweep's cheap pass before any child runs: which projects of a batch have nothing to do? One
// `zfs get` per host over every copy it holds in the batch, plus, on hosts without `written`, one
// script per source host that probes every candidate project (snapshot, increment into zstreamdump,
// destroy). So an unchanged project costs a small fraction of a round trip per host and no child
// workflow at all; only projects that need work get a replicateProject child (and its lock).

export const SWEEP_PROBE = '@@sweep-probe';

/**
 * For each dataset: take `<dataset>@<probe>`, count the records of the increment from `<from>`, and
 * destroy the probe again, always (the child takes its own snapshot if the project changed). Prints
 * `@@sweep-probe <dataset> <total records>` (or `-1` when the probe failed: counted as changed).
 * The probe name is never a runbook snapshot name, so no retention could take it for one.
 */
export function sweepProbeCommand(items: ReadonlyArray<{ dataset: string; from: string }>, probe: string, zstreamdump: string, lanes = 1): ShellCommand {
  snapshotShortNameSchema.parse(probe);
  if (!/^\/?[A-Za-z0-9_./-]+$/.test(zstreamdump)) throw new Error(`sweepProbeCommand: odd zstreamdump path ${zstreamdump}`);
  const lines = items.map(({ dataset, from }) => {
    datasetNameSchema.parse(dataset);
    snapshotShortNameSchema.parse(from);
    const snap = `${dataset}@${probe}`;
    return sh`n=-1; if zfs snapshot ${snap}; then n=$(zfs send -i ${`@${from}`} ${snap} | ${raw(zstreamdump)} | sed -n 's/^[[:space:]]*Total records = \\([0-9]*\\)$/\\1/p'); for i in 1 2 3 4 5 6 7 8 9 10; do zfs destroy ${snap} && break; sleep 0.2; done; fi; echo ${SWEEP_PROBE} ${dataset} "\${n:--1}"`;
  });
  if (!Number.isInteger(lanes) || lanes < 1 || lanes > 64) throw new Error(`sweepProbeCommand: lanes must be 1..64, got ${lanes}`);
  const n = Math.min(lanes, lines.length);
  if (n <= 1) return { text: `set -o pipefail\n${lines.map((l) => l.text).join('\n')}`, display: `${lines.length} change probes (snapshot @${probe}, increment into zstreamdump, destroy)` };
  // Lanes: each a subshell running its share one after another, all lanes at once. ZFS commits the
  // snapshots and destroys of concurrent lanes in shared transaction groups, so the host waits for
  // one txg sync per round of lanes instead of one per project. Each result line is one short
  // write to the pipe, so lines of different lanes never interleave.
  const groups = Array.from({ length: n }, (_, k) => lines.filter((_, j) => j % n === k));
  const text = `set -o pipefail\n${groups.map((g) => `(\n${g.map((l) => l.text).join('\n')}\n) &`).join('\n')}\nwait`;
  return { text, display: `${lines.length} change probes in ${n} lanes (snapshot @${probe}, increment into zstreamdump, destroy)` };
}

export function parseSweepProbe(stdout: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const m = /^@@sweep-probe (\S+) (-?\d+)$/.exec(line.trim());
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

export interface SweepCheckProject {
  project: string;
  source: string;
  replicas: string[];
}

/**
 * Whether a project can be skipped given its copies, before the source's change probe: every replica
 * holds the source's newest snapshot (by guid) as its own newest, unmounted, unmodified, with the
 * source's quota and a current ledger. Returns why not, or null when only the probe remains.
 */
export function whyNotInSync(source: CopyState, replicas: readonly CopyState[], features: Pick<ZfsFeatures, 'writtenProperty'>): string | null {
  if (!source.exists) return 'the source has no dataset';
  const newest = newestSnapshot(source);
  if (!newest) return 'the source has no snapshot';
  if (features.writtenProperty && (source.written ?? 1) > 0) return `the source changed since @${newest.shortName}`;
  for (const r of replicas) {
    const action = replicaAction(source, r, newest);
    if (action.kind !== 'in-sync') return `${r.host}: ${action.kind === 'send' ? (action.from ? `behind (base @${action.from})` : 'no replica yet') : action.reason}`;
    const fixes = Object.keys(replicaPropertyFixes(source, r));
    if (fixes.length) return `${r.host}: ${fixes.join(', ')} to set`;
    if (!ledgerCurrent(r, newest, source.host)) return `${r.host}: ledger not current`;
  }
  return null;
}
