import { sh, type ShellCommand } from '../ssh/command';
import { ledgerFiles } from './requests';

// The commands liveMigrate runs on the storage host (pure builders, shared by plan and act).

export const regionJsonCommand = (dir: string): ShellCommand => sh`cat ${`${dir}/region.json`}`;

export const dumpCommand = (dirs: string[]): ShellCommand => sh`crucible-downstairs dump ${dirs.flatMap((d) => ['-d', d])} --no-color`;

export const readLedgerCommand = (regionDirs: string[], volumeId: string): ShellCommand => sh`cat ${ledgerFiles(regionDirs, volumeId)} 2>/dev/null || true`;

/**
 * Reserve a gen in the volume's ledger (three copies, one beside each region), under a lock, fsync'd
 * before it answers: the gen is the larger of `floor` and one more than every gen any copy ever
 * handed out (exact: `floor` itself, refused with exit 3 unless it is above them all). A reservation
 * is keyed: asking again with the same key (an activity retried after a crash) answers the gen
 * already reserved, never a second one.
 */
export function reserveGenCommand(regionDirs: string[], volumeId: string, key: string, purpose: string, floor: number, exact: boolean): ShellCommand {
  const files = ledgerFiles(regionDirs, volumeId);
  return sh`set -eu
for f in ${files}; do mkdir -p "$(dirname "$f")"; touch "$f"; done
exec 9>>${`${files[0]}.lock`}
flock 9
prev=$(cat ${files} | grep -F -- ${`"key":${JSON.stringify(key)}`} | head -n 1 || true)
if [ -n "$prev" ]; then printf '%s\\n' "$prev"; exit 0; fi
max=$(cat ${files} | sed -n 's/^{"gen":\\([0-9]*\\),.*/\\1/p' | sort -n | tail -n 1)
max=\${max:-0}
want=${floor}
if [ ${exact ? 1 : 0} = 1 ]; then
  if [ "$want" -le "$max" ]; then echo "gen $want was already handed out for this volume (the ledger's highest is $max)" >&2; exit 3; fi
  gen=$want
elif [ "$want" -gt "$max" ]; then gen=$want
else gen=$((max + 1))
fi
line=$(printf '{"gen":%s,"key":%s,"purpose":%s,"at":"%s"}' "$gen" ${JSON.stringify(key)} ${JSON.stringify(purpose)} "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
for f in ${files}; do printf '%s\\n' "$line" >>"$f"; done
sync ${files} 2>/dev/null || sync
printf '%s\\n' "$line"`;
}
