import { sh, type ShellCommand } from '../ssh/command';
import { LEDGER_DIR, ledgerFile } from './requests';

// The commands liveMigrate runs on the storage host (pure builders, shared by plan and act).

export const regionJsonCommand = (dir: string): ShellCommand => sh`cat ${`${dir}/region.json`}`;

export const dumpCommand = (dirs: string[]): ShellCommand => sh`crucible-downstairs dump ${dirs.flatMap((d) => ['-d', d])} --no-color`;

export const readLedgerCommand = (volumeId: string): ShellCommand => sh`cat ${ledgerFile(volumeId)} 2>/dev/null || true`;

/**
 * Reserve a gen in the volume's ledger, under a lock, fsync'd before it answers: the gen is the
 * larger of `floor` and one more than every gen the ledger ever handed out (exact: `floor` itself,
 * refused with exit 3 unless it is above them all). A reservation is keyed: asking again with the
 * same key (an activity retried after a crash) answers the gen already reserved, never a second one.
 */
export function reserveGenCommand(volumeId: string, key: string, purpose: string, floor: number, exact: boolean): ShellCommand {
  const file = ledgerFile(volumeId);
  return sh`set -eu
mkdir -p ${LEDGER_DIR}
f=${file}
exec 9>>"$f.lock"
flock 9
touch "$f"
prev=$(grep -F -- ${`"key":${JSON.stringify(key)}`} "$f" | head -n 1 || true)
if [ -n "$prev" ]; then printf '%s\\n' "$prev"; exit 0; fi
max=$(sed -n 's/^{"gen":\\([0-9]*\\),.*/\\1/p' "$f" | sort -n | tail -n 1)
max=\${max:-0}
want=${floor}
if [ ${exact ? 1 : 0} = 1 ]; then
  if [ "$want" -le "$max" ]; then echo "gen $want was already handed out for this volume (the ledger's highest is $max)" >&2; exit 3; fi
  gen=$want
elif [ "$want" -gt "$max" ]; then gen=$want
else gen=$((max + 1))
fi
line=$(printf '{"gen":%s,"key":%s,"purpose":%s,"at":"%s"}' "$gen" ${JSON.stringify(key)} ${JSON.stringify(purpose)} "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
printf '%s\\n' "$line" >>"$f"
sync "$f" 2>/dev/null || sync
printf '%s\\n' "$line"`;
}
