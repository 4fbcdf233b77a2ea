import { z } from 'zod';
import { raw, sh, type ShellCommand } from '../ssh/command';
import { ZfsOutputError, outputLines } from './errors';
import { poolNameSchema } from './names';

// What this host's ZFS can do, probed ONCE per host (not per command) by one read-only script.
// Each probe calls a command in a form that either fails at option parsing (feature missing) or gets
// past it and stops at a missing argument (feature present), so nothing is ever created, received or
// changed. Classification looks only for the rejection texts both zfs-fuse 0.7 and OpenZFS print:
// "invalid option 'x'", "unrecognized command 'x'", "bad property list: invalid property 'x'".
// Anything unrecognised counts as "not supported": the runbook then takes the zfs-fuse path, which
// every ZFS accepts.

const PROBE_MARK = '@@probe';

/** The probes, in order: name → the command (without redirections; the script adds them). */
function probeList(pool: string): Array<[string, ShellCommand]> {
  return [
    ['zfs-version', sh`zfs version`],
    ['upgrade-v', sh`zpool upgrade -v`],
    ['pool-version', sh`zpool get version ${pool}`],
    ['feature-bookmarks', sh`zpool get feature@bookmarks ${pool}`],
    ['feature-extensible-dataset', sh`zpool get feature@extensible_dataset ${pool}`],
    ['get-written', sh`zfs get -H -o value written ${pool}`],
    ['list-parsable', sh`zfs list -H -p -o name -d 0 ${pool}`],
    ['recv-unmounted', sh`zfs receive -u`],
    ['recv-property-override', sh`zfs receive -o readonly=on -x atime`],
    ['recv-resumable', sh`zfs receive -s -A`],
    ['hold', sh`zfs hold`],
    ['holds-list', sh`zfs holds -H ${`${pool}@rb-feature-probe-does-not-exist`}`],
    ['bookmark', sh`zfs bookmark`],
    ['send-compressed', sh`zfs send -c`],
    ['send-raw', sh`zfs send -w`],
    ['send-large-blocks', sh`zfs send -L`],
    ['send-estimate', sh`zfs send -n -P`],
    ['snapshot-usage', sh`zfs snapshot`],
    ['zstreamdump', sh`command -v zstreamdump`],
    ['zfs-fuse', sh`command -v zfs-fuse`],
  ];
}

/**
 * One bash script printing, per probe, `@@probe <name> <exit code>` and the first lines of its
 * combined output (zfs-fuse prints the `zfs holds` failure on stdout, usage texts go to stderr).
 * Read-only; stdin is /dev/null so no receive can ever read a stream.
 */
export function zfsFeatureProbeCommand(pool: string): ShellCommand {
  poolNameSchema.parse(pool);
  const probes = probeList(pool).map(([name, cmd]) => sh`probe ${name} ${raw(cmd.text)}`);
  const body = probes.map((p) => p.text).join('\n');
  return {
    text: `probe() { local name=$1; shift; local out rc; out=$("$@" 2>&1 </dev/null); rc=$?; printf '${PROBE_MARK} %s %s\\n' "$name" "$rc"; printf '%s\\n' "$out" | head -n 8; }\n${body}\n`,
    display: `zfs feature probe of pool ${pool} (read-only: ${probeList(pool).length} commands)`,
  };
}

export interface ProbeResult {
  exitCode: number;
  output: string;
}

/** `@@probe name rc` blocks → name → result. */
export function parseProbeBlocks(stdout: string): Map<string, ProbeResult> {
  const results = new Map<string, ProbeResult>();
  let current: { name: string; exitCode: number; lines: string[] } | null = null;
  const flush = () => {
    if (current) results.set(current.name, { exitCode: current.exitCode, output: current.lines.join('\n') });
  };
  outputLines(stdout).forEach((line, i) => {
    if (line.startsWith(`${PROBE_MARK} `)) {
      flush();
      const m = /^@@probe (\S+) (\d+)$/.exec(line);
      if (!m) throw new ZfsOutputError('zfs feature probe', i + 1, line, 'malformed probe header');
      current = { name: m[1], exitCode: Number(m[2]), lines: [] };
    } else if (current) {
      current.lines.push(line);
    } else {
      throw new ZfsOutputError('zfs feature probe', i + 1, line, 'output before the first probe header');
    }
  });
  flush();
  return results;
}

export const zfsFeaturesSchema = z.object({
  /** zfs-fuse reports legacy pool version 23 and has a zfs-fuse daemon; OpenZFS reports feature flags. */
  implementation: z.enum(['zfs-fuse', 'openzfs', 'unknown']),
  /** `zfs version`'s first line (OpenZFS 0.8+), e.g. `zfs-2.1.11-1`; null where the command is missing. */
  version: z.string().nullable(),
  /** The highest legacy pool version the tools support (zfs-fuse: 23), null on feature-flag systems. */
  maxLegacyPoolVersion: z.number().int().nullable(),
  /** The probed pool's version; null when it uses feature flags (OpenZFS prints `-`). */
  poolVersion: z.number().int().nullable(),
  /** `written` and `written@snap`: O(1) "changed since the last replicated snapshot?" (OpenZFS 0.6+). */
  writtenProperty: z.boolean(),
  /** `zfs list -p`: exact numbers from list (OpenZFS 0.6.3+). Parsers use `zfs get -Hp` regardless. */
  listParsable: z.boolean(),
  /** `zfs recv -u`: receive without mounting (every ZFS; zfs-fuse's usage text omits it but accepts it). */
  recvUnmounted: z.boolean(),
  /** `zfs recv -o prop=value -x prop` (OpenZFS 0.7+). Without it, set mountpoint/canmount right after the first receive. */
  recvPropertyOverride: z.boolean(),
  /** `zfs recv -s`, `-A`, `send -t` and `receive_resume_token` (OpenZFS 0.7+, needs feature@extensible_dataset). */
  resumableReceive: z.boolean(),
  /** `zfs hold`/`zfs release` (pool version 18+). */
  holds: z.boolean(),
  /** `zfs holds` lists holds; broken on zfs-fuse (needs pyzfs): read the `userrefs` property instead. */
  holdsList: z.boolean(),
  /** `zfs bookmark` and an enabled/active feature@bookmarks on the probed pool. */
  bookmarks: z.boolean(),
  /** `zfs send -c` (OpenZFS 0.7+). */
  sendCompressed: z.boolean(),
  /** `zfs send -w` (OpenZFS 0.8+). */
  sendRaw: z.boolean(),
  /** `zfs send -L` (OpenZFS 0.6.5+). */
  sendLargeBlocks: z.boolean(),
  /** `zfs send -nP`: a size estimate before sending; without it, count bytes as they flow. */
  sendEstimate: z.boolean(),
  /** `zfs snapshot a@s b@s`: several snapshots in one txg (zfs-fuse: "too many arguments"). */
  snapshotMany: z.boolean(),
  /** Path of zstreamdump, used on zfs-fuse to tell an empty incremental stream from a non-empty one. */
  zstreamdump: z.string().nullable(),
  /** Per probe, its exit code and the first line of its output: the evidence behind each answer. */
  evidence: z.record(z.string(), z.string()),
});
export type ZfsFeatures = z.infer<typeof zfsFeaturesSchema>;

const REQUIRED_PROBES = ['upgrade-v', 'pool-version', 'recv-unmounted', 'hold', 'zstreamdump'];

function rejected(r: ProbeResult | undefined): boolean {
  if (!r) return true;
  return /invalid option '.'|unrecognized command '|bad property list: invalid property|invalid property '/.test(r.output);
}

/** The VALUE column of `zpool get <prop> <pool>` (zfs-fuse's zpool get has no -H/-o, so read the table). */
function zpoolGetValue(r: ProbeResult | undefined): string | null {
  if (!r || r.exitCode !== 0) return null;
  const rows = r.output.split('\n').filter((l) => l.trim() !== '' && !/^NAME\s+PROPERTY\s+VALUE/.test(l));
  if (rows.length !== 1) return null;
  const cols = rows[0].trim().split(/\s+/);
  return cols.length >= 3 ? cols[2] : null;
}

/** Feature probe output (see zfsFeatureProbeCommand) → what this host's ZFS supports. */
export function parseZfsFeatureProbe(stdout: string): ZfsFeatures {
  const p = parseProbeBlocks(stdout);
  const missing = REQUIRED_PROBES.filter((n) => !p.has(n));
  if (missing.length > 0) throw new ZfsOutputError('zfs feature probe', 0, stdout.slice(0, 200), `missing probes: ${missing.join(', ')}`);
  const get = (n: string) => p.get(n);
  const cmdPresent = (n: string) => {
    const r = get(n);
    return r !== undefined && r.exitCode === 0 && r.output.trim() !== '' ? r.output.trim().split('\n')[0] : null;
  };

  const upgrade = get('upgrade-v')?.output ?? '';
  const legacy = /running ZFS pool version (\d+)\./.exec(upgrade);
  const featureFlags = /supports ZFS pool feature flags/.test(upgrade);
  const poolVersionValue = zpoolGetValue(get('pool-version'));
  const poolVersion = poolVersionValue !== null && /^\d+$/.test(poolVersionValue) ? Number(poolVersionValue) : null;
  const zfsVersion = get('zfs-version');
  const version = zfsVersion && zfsVersion.exitCode === 0 && !rejected(zfsVersion) ? zfsVersion.output.split('\n')[0].trim() || null : null;
  const zfsFuse = cmdPresent('zfs-fuse');
  const implementation = featureFlags ? 'openzfs' : legacy && zfsFuse ? 'zfs-fuse' : 'unknown';

  const bookmarkFeature = zpoolGetValue(get('feature-bookmarks'));
  const extensible = zpoolGetValue(get('feature-extensible-dataset'));
  const holdsList = get('holds-list');
  const snapshotUsage = get('snapshot-usage')?.output ?? '';
  const usageLine = snapshotUsage.split('\n').find((l) => /^\s*snapshot \[/.test(l)) ?? '';

  const evidence: Record<string, string> = {};
  for (const [name, r] of p) {
    // The first informative line: skip blank lines and zpool's table header.
    const line = r.output.split('\n').find((l) => l.trim() !== '' && !/^NAME\s+PROPERTY\s+VALUE/.test(l)) ?? '';
    evidence[name] = `exit ${r.exitCode}: ${line.trim()}`;
  }

  return zfsFeaturesSchema.parse({
    implementation,
    version,
    maxLegacyPoolVersion: legacy ? Number(legacy[1]) : null,
    poolVersion,
    writtenProperty: get('get-written')?.exitCode === 0 && !rejected(get('get-written')),
    listParsable: get('list-parsable')?.exitCode === 0 && !rejected(get('list-parsable')),
    recvUnmounted: !rejected(get('recv-unmounted')),
    recvPropertyOverride: !rejected(get('recv-property-override')),
    // The flags alone are not enough: OpenZFS accepts -s on a pool without extensible_dataset and then fails the receive.
    resumableReceive: !rejected(get('recv-resumable')) && (extensible === 'enabled' || extensible === 'active'),
    holds: !rejected(get('hold')),
    holdsList: holdsList !== undefined && !rejected(holdsList) && !/pyzfs/.test(holdsList.output) && holdsList.exitCode !== 255,
    bookmarks: !rejected(get('bookmark')) && (bookmarkFeature === 'enabled' || bookmarkFeature === 'active'),
    sendCompressed: !rejected(get('send-compressed')),
    sendRaw: !rejected(get('send-raw')),
    sendLargeBlocks: !rejected(get('send-large-blocks')),
    sendEstimate: !rejected(get('send-estimate')),
    // OpenZFS's usage ends `<filesystem|volume>@<snap> ...`; zfs-fuse's `<filesystem@snapname|volume@snapname>`.
    snapshotMany: /@<snap> \.\.\.\s*$/.test(usageLine),
    zstreamdump: cmdPresent('zstreamdump'),
    evidence,
  });
}

/**
 * What the runbook assumes before a probe has run (plan mode, or a host it cannot reach): the
 * zfs-fuse subset, which every ZFS accepts.
 */
export const LOWEST_COMMON_ZFS_FEATURES: ZfsFeatures = zfsFeaturesSchema.parse({
  implementation: 'unknown',
  version: null,
  maxLegacyPoolVersion: null,
  poolVersion: null,
  writtenProperty: false,
  listParsable: false,
  recvUnmounted: true,
  recvPropertyOverride: false,
  resumableReceive: false,
  holds: true,
  holdsList: false,
  bookmarks: false,
  sendCompressed: false,
  sendRaw: false,
  sendLargeBlocks: false,
  sendEstimate: false,
  snapshotMany: false,
  zstreamdump: null,
  evidence: {},
});
