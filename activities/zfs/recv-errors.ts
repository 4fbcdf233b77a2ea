// What a failed `zfs recv` means, from its stderr. The texts are the same on zfs-fuse and OpenZFS
// for the common cases (captured from zfs-fuse under test/fixtures/zfs/recv-*.json); zfs wraps long
// messages onto a second line ("... does not\nmatch incremental source"), so whitespace is folded
// before matching. Each kind says what the runbook should do next; none of them is retried blindly.

export type ReceiveFailureKind =
  /** The replica was written to after its newest snapshot (mounted with atime, or by hand). A rollback (-F) would discard it. */
  | 'target-modified'
  /** The replica's newest snapshot is not the increment's base: it has an extra snapshot, lacks the base, or the increment already arrived. */
  | 'incremental-base-mismatch'
  /** A full stream into a dataset that already exists (zfs wants -F). */
  | 'target-exists'
  /** A full stream with -F into a dataset that has snapshots: zfs refuses to destroy them. */
  | 'target-has-snapshots'
  /** The stream ended early or is not a stream (a cut connection, a killed sender). Nothing was applied. */
  | 'stream-truncated'
  /** Quota or pool space ran out; nothing was applied. */
  | 'out-of-space'
  /** OpenZFS: an interrupted `recv -s` left partial state; resume with its token or abort with `recv -A`. */
  | 'partial-receive-state'
  /** OpenZFS: a resume token refers to a snapshot the sender no longer has; abort with `recv -A` and start over. */
  | 'resume-source-gone'
  /** The dataset is busy (a concurrent receive, a hold, or a just-unmounted filesystem). */
  | 'busy'
  /** A flag this ZFS does not have (zfs-fuse: -o, -x, -s, -A). The feature probe should have prevented it. */
  | 'unsupported-option'
  | 'unknown';

export interface ReceiveFailure {
  kind: ReceiveFailureKind;
  /** The dataset or snapshot named in the message, when there is one. */
  subject: string | null;
  /** The message folded onto one line. */
  message: string;
  /** Whether running the very same receive again can succeed without anyone changing anything. */
  retryable: boolean;
}

const PATTERNS: Array<{ kind: ReceiveFailureKind; re: RegExp; retryable: boolean }> = [
  { kind: 'unsupported-option', re: /invalid option '(.)'/, retryable: false },
  { kind: 'partial-receive-state', re: /destination (\S+) contains partially-complete state/, retryable: false },
  { kind: 'resume-source-gone', re: /'([^']+)' used in the initial send no longer exists/, retryable: false },
  { kind: 'target-modified', re: /destination (\S+) has been modified since most recent snapshot/, retryable: false },
  { kind: 'incremental-base-mismatch', re: /most recent snapshot of (\S+) does not match incremental source/, retryable: false },
  { kind: 'target-has-snapshots', re: /destination has snapshots \(eg\. (\S+)\) must destroy them to overwrite it/, retryable: false },
  { kind: 'target-exists', re: /destination '([^']+)' exists must specify -F to overwrite it/, retryable: false },
  { kind: 'stream-truncated', re: /invalid backup stream|invalid stream \(bad magic number\)|checksum mismatch or incomplete stream|incomplete stream/, retryable: true },
  { kind: 'out-of-space', re: /out of space|disk quota exceeded|space quota exceeded/i, retryable: false },
  { kind: 'busy', re: /dataset is busy|'([^']+)': dataset is busy/, retryable: true },
];

/** Classify `zfs recv` stderr. */
export function classifyReceiveFailure(stderr: string): ReceiveFailure {
  const message = stderr.replace(/\s+/g, ' ').trim();
  for (const p of PATTERNS) {
    const m = p.re.exec(message);
    if (m) return { kind: p.kind, subject: p.kind === 'unsupported-option' ? null : (m[1] ?? null), message, retryable: p.retryable };
  }
  return { kind: 'unknown', subject: null, message, retryable: false };
}
