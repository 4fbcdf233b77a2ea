#!/usr/bin/env bash
# Runs the jest suite as RUNBOOK_TEST_SHARDS shards at once (default 2), each in its own network
# namespace with its own dev server, lab and worker (RUNBOOK_DATA_DIR, RUNBOOK_LAB_DIR), so they
# share nothing but the CPUs. Much of a test's time is spent waiting (heartbeat and sticky timeouts,
# emulated MAAS and migrations), which a second shard overlaps. test/shard-sequencer.js keeps the
# files of one lab scenario together. Output is live, each line tagged with its shard; the summary
# of each shard comes last. Extra arguments go to every jest (e.g. a test path pattern).
set -uo pipefail
cd "$(dirname "$0")/.."

shards=${RUNBOOK_TEST_SHARDS:-2}
if [[ ! $shards =~ ^[1-9]$ ]]; then
  echo "RUNBOOK_TEST_SHARDS must be 1 to 9, not '$shards'" >&2
  exit 2
fi
if ((shards == 1)); then exec npx jest --runInBand "$@"; fi
if [[ $EUID -ne 0 ]]; then
  echo "the sharded suite gives each shard its own network namespace, which needs root (as the lab does); RUNBOOK_TEST_SHARDS=1 runs it in one" >&2
  exit 2
fi

pids=()
for i in $(seq 1 "$shards"); do
  dir="$PWD/.data/shard-$i"
  rm -rf "$dir/lab" "$dir/jest.log"
  mkdir -p "$dir"
  (
    set -o pipefail
    unshare --net --fork bash -c 'ip link set lo up && exec "$@"' shard \
      env RUNBOOK_DATA_DIR="$dir" RUNBOOK_LAB_DIR="$dir/lab" npx jest --runInBand --shard="$i/$shards" "$@" 2>&1 |
      tee "$dir/jest.log" | sed -u "s/^/[$i] /"
  ) &
  pids+=($!)
done

status=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || status=1
done

for i in $(seq 1 "$shards"); do
  log="$PWD/.data/shard-$i/jest.log"
  echo
  echo "=== shard $i/$shards ($log)"
  # jest ends with the failing tests (when any) and the counts: that part, whole.
  if grep -q '^Summary of all failing tests' "$log"; then
    sed -n '/^Summary of all failing tests/,$p' "$log"
  else
    grep -E '^(Test Suites|Tests|Snapshots|Time|Ran all):?' "$log" || tail -n 20 "$log"
  fi
done
exit "$status"
