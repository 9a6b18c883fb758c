#!/usr/bin/env bash
# What a troubled worker costs: a job through one healthy worker alone, then the same job
# with a second worker beside it that is slow (the test-only faulty worker at 20x), behind
# a 5 MB/s link (a network namespace with tc; root only), or frozen with SIGSTOP a second
# into the job. Prints wall time against the healthy worker alone, the duplicates spent,
# and the chunks the troubled worker delivered. Target: at most 1.1x, a handful of
# duplicates. Timings come from one machine at one time; compare ratios within a run.
#
# usage: bench/faults.sh [INPUT]        (default: a 256 MiB corpus of this machine's files)
#   ROUNDS=3    runs of each scenario, alternating
#   LEVEL=6
#   BLOCK=1M
#   GZFLEET=... the coordinator to measure (another build's, for before/after)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_setup 256M "$@"
ROUNDS=${ROUNDS:-3}; LEVEL=${LEVEL:-6}; BLOCK=${BLOCK:-1M}
cargo build --release --quiet --features fault-injection --bin gzfleet --bin gzfleet-worker --bin gzfleet-worker-faulty
bin=$root/target/release
GZFLEET=${GZFLEET:-$bin/gzfleet}
tmp=$(mktemp -d)
netns=gzfleet-bench-slow
cleanup() {
  kill -CONT $(jobs -p) 2>/dev/null || true
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${link_up:-}" ]; then ip netns del "$netns" 2>/dev/null || true; ip link del gzfb-h 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME CMD...: starts a worker listening on port 0 (or as CMD says); sets $addr.
start() {
  local name=$1; shift
  "$@" > "$tmp/$name.out" 2>/dev/null &
  echo $! > "$tmp/$name.pid"
  until grep -q listening "$tmp/$name.out" 2>/dev/null; do sleep 0.05; done
  addr=$(awk '{print $4}' "$tmp/$name.out")
}

# A 5 MB/s link to a worker in its own network namespace, when we may build one.
link_up=
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v tc >/dev/null; then
  ip netns del "$netns" 2>/dev/null || true; ip link del gzfb-h 2>/dev/null || true
  ip netns add "$netns"
  ip link add gzfb-h type veth peer name gzfb-w
  ip link set gzfb-w netns "$netns"
  ip addr add 10.78.0.1/24 dev gzfb-h && ip link set gzfb-h up
  ip netns exec "$netns" ip addr add 10.78.0.2/24 dev gzfb-w
  ip netns exec "$netns" ip link set gzfb-w up
  ip netns exec "$netns" ip link set lo up
  # Requests carry the chunks: limit what flows toward the worker.
  tc qdisc add dev gzfb-h root tbf rate 40mbit burst 64kb latency 400ms
  link_up=1
else
  echo "bench: not root, or no ip/tc: skipping the 5 MB/s link scenario" >&2
fi

start healthy "$bin/gzfleet-worker" --listen 127.0.0.1:0 --slots 1; healthy=$addr
start slow "$bin/gzfleet-worker-faulty" --listen 127.0.0.1:0 --slots 1 --fault-slow 20; slow=$addr
if [ -n "$link_up" ]; then
  start linked ip netns exec "$netns" "$bin/gzfleet-worker" --listen 10.78.0.2:7070 --slots 1; linked=$addr
fi

# job NAME WORKERS [TROUBLED]: one compression; appends "name secs duplicates chunks".
job() {
  local name=$1 workers=$2 troubled=${3:-}
  local t0 t1
  t0=$(date +%s.%N)
  "$GZFLEET" compress -q -"$LEVEL" -b "$BLOCK" --workers "$workers" \
    --stats-json "$tmp/stats.json" -c "$input" > /dev/null
  t1=$(date +%s.%N)
  python3 - "$name" "$t0" "$t1" "$troubled" "$tmp/stats.json" >> "$tmp/results" <<'EOF'
import json, sys
name, t0, t1, troubled, path = sys.argv[1:]
job = json.load(open(path))["jobs"][0]
chunks = sum(w["chunks"] for w in job["workers"] if w["name"] == troubled)
print(name, float(t1) - float(t0), job["speculative"], chunks if troubled else "-")
EOF
}

for round in $(seq "$ROUNDS"); do
  job alone "$healthy"
  job slow-20x "$healthy,$slow" "$slow"
  [ -n "$link_up" ] && job link-5MB/s "$healthy,$linked" "$linked"
  # A fresh worker each round, frozen a second into the job, thawed after it.
  start paused "$bin/gzfleet-worker" --listen 127.0.0.1:0 --slots 1; paused=$addr
  ( sleep 1; kill -STOP "$(cat "$tmp/paused.pid")" ) &
  job paused "$healthy,$paused" "$paused"
  kill -CONT "$(cat "$tmp/paused.pid")"; kill "$(cat "$tmp/paused.pid")"
done

echo "input: $input ($(stat -c %s "$input") bytes), level $LEVEL, -b $BLOCK, $ROUNDS rounds, $(nproc) cores"
echo "coordinator: $GZFLEET"
printf "%-12s %8s %9s %12s %16s\n" "scenario" "seconds" "vs alone" "duplicates" "troubled chunks"
awk '
  { n[$1]++; t[$1] += $2; d[$1] += $3; if ($4 != "-") c[$1] += $4; else c[$1] = "-" }
  END {
    for (k in n) {
      chunks = (c[k] == "-") ? "-" : sprintf("%.1f", c[k] / n[k])
      printf "%-12s %8.2f %8.2fx %12.1f %16s\n", k, t[k] / n[k], (t[k] / n[k]) / (t["alone"] / n["alone"]), d[k] / n[k], chunks
    }
  }' "$tmp/results" | sort
