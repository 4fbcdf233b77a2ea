// What the lab guest prints on COM1 (lab/emulators/propolis/guest.ts), parsed: how it booted, its
// heartbeats (sequence, volume gen, time), its journal checks and its checks of the image's files. Downtime as the guest saw it is
// the gap between the last heartbeat on one gen and the first on the next.

export interface Heartbeat {
  seq: number;
  gen: number;
  at: number;
}

export interface GuestReport {
  booted: { label: string; uuid: string } | null;
  heartbeats: { first: number; last: number; count: number; lastGen: number | null; lastAt: number | null };
  /** Sequence numbers that did not follow their predecessor. */
  gaps: number[];
  gens: number[];
  journalChecks: string[];
  /** The guest's checks of the OS image's files (against the image's own /MANIFEST.sha256), e.g. "boot: 7 of 7 files ... intact". */
  imageChecks: string[];
  /** The sha256 the guest last read for each image file. */
  imageFiles: Record<string, string>;
  ioErrors: string[];
  /** Every change of gen in the heartbeats: the guest's pause around a migration or restart. */
  handovers: Array<{ fromGen: number; toGen: number; lastSeq: number; firstSeq: number; gapMs: number }>;
}

export function parseGuestSerial(text: string): GuestReport {
  const beats: Heartbeat[] = [...text.matchAll(/heartbeat seq=(\d+) gen=(\d+) at=(\d+)/g)].map((m) => ({ seq: Number(m[1]), gen: Number(m[2]), at: Number(m[3]) }));
  const boot = [...text.matchAll(/ext4 filesystem "([^"]*)" uuid ([0-9a-f-]+)/g)].pop();
  const gaps = beats
    .slice(1)
    .filter((b, i) => b.seq !== beats[i].seq + 1)
    .map((b) => b.seq);
  const handovers = beats
    .slice(1)
    .map((b, i) => ({ prev: beats[i], b }))
    .filter(({ prev, b }) => prev.gen !== b.gen)
    .map(({ prev, b }) => ({ fromGen: prev.gen, toGen: b.gen, lastSeq: prev.seq, firstSeq: b.seq, gapMs: b.at - prev.at }));
  const last = beats[beats.length - 1];
  return {
    booted: boot ? { label: boot[1], uuid: boot[2] } : null,
    heartbeats: { first: beats[0]?.seq ?? 0, last: last?.seq ?? 0, count: beats.length, lastGen: last?.gen ?? null, lastAt: last?.at ?? null },
    gaps,
    gens: [...new Set(beats.map((b) => b.gen))],
    journalChecks: [...text.matchAll(/journal check \(([^)]*)\): ([^\r\n]*)/g)].map((m) => `${m[1]}: ${m[2]}`),
    imageChecks: [...text.matchAll(/image check \(([^)]*)\): ([^\r\n]*)/g)].map((m) => `${m[1]}: ${m[2]}`),
    imageFiles: Object.fromEntries([...text.matchAll(/image file (\S+) sha256 ([0-9a-f]{64})/g)].map((m) => [m[1], m[2]])),
    ioErrors: [...text.matchAll(/disk io error[^\r\n]*/g)].map((m) => m[0]),
    handovers,
  };
}
