#!/usr/bin/env bash
# The zfs-fuse-per-namespace spike, kept so anyone can re-run it and re-capture the fixtures the
# parser tests read (test/fixtures/zfs/). It proves, on this machine:
#   - two lab-like hosts (UTS + mount + PID namespaces, each with its own /run like the lab's hosts)
#     each run their OWN zfs-fuse daemon, with private dirs bind-mounted over /var/run/zfs,
#     /var/lock/zfs and /var/lib/zfs and --no-kstat-mount, and each has its own pool `projects`
#     on a sparse file;
#   - datasets, snapshots and `zfs send | zfs recv` between the two (piped through nsenter) work,
#     and what zfs-fuse refuses (captured with exact texts and exit codes);
#   - teardown by pid and path leaves no process, mount or file behind.
#
# usage: lab/zfs/spike.sh [--fixtures DIR] [--keep]     (as root)
#   --fixtures DIR  write one JSON per captured command into DIR (test/fixtures/zfs when re-capturing)
#   --keep          leave the namespaces running and print how to enter them (then clean up by hand)
set -uo pipefail

FIXTURES=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fixtures) FIXTURES=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--fixtures DIR] [--keep]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (zfs-fuse needs /dev/fuse and mount namespaces)" >&2; exit 1; }
for tool in zfs-fuse zfs zpool unshare nsenter jq zstreamdump; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install zfs-fuse jq util-linux)" >&2; exit 1; }
done

REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/zfs-spike.XXXXXX)
T=$WORK/tmp
mkdir -p "$T"
[ -n "$FIXTURES" ] && mkdir -p "$FIXTURES"
ZFS_FUSE_VERSION=$(dpkg-query -W -f '${Version}' zfs-fuse 2>/dev/null || echo unknown)
U1=0df21bd2-3a26-4c59-ac0b-cdbb293c4036   # the seed's first test project
U2=3702601d-9fbc-4e4e-b7ab-c10a79e34d3b   # the seed's "migrate me" project
declare -A NSPID                           # host -> host-side pid of the namespace's init
CREATED_PROJECTS_DIR=0
FAILURES=0

say() { printf '\n== %s\n' "$*"; }
fail() { echo "SPIKE FAILURE: $*" >&2; FAILURES=$((FAILURES + 1)); }

# Run a bash script inside host $1's namespaces (mount, UTS, PID), as lab/exec.ts will over ssh.
in_ns() { nsenter -t "${NSPID[$1]}" -m -u -p -- bash -c "$2"; }

# Save one captured command as a fixture: what ran where, its exit code, stdout and stderr verbatim.
save() {
  local name=$1 host=$2 command=$3 rc=$4 note=${5:-}
  [ -n "$FIXTURES" ] || return 0
  jq -n --arg name "$name" --arg host "$host" --arg command "$command" --argjson exitCode "$rc" \
    --rawfile stdout "$T/out" --rawfile stderr "$T/err" --arg zfs "zfs-fuse $ZFS_FUSE_VERSION" --arg note "$note" \
    '{name: $name, zfs: $zfs, host: $host, command: $command, exitCode: $exitCode, stdout: $stdout, stderr: $stderr} + (if $note == "" then {} else {note: $note} end)' \
    >"$FIXTURES/$name.json"
}

# cap NAME HOST COMMAND [NOTE]: run, show, save. Returns the command's exit code.
cap() {
  local name=$1 host=$2 command=$3 note=${4:-}
  in_ns "$host" "$command" >"$T/out" 2>"$T/err" </dev/null
  local rc=$?
  printf -- '-- %s [%s] exit %s: %s\n' "$name" "$host" "$rc" "$command"
  head -c 1500 "$T/out"; head -c 600 "$T/err" | sed 's/^/   stderr: /'
  save "$name" "$host" "$command" "$rc" "$note"
  return $rc
}

# capPipe NAME SRC SRC_COMMAND DST DST_COMMAND [NOTE]: SRC's stdout into DST's stdin, as a replication does.
# The fixture records the receiving side (stdout/stderr/exit of DST_COMMAND); the sender's stderr is kept in the note.
capPipe() {
  local name=$1 src=$2 scmd=$3 dst=$4 dcmd=$5 note=${6:-}
  in_ns "$src" "$scmd" 2>"$T/senderr" | in_ns "$dst" "$dcmd" >"$T/out" 2>"$T/err"
  local rcs=("${PIPESTATUS[@]}")
  printf -- '-- %s [%s -> %s] exit send=%s recv=%s: %s | %s\n' "$name" "$src" "$dst" "${rcs[0]}" "${rcs[1]}" "$scmd" "$dcmd"
  head -c 600 "$T/out"; head -c 600 "$T/err" | sed 's/^/   stderr: /'; head -c 300 "$T/senderr" | sed 's/^/   sender stderr: /'
  local sendnote
  sendnote="sender [$src]: $scmd (exit ${rcs[0]}) stderr: $(head -c 300 "$T/senderr")"
  save "$name" "$dst" "$dcmd" "${rcs[1]}" "${note:+$note. }$sendnote"
  return "${rcs[1]}"
}

must() { "$@" || fail "expected success: $*"; }
mustfail() { if "$@"; then fail "expected failure: $*"; fi; }

# A process is gone when /proc has no entry or it is a zombie (a namespace init like `sleep` never
# reaps, so a dead daemon can linger as Z; kill -0 would still succeed on it).
alive_in_ns() { # host nspid
  in_ns "$1" "st=\$(awk '/^State:/{print \$2}' /proc/$2/status 2>/dev/null); [ -n \"\$st\" ] && [ \"\$st\" != Z ]"
}

make_host() {
  local h=$1 dir=$WORK/$1
  mkdir -p "$dir/run" "$dir/zfs/run" "$dir/zfs/lock" "$dir/zfs/lib" "$dir/zfs/mnt"
  truncate -s 4G "$dir/zfs/pool.img"           # sparse: 4G apparent, a few MB real
  # The lab's hosts replace /run with their own folder; do the same, then bind the private zfs dirs
  # over the three places zfs-fuse hard-codes (socket+pid, lock file, zpool.cache), and a private
  # folder over /projects: without it the mount point directories of every host's datasets appear
  # in the machine's shared /projects (the pool root was NOT mounted over it after zpool create).
  setsid unshare --uts --mount --pid --fork --mount-proc --propagation private \
    bash -c 'set -e; hostname "$1"; mount --bind "$2/run" /run; mkdir -p /run/zfs /run/lock/zfs
             mount --bind "$2/zfs/run" /var/run/zfs; mount --bind "$2/zfs/lock" /var/lock/zfs; mount --bind "$2/zfs/lib" /var/lib/zfs
             mount --bind "$2/zfs/mnt" /projects
             exec sleep infinity' _ "spike-$h" "$dir" </dev/null >"$dir/ns.log" 2>&1 &
  local unshare_pid=$! child=""
  for _ in $(seq 100); do
    child=$(tr -d ' \n' </proc/$unshare_pid/task/$unshare_pid/children 2>/dev/null || true)
    [ -n "$child" ] && grep -q '^sleep' /proc/"$child"/cmdline 2>/dev/null && break
    sleep 0.05
  done
  [ -n "$child" ] || { cat "$dir/ns.log"; fail "namespace $h did not start"; exit 1; }
  NSPID[$h]=$child
  echo "$child" >"$dir/ns.pid"
}

say "1. two namespaces, one zfs-fuse each"
if [ ! -d /projects ]; then mkdir /projects; CREATED_PROJECTS_DIR=1; fi
make_host a
make_host b
# Host a: zfs-fuse daemonizes itself and writes its pid file (namespace pid).
must in_ns a 'rm -f /var/run/zfs/zfs-fuse.pid; zfs-fuse --no-kstat-mount -p /var/run/zfs/zfs-fuse.pid'
# Host b: foreground (-n), as the scenario runs it under ctx.spawn. With -n zfs-fuse does NOT write
# the -p pid file (verified), so the wrapper records its own pid and execs.
must in_ns b 'setsid bash -c '"'"'echo $$ >/var/run/zfs/zfs-fuse.pid; exec zfs-fuse -n --no-kstat-mount'"'"' >/var/run/zfs/zfs-fuse.log 2>&1 </dev/null &'
for h in a b; do
  must in_ns $h 'for i in $(seq 100); do [ -S /var/run/zfs/zfs_socket ] && zpool list >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1'
done
# Map each daemon's namespace pid to the host pid (NSpid's first field), to show both views.
for h in a b; do
  nspid=$(in_ns $h 'cat /var/run/zfs/zfs-fuse.pid')
  hostpid=""
  for st in /proc/[0-9]*/status; do
    p=${st#/proc/}; p=${p%/status}
    [ "$(readlink /proc/$p/ns/pid 2>/dev/null)" = "$(readlink /proc/${NSPID[$h]}/ns/pid)" ] || continue
    ns=$(awk '/^NSpid:/{print $NF}' "$st" 2>/dev/null)
    [ "$ns" = "$nspid" ] && hostpid=$p
  done
  echo "host $h: zfs-fuse pid $nspid inside its namespace, $hostpid on the machine; socket $(in_ns $h 'stat -c %i /var/run/zfs/zfs_socket')"
  echo "$hostpid" >"$WORK/$h/zfs-fuse.hostpid"
done
[ "$(in_ns a 'stat -c %d:%i /var/run/zfs/zfs_socket')" != "$(in_ns b 'stat -c %d:%i /var/run/zfs/zfs_socket')" ] || fail "both hosts see the same socket"
[ -z "$(ls -A /projects)" ] || fail "the machine's /projects is not empty"
[ ! -e /run/zfs/zfs_socket ] || fail "a socket leaked into the machine's own /run/zfs"

say "2. one pool 'projects' per host on a sparse file"
for h in a b; do
  start=$(date +%s%N)
  must in_ns $h "zpool create -m /projects projects $WORK/$h/zfs/pool.img"
  echo "host $h: pool root mounted right after zpool create: $(in_ns $h 'zfs get -H -o value mounted projects')"
  in_ns $h '[ "$(zfs get -H -o value mounted projects)" = yes ] || zfs mount projects'
  echo "host $h: zpool create took $(( ($(date +%s%N) - start) / 1000000 )) ms; image uses $(du -k "$WORK/$h/zfs/pool.img" | cut -f1) KiB of 4 GiB"
done
cap zpool-list-a a 'zpool list -H -o name,size,allocated,free,health'
cap zpool-list-b b 'zpool list -H -o name,size,allocated,free,health'
[ "$(in_ns a 'zfs get -H -o value guid projects')" != "$(in_ns b 'zfs get -H -o value guid projects')" ] || fail "hosts share one pool"
grep -q fuse.zfs /proc/self/mountinfo && fail "a zfs mount is visible in the machine's own namespace"

say "3. feature probe (activities/zfs/features.ts) and pool facts"
PROBE=$(cd "$REPO" && node_modules/.bin/tsx -e 'import { zfsFeatureProbeCommand } from "./activities/zfs/features"; process.stdout.write(zfsFeatureProbeCommand("projects").text)')
cap feature-probe a "$PROBE" 'output of zfsFeatureProbeCommand("projects") on zfs-fuse'
cap zpool-upgrade-v a 'zpool upgrade -v'
cap zpool-get-version a 'zpool get version projects'
cap zpool-get-H-rejected a 'zpool get -H -o value version projects' 'zfs-fuse zpool get has no -H/-o/-p'

say "4. projects with data, quota, snapshots"
must in_ns a "zfs create projects/$U1 && zfs set quota=1G projects/$U1 && zfs set atime=off projects/$U1 \
  && head -c 3000000 /dev/urandom >/projects/$U1/big.bin && echo hi >/projects/$U1/small.txt \
  && mkdir -p /projects/$U1/d/e && echo x >/projects/$U1/d/e/f && ln -s small.txt /projects/$U1/link"
must in_ns a "zfs create projects/$U2 && zfs set quota=512M projects/$U2 && zfs set atime=off projects/$U2 && zfs set runbook:owner=alice projects/$U2 && echo two >/projects/$U2/a.txt"
cap snapshot-colon-accepted a "zfs snapshot projects/$U1@2026-11-21T09:15:00Z" 'ISO-8601 with colons is a valid snapshot name on zfs-fuse'
must in_ns a "zfs destroy projects/$U1@2026-11-21T09:15:00Z"
cap snapshot-first a "zfs snapshot projects/$U1@rb-2026-11-21T09-15-00Z"
cap snapshot-many-rejected a "zfs snapshot projects/$U1@rb-many projects/$U2@rb-many" 'zfs-fuse takes one snapshot per command'
cap snapshot-user-property a "zfs set runbook:last-received=2026-11-21T09:15:00Z projects/$U1@rb-2026-11-21T09-15-00Z"
must in_ns a "zfs snapshot projects/$U2@rb-2026-11-21T09-15-00Z"

say "5. listing: what works, what zfs-fuse refuses"
cap list-filesystems a 'zfs list -H -o name -t filesystem -r projects'
cap list-project-dataset-names a 'zfs list -H -o name -t filesystem -d 1 projects'
cap list-snapshots-names a "zfs list -H -o name -t snapshot -s createtxg -d 1 projects/$U1"
cap list-snapshots-humanized a "zfs list -H -o name,guid,createtxg,used -t snapshot -s createtxg -d 1 projects/$U1" 'zfs list humanizes numbers even with -H: never parse numbers from it'
cap list-snapshots-no-depth-rejected a "zfs list -H -o name -t snapshot projects/$U1"
cap list-p-rejected a 'zfs list -H -p -o name,used projects'
cap get-t-rejected a 'zfs get -Hp -o name,property,value,source guid,creation -t snapshot,filesystem -r projects' 'zfs-fuse zfs get has no -t; use -r or -d'
cap get-written-rejected a "zfs get -Hp -o name,property,value,source written projects/$U1"
cap get-written-at-rejected a "zfs get -Hp -o name,property,value,source written@rb-2026-11-21T09-15-00Z projects/$U1"
cap get-resume-token-rejected a "zfs get -Hp -o name,property,value,source receive_resume_token projects/$U1"
cap get-tree-source a 'zfs get -Hp -r -o name,property,value,source type,guid,createtxg,creation,used,referenced,available,quota,refquota,mounted,mountpoint,canmount,readonly,atime,userrefs,runbook:last-received projects'
cap get-all-project a "zfs get -Hp -o name,property,value,source all projects/$U1"
cap get-missing-dataset a 'zfs get -Hp -o name,property,value,source guid projects/00000000-0000-4000-8000-000000000000'
cap dot-zfs-absent a "zfs set snapdir=visible projects/$U1 && ls -a /projects/$U1/.zfs/snapshot" 'no .zfs control directory in zfs-fuse, even with snapdir=visible: read a snapshot through a clone'
must in_ns a "zfs inherit snapdir projects/$U1"

say "6. holds, bookmarks, diff"
cap hold a "zfs hold repl:b projects/$U1@rb-2026-11-21T09-15-00Z"
cap get-userrefs-held a "zfs get -Hp -o name,property,value,source userrefs projects/$U1@rb-2026-11-21T09-15-00Z"
cap destroy-held-busy a "zfs destroy projects/$U1@rb-2026-11-21T09-15-00Z"
cap holds-broken a "zfs holds -H projects/$U1@rb-2026-11-21T09-15-00Z" 'zfs holds needs pyzfs, which zfs-fuse does not ship; the error goes to stdout'
cap release a "zfs release repl:b projects/$U1@rb-2026-11-21T09-15-00Z"
cap bookmark-unrecognized a "zfs bookmark projects/$U1@rb-2026-11-21T09-15-00Z projects/$U1#rb"
cap diff-unrecognized a "zfs diff projects/$U1@rb-2026-11-21T09-15-00Z"

say "7. send flags zfs-fuse refuses"
for f in c L e w n P; do cap "send-$f-rejected" a "zfs send -$f projects/$U1@rb-2026-11-21T09-15-00Z >/dev/null"; done
cap send-v-silent a "zfs send -v projects/$U2@rb-2026-11-21T09-15-00Z | wc -c" 'send -v prints nothing on zfs-fuse'

say "8. full replication a -> b, unmounted"
start=$(date +%s%N)
capPipe recv-full-verbose a "zfs send projects/$U1@rb-2026-11-21T09-15-00Z" b "zfs recv -u -v projects/$U1"
echo "full send|recv of a 3 MB project through two nsenter pipes: $(( ($(date +%s%N) - start) / 1000000 )) ms"
capPipe recv-full-props a "zfs send -p projects/$U2@rb-2026-11-21T09-15-00Z" b "zfs recv -u projects/$U2" 'send -p carries quota/atime/user properties as received'
cap get-replica-after-full b "zfs get -Hp -d 1 -o name,property,value,source guid,createtxg,creation,quota,mounted,mountpoint,canmount,atime,runbook:last-received projects/$U1"
cap get-replica-props-received b "zfs get -Hp -o name,property,value,source quota,atime,runbook:owner,mounted projects/$U2"
cap inherit-quota-refused b "zfs inherit quota projects/$U2" 'so `recv -x quota` cannot be emulated with zfs inherit; override with zfs set'
cap set-two-properties-refused b "zfs set atime=on readonly=on projects/$U2" 'zfs-fuse zfs set takes one property per command'

cap get-source-after-full a "zfs get -Hp -d 1 -o name,property,value,source guid,createtxg,creation,quota,mounted,mountpoint,canmount,atime,runbook:last-received projects/$U1"
cap recv-o-rejected b "zfs recv -u -o canmount=noauto projects/x </dev/null"
cap recv-x-rejected b "zfs recv -u -x mountpoint projects/x </dev/null"
cap recv-s-rejected b "zfs recv -s -u projects/x </dev/null"
cap recv-A-rejected b "zfs recv -A projects/x </dev/null"
must in_ns b "zfs set canmount=noauto projects/$U1 && zfs set readonly=on projects/$U1"

say "9. incremental, empty-increment probe"
must in_ns a "echo more >>/projects/$U1/small.txt && rm /projects/$U1/d/e/f && zfs snapshot projects/$U1@rb-2026-11-21T10-00-00Z"
cap zstreamdump-incremental a "zfs send -i @rb-2026-11-21T09-15-00Z projects/$U1@rb-2026-11-21T10-00-00Z | zstreamdump"
capPipe recv-incremental-verbose a "zfs send -i @rb-2026-11-21T09-15-00Z projects/$U1@rb-2026-11-21T10-00-00Z" b "zfs recv -u -v projects/$U1" 'into a readonly=on, canmount=noauto replica'
must in_ns a "zfs snapshot projects/$U1@probe"
cap zstreamdump-empty-incremental a "zfs send -i @rb-2026-11-21T10-00-00Z projects/$U1@probe | zstreamdump" 'an increment with no change: BEGIN + END only'
cap send-empty-incremental-bytes a "zfs send -i @rb-2026-11-21T10-00-00Z projects/$U1@probe | wc -c"
must in_ns a "zfs destroy projects/$U1@probe"
capPipe recv-same-increment-again a "zfs send -i @rb-2026-11-21T09-15-00Z projects/$U1@rb-2026-11-21T10-00-00Z" b "zfs recv -u projects/$U1" 'a retry of an increment that already arrived'
capPipe recv-incremental-missing-target a "zfs send -i @rb-2026-11-21T09-15-00Z projects/$U1@rb-2026-11-21T10-00-00Z" b "zfs recv -u projects/00000000-0000-4000-8000-000000000000"

say "10. a diverged replica"
must in_ns b "zfs set readonly=off projects/$U1 && zfs mount projects/$U1 && echo local >/projects/$U1/local.txt && zfs unmount projects/$U1"
must in_ns a "echo again >>/projects/$U1/small.txt && zfs snapshot projects/$U1@rb-2026-11-21T11-00-00Z"
capPipe recv-target-modified a "zfs send -i @rb-2026-11-21T10-00-00Z projects/$U1@rb-2026-11-21T11-00-00Z" b "zfs recv -u projects/$U1"
must in_ns b "zfs snapshot projects/$U1@manual-by-operator"
cap get-replica-diverged b "zfs get -Hp -d 1 -o name,property,value,source guid,createtxg,creation projects/$U1"
cap get-source-diverged a "zfs get -Hp -d 1 -o name,property,value,source guid,createtxg,creation projects/$U1"
capPipe recv-incremental-source-mismatch a "zfs send -i @rb-2026-11-21T10-00-00Z projects/$U1@rb-2026-11-21T11-00-00Z" b "zfs recv -u projects/$U1" 'the replica has a snapshot newer than the base'
capPipe recv-force-older-base-fails a "zfs send -i @rb-2026-11-21T10-00-00Z projects/$U1@rb-2026-11-21T11-00-00Z" b "zfs recv -u -F projects/$U1" 'zfs-fuse -F only rolls back to the newest snapshot; OpenZFS would destroy @manual-by-operator here'
must in_ns b "zfs destroy projects/$U1@manual-by-operator"
capPipe recv-force-rolls-back-modification a "zfs send -i @rb-2026-11-21T10-00-00Z projects/$U1@rb-2026-11-21T11-00-00Z" b "zfs recv -u -F projects/$U1" '-F discards local.txt written on the replica'
must in_ns b "zfs mount projects/$U1 && test ! -e /projects/$U1/local.txt && zfs unmount projects/$U1"

say "11. full streams onto existing replicas, truncated streams, quota"
capPipe recv-full-onto-existing a "zfs send projects/$U1@rb-2026-11-21T11-00-00Z" b "zfs recv -u projects/$U1"
capPipe recv-full-force-onto-existing-with-snapshots a "zfs send projects/$U1@rb-2026-11-21T11-00-00Z" b "zfs recv -u -F projects/$U1"
must in_ns b "zfs create projects/empty-target"
capPipe recv-full-onto-existing-without-snapshots a "zfs send projects/$U1@rb-2026-11-21T11-00-00Z" b "zfs recv -u projects/empty-target"
capPipe recv-truncated-full a "zfs send projects/$U1@rb-2026-11-21T11-00-00Z | head -c 100000" b "zfs recv -u projects/truncated"
cap list-after-truncated b 'zfs list -H -o name -r projects' 'a truncated full receive leaves no dataset behind'
must in_ns a "head -c 2000000 /dev/urandom >/projects/$U1/big2.bin && zfs snapshot projects/$U1@rb-2026-11-21T12-00-00Z"
capPipe recv-truncated-incremental a "zfs send -i @rb-2026-11-21T11-00-00Z projects/$U1@rb-2026-11-21T12-00-00Z | head -c 500000" b "zfs recv -u projects/$U1"
cap get-after-truncated-incremental b "zfs get -Hp -d 1 -o name,property,value,source guid,createtxg projects/$U1" 'the replica is still at its previous snapshot'
# A quota just above what the replica uses, so the 2 MB increment cannot fit.
must in_ns b "zfs set quota=\$(( \$(zfs get -Hp -o value used projects/$U1) + 300000 )) projects/$U1"
capPipe recv-quota-exceeded a "zfs send -i @rb-2026-11-21T11-00-00Z projects/$U1@rb-2026-11-21T12-00-00Z" b "zfs recv -u projects/$U1"
must in_ns b "zfs set quota=none projects/$U1"
capPipe recv-incremental-after-retry a "zfs send -i @rb-2026-11-21T11-00-00Z projects/$U1@rb-2026-11-21T12-00-00Z" b "zfs recv -u projects/$U1" 'after a truncated stream and a quota failure, the same increment succeeds: nothing was half-applied'
must in_ns a "zfs destroy projects/$U1@rb-2026-11-21T09-15-00Z && echo r >/projects/$U1/r.txt && zfs snapshot projects/$U1@rb-2026-11-21T13-00-00Z"
capPipe recv-R-force-destroys-missing a "zfs send -R -i @rb-2026-11-21T12-00-00Z projects/$U1@rb-2026-11-21T13-00-00Z" b "zfs recv -u -F -v projects/$U1" 'with -R and -F, zfs-fuse destroys replica snapshots the source no longer has (here @rb-2026-11-21T09-15-00Z)'
cap get-after-R-force b "zfs get -Hp -d 1 -o name,property,value,source guid,createtxg projects/$U1"

say "12. reading a snapshot's files: clone, hash, destroy"
must in_ns b "zfs clone -o mountpoint=/projects/check-$U1 -o readonly=on projects/$U1@rb-2026-11-21T13-00-00Z projects/check-$U1"
A_SUM=$(in_ns a "cd /projects/$U1 && find . -type f -print0 | sort -z | xargs -0 sha256sum")
B_SUM=$(in_ns b "cd /projects/check-$U1 && find . -type f -print0 | sort -z | xargs -0 sha256sum")
[ "$A_SUM" = "$B_SUM" ] && echo "per-file sha256 of source head and replica clone agree ($(echo "$A_SUM" | wc -l) files)" || fail "replica content differs: $A_SUM // $B_SUM"
cap destroy-mounted-clone-right-away b "zfs unmount projects/check-$U1; zfs destroy projects/check-$U1 || { sleep 0.5; zfs destroy projects/check-$U1; }" 'right after an unmount, destroy can fail with "dataset is busy" once; a retry after a moment succeeds'

say "13. teardown: export, stop each daemon by its pid, unmount, remove"
for h in a b; do
  start=$(date +%s%N)
  must in_ns $h 'zpool export projects'
  nspid=$(in_ns $h 'cat /var/run/zfs/zfs-fuse.pid')
  # Make sure the pid is still our daemon before signalling it.
  in_ns $h "tr '\\0' ' ' </proc/$nspid/cmdline | grep -q '^zfs-fuse '" || fail "pid $nspid on $h is not zfs-fuse"
  must in_ns $h "kill -TERM $nspid"
  for _ in $(seq 200); do alive_in_ns $h "$nspid" || break; sleep 0.05; done
  alive_in_ns $h "$nspid" && fail "zfs-fuse on $h still alive 10 s after SIGTERM"
  echo "host $h: export + SIGTERM -> daemon gone in $(( ($(date +%s%N) - start) / 1000000 )) ms"
  cap "mounts-after-teardown-$h" $h "grep -E 'fuse|zfs' /proc/self/mountinfo | awk '{print \$5, \$9}'" 'only the three private bind mounts remain, no fuse.zfs'
  in_ns $h "grep -q ' fuse.zfs ' /proc/self/mountinfo" && fail "fuse.zfs mount left on $h"
  must in_ns $h 'umount /projects /var/run/zfs /var/lock/zfs /var/lib/zfs'
done
if [ $KEEP = 1 ]; then
  echo "kept: nsenter -t ${NSPID[a]} -m -u -p bash   /   nsenter -t ${NSPID[b]} -m -u -p bash   (work dir $WORK)"
  exit $FAILURES
fi
for h in a b; do
  kill -KILL "${NSPID[$h]}"                     # the namespace's init; the kernel ends the rest of it
done
for h in a b; do
  for _ in $(seq 100); do [ -e /proc/${NSPID[$h]} ] || break; sleep 0.05; done
  [ -e /proc/"${NSPID[$h]}" ] && [ "$(awk '/^State:/{print $2}' /proc/${NSPID[$h]}/status)" != Z ] && fail "namespace init ${NSPID[$h]} survived"
  hp=$(cat "$WORK/$h/zfs-fuse.hostpid")
  [ -n "$hp" ] && [ -e /proc/$hp ] && [ "$(awk '/^State:/{print $2}' /proc/$hp/status)" != Z ] && fail "zfs-fuse host pid $hp survived"
done
rm -rf "$WORK"
[ -z "$(ls -A /projects 2>/dev/null)" ] || fail "the machine's /projects is not empty: $(ls /projects | head -3)"
[ $CREATED_PROJECTS_DIR = 1 ] && rmdir /projects
[ -e /run/zfs ] && fail "/run/zfs exists on the machine"
[ -n "$(ls -A /var/lib/zfs 2>/dev/null)" ] && fail "/var/lib/zfs on the machine is not empty"
grep -q fuse.zfs /proc/self/mountinfo && fail "fuse.zfs mounts on the machine"

say "done: $FAILURES failure(s)"
exit $FAILURES
