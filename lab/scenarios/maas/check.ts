import { bash } from '../../../activities/ssh/command';
import type { CheckReport, ScenarioContext } from '../types';

// The seed's goal, judged on the host alone (nsenter, not the runbook's code): "3 separate ZFS pools
// for Crucible storage isolation" — crucible1..3 ONLINE, mounted at /crucible1..3, ashift=12, each on
// its OWN partition of sda that is neither the EFI partition nor the root partition (strategy
// `partitions`), or each on its own sparse file under /var/lib (strategy `files`, the seed's fallback).

export const SEED_POOLS = ['crucible1', 'crucible2', 'crucible3'];

export async function checkCruciblePools(ctx: ScenarioContext, opts: { backing?: 'partitions' | 'files' } = {}): Promise<CheckReport> {
  const backing = opts.backing ?? 'partitions';
  const checks: CheckReport['checks'] = [];
  const r = await ctx.exec(
    bash`sda=$(readlink -f /dev/disk/by-dname/sda 2>/dev/null || true)
echo "SDA $sda"
[ -n "$sda" ] && sfdisk -J "$sda" | tr -d '\\n' && echo
for p in ${SEED_POOLS}; do
  h=$(zpool list -H -o health "$p" 2>/dev/null || echo MISSING)
  a=$(zpool get ashift "$p" 2>/dev/null | awk 'NR == 2 {print $3}' || true)
  mp=$(zfs get -H -o value mountpoint "$p" 2>/dev/null || echo -)
  mounted=$(zfs get -H -o value mounted "$p" 2>/dev/null || echo -)
  v=$(zpool status "$p" 2>/dev/null | awk -v p="$p" 'f && NF >= 2 && $1 != p {print $1; exit} $1 == "NAME" {f=1}')
  dev=-
  for c in "$v" "/dev/$v" "/dev/disk/by-partuuid/$v" "/dev/disk/by-id/$v"; do [ -n "$v" ] && [ -e "$c" ] && { dev=$(readlink -f "$c"); break; }; done
  kind=other; [ -b "$dev" ] && kind=block; [ -f "$dev" ] && kind=file
  echo "POOL $p|$h|\${a:--}|$mp|$mounted|\${v:--}|$dev|$kind"
done`,
    { timeoutMs: 60_000 },
  );
  const lines = r.stdout.split('\n');
  const sda = (lines.find((l) => l.startsWith('SDA ')) ?? 'SDA ').slice(4).trim();
  const tableLine = lines.find((l) => l.startsWith('{'));
  const parts = tableLine ? (JSON.parse(tableLine) as { partitiontable: { partitions: Array<{ node: string; type: string }> } }).partitiontable.partitions : [];
  const efi = parts.filter((p) => p.type.toUpperCase() === 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B').map((p) => p.node);
  const root = parts.find((p) => !efi.includes(p.node))?.node; // the first Linux partition after the EFI one: the root
  checks.push({ name: 'disk sda', ok: sda !== '' && parts.length > 0, detail: sda ? `${sda}: ${parts.length} partitions (${efi.length} EFI)` : 'no /dev/disk/by-dname/sda' });
  const used = new Set<string>();
  for (const line of lines.filter((l) => l.startsWith('POOL '))) {
    const [name, health, ashift, mp, mounted, vdev, dev, kind] = line.slice(5).split('|');
    const problems: string[] = [];
    if (health !== 'ONLINE') problems.push(`health ${health}`);
    if (ashift !== '12') problems.push(`ashift ${ashift}`);
    if (mp !== `/${name}` || mounted !== 'yes') problems.push(`mountpoint ${mp} mounted=${mounted}`);
    if (backing === 'partitions') {
      if (kind !== 'block' || !sda || !dev.startsWith(`${sda}p`)) problems.push(`vdev ${vdev} (${dev}) is not a partition of sda`);
      if (efi.includes(dev) || dev === root) problems.push(`vdev ${dev} is the ${efi.includes(dev) ? 'EFI' : 'root'} partition`);
    } else if (kind !== 'file' || !dev.startsWith('/var/lib/')) {
      problems.push(`vdev ${vdev} (${dev}) is not a file under /var/lib`);
    }
    if (used.has(dev)) problems.push(`shares ${dev} with another pool`);
    used.add(dev);
    checks.push({ name: `pool ${name}`, ok: problems.length === 0, detail: problems.length ? problems.join('; ') : `ONLINE on ${dev}, ${mp}, ashift 12` });
  }
  return { ok: checks.every((c) => c.ok), checks };
}
