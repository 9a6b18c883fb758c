#!/usr/bin/env bash
# How the fleet scales when the coordinator's network card is the narrow part: worker
# hosts and a coordinator, each in its own network namespace on one bridge, the
# coordinator's link shaped with tc (both directions), a folder of this machine as the
# shared storage every host mounts (workers read it with --root in pull mode and write
# it with --write-root in direct output). The embedded pool first (no network: the
# machine's ceiling, and the reference bytes), then push, pull and direct output with 1,
# 2 and 4 workers, then each mode unshaped for reference: input MB/s, the coordinator's CPU
# seconds per GiB of input, the bytes through its link per GiB, how busy the link and the
# cores were (all of this run's processes' CPU over wall time x cores: on a shared
# machine, a low figure means others had the cores), and whether the output is
# byte-identical to the embedded pool's (cmp).
#
# Storage I/O does not cross the shaped link (as if the storage had a network of its
# own): on NFS behind the same card, push and pull would fare worse still. More workers
# than cores is fine here: the link is the limit being shown; direct output is bounded
# by the machine's cores instead. Timings come from one machine at one time (and a shared
# machine is noisy): compare ratios within a run, such as direct against pull.
#
# usage: bench/scaling.sh [INPUT]    (root; default: a SIZE corpus of this machine's files)
#   SIZE=256M     the corpus built when no INPUT is named (bench/corpus.sh)
#   RATE=20       the coordinator's link, MB/s each way (tc tbf)
#   WORKERS="1 2 4"  worker counts (one worker host each, SLOTS slots)
#   SLOTS=1       slots per worker
#   MODES="push pull direct"  direct is skipped, saying why, if this build lacks it
#   UNSHAPED=1    also run each mode unshaped with the largest worker count
#   ROUNDS=3      runs of each row, alternating; the table shows means
#   BIN=DIR       run the gzfleet and gzfleet-worker in DIR (another build) instead
#                 of building this tree's
#   DIRECT_FLAGS= more options for the direct rows (e.g. "--segment-size 16M")
#   LEVEL=6  BLOCK=1M  TIMEOUT=900 (seconds a run may take before it counts as failed)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BIN=${BIN:-}
[ -z "$BIN" ] || BIN=$(realpath -e -- "$BIN")  # named from where the script was started
bench_setup "${SIZE:-256M}" "$@"
RATE=${RATE:-20}; WORKERS=${WORKERS:-"1 2 4"}; SLOTS=${SLOTS:-1}
MODES=${MODES:-"push pull direct"}; UNSHAPED=${UNSHAPED:-1}; ROUNDS=${ROUNDS:-3}
LEVEL=${LEVEL:-6}; BLOCK=${BLOCK:-1M}; TIMEOUT=${TIMEOUT:-900}
read -r -a direct_flags <<< "${DIRECT_FLAGS:-}"
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
  echo "bench/scaling.sh: needs root, ip and tc (it builds network namespaces)" >&2
  exit 1
fi
if [ -n "$BIN" ]; then
  bin=$BIN
else
  cargo build --release --quiet --bin gzfleet --bin gzfleet-worker
  bin=$root/target/release
fi
size=$(stat -c %s "$input")
maxw=$(printf '%s\n' $WORKERS | sort -n | tail -1)

# Direct output, when this build has it; otherwise its rows are skipped, saying why.
direct_why=
if ! "$bin/gzfleet" compress --help | grep -q -- --direct-output ||
  ! "$bin/gzfleet-worker" --help | grep -q -- --write-root; then
  direct_why="this build has no gzfleet compress --direct-output / gzfleet-worker --write-root"
fi
if [ -n "$direct_why" ] && [[ " $MODES " == *" direct "* ]]; then
  echo "bench/scaling.sh: skipping direct output: $direct_why" >&2
  MODES=$(printf '%s\n' $MODES | grep -vx direct | paste -sd' ')
fi

# Names carry our PID: a concurrent run never touches these, nor we its.
ns=gzsc$$
sw=$ns-sw
coord=$ns-coord
tmp=$(mktemp -d)
vol=$(mktemp -d "$data/scaling-vol.XXXXXX")

cleanup() {
  local f
  for f in "$tmp"/w*.pid; do
    [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  for f in $(ip netns list | awk -v p="$ns-" 'index($1, p) == 1 { print $1 }'); do
    ip netns del "$f" 2>/dev/null || true
  done
  # A veth pair still in this namespace if setting up stopped halfway.
  for f in $(ip -o link show | awk -F': ' -v p="$ns" 'index($2, p) == 1 { sub(/@.*/, "", $2); print $2 }'); do
    ip link del "$f" 2>/dev/null || true
  done
  rm -rf "$tmp" "$vol"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# attach NS ADDR PORT: a veth pair between NS (eth0, ADDR/24) and the bridge (PORT).
attach() {
  local host=$1 addr=$2 port=$3
  ip netns add "$host"
  ip link add "$ns$port" type veth peer name "$ns${port}p"
  ip link set "$ns$port" netns "$sw"
  ip -n "$sw" link set "$ns$port" name "$port"
  ip -n "$sw" link set "$port" master br0 up
  ip link set "$ns${port}p" netns "$host"
  ip -n "$host" link set "$ns${port}p" name eth0
  ip -n "$host" addr add "$addr/24" dev eth0
  ip -n "$host" link set eth0 up
  ip -n "$host" link set lo up
}

# The switch (a bridge in a namespace of its own: this machine's firewall never sees
# the traffic), the coordinator at 10.79.0.1, worker i at 10.79.0.(10+i).
net_up() {
  ip netns add "$sw"
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  attach "$coord" 10.79.0.1 c0
  for i in $(seq "$maxw"); do attach "$ns-w$i" "10.79.0.$((10 + i))" "w$i"; done
}

# shape on|off: RATE MB/s each way on the coordinator's link, or no limit. tbf
# segments the veth's large (GSO) packets itself; 100 ms of queue at the rate.
shape() {
  local rate
  rate=$(awk -v r="$RATE" 'BEGIN { printf "%dkbit", r * 8000 }')
  if [ "$1" = on ]; then
    tc -n "$coord" qdisc replace dev eth0 root tbf rate "$rate" burst 256kb latency 100ms
    tc -n "$sw" qdisc replace dev c0 root tbf rate "$rate" burst 256kb latency 100ms
  else
    tc -n "$coord" qdisc del dev eth0 root 2>/dev/null || true
    tc -n "$sw" qdisc del dev c0 root 2>/dev/null || true
  fi
}

# One worker per host, the shared folder as its root (and write root, for direct output).
start_workers() {
  local i
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/token"
  chmod 600 "$tmp/token"
  local write=()
  [ -z "$direct_why" ] && write=(--write-root "$vol")
  for i in $(seq "$maxw"); do
    ip netns exec "$ns-w$i" "$bin/gzfleet-worker" --listen "10.79.0.$((10 + i)):7070" \
      --slots "$SLOTS" --token-file "$tmp/token" --root "$vol" "${write[@]}" \
      > "$tmp/w$i.out" 2> "$tmp/w$i.err" &
    echo $! > "$tmp/w$i.pid"
  done
  for i in $(seq "$maxw"); do
    for _ in $(seq 200); do grep -q listening "$tmp/w$i.out" 2>/dev/null && break; sleep 0.05; done
    grep -q listening "$tmp/w$i.out" || { echo "bench: worker $i did not start:" >&2; cat "$tmp/w$i.err" >&2; exit 1; }
  done
}

# The coordinator link's counters (bytes received, sent), and the workers' CPU ticks.
link_bytes() {
  ip netns exec "$coord" sh -c 'cat /sys/class/net/eth0/statistics/rx_bytes /sys/class/net/eth0/statistics/tx_bytes' | paste -sd' '
}
worker_ticks() {
  local t=0 i
  # A worker gone (it crashed: its row fails) counts nothing.
  for i in $(seq "$maxw"); do
    t=$((t + $(awk '{ print $14 + $15 }' "/proc/$(cat "$tmp/w$i.pid")/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}

# row MODE N SHAPED: one compression of the shared input into the shared folder, by the
# coordinator in its namespace; appends "key secs cpu rx tx worker_ticks ok" to results.
row() {
  local mode=$1 n=$2 shaped=$3
  local flags=() addrs rx0 tx0 rx1 tx1 t0 ok=same
  addrs=$(for i in $(seq "$n"); do echo "10.79.0.$((10 + i)):7070"; done | paste -sd,)
  case $mode in
    push) flags=(--workers "$addrs") ;;
    pull) flags=(--pull --shared-root "$vol" --workers "$addrs") ;;
    direct) flags=(--pull --direct-output --shared-root "$vol" --workers "$addrs" "${direct_flags[@]}") ;;
    embedded) flags=(-p "$(nproc)") ;;
  esac
  rm -f "$vol/out.gz" "$tmp/time"
  read -r rx0 tx0 < <(link_bytes)
  t0=$(worker_ticks)
  if ! ip netns exec "$coord" timeout "$TIMEOUT" /usr/bin/time -f "%e %U %S" -o "$tmp/time" \
    "$bin/gzfleet" compress -q -"$LEVEL" -b "$BLOCK" --token-file "$tmp/token" "${flags[@]}" \
    -o "$vol/out.gz" "$vol/input" 2> "$tmp/coord.err"; then
    echo "bench: $mode with $n workers ($shaped) failed: $(tail -1 "$tmp/coord.err")" >&2
    ok=failed
  fi
  read -r rx1 tx1 < <(link_bytes)
  [ "$ok" = same ] && ! cmp -s "$vol/out.gz" "$tmp/ref.gz" && ok=DIFFERENT
  # time(1) puts "Command exited with non-zero status N" first when it did.
  read -r secs user sys < <(tail -1 "$tmp/time" 2>/dev/null) || { secs=0 user=0 sys=0; }
  echo "$mode:$n:$shaped $secs $(echo "$user + $sys" | bc) $((rx1 - rx0)) $((tx1 - tx0)) $(($(worker_ticks) - t0)) $ok" >> "$tmp/results"
  rm -f "$vol/out.gz"
}

# report: the markdown table of $tmp/results (means over rounds), then the targets.
report() {
  awk -v size="$size" -v rate="$RATE" -v cores="$(nproc)" -v hz="$(getconf CLK_TCK)" '
    !($1 in n) { order[++keys] = $1 }
    { n[$1]++; t[$1] += $2; c[$1] += $3; rx[$1] += $4; tx[$1] += $5; w[$1] += $6
      if ($7 == "failed") failed[$1] = 1; else if ($7 != "same") bad[$1] = $7 }
    END {
      gib = size / 2^30
      print "| mode | workers | coordinator link | input MB/s | vs pull | coordinator CPU s/GiB | link MiB/GiB (in + out) | link busy | CPU used / cores | output vs embedded |"
      print "|---|---|---|---|---|---|---|---|---|---|"
      for (k in n) mbs[k] = t[k] > 0 && !(k in failed) ? size / (t[k] / n[k]) / 1e6 : 0
      for (i = 1; i <= keys; i++) {
        k = order[i]; split(k, f, ":"); m = n[k]; secs = t[k] / m
        link = f[3] == "shaped" ? rate " MB/s" : f[3]
        if (k in failed) {  # a run that failed: no figures (stderr said why)
          printf "| %s | %s | %s | - | - | - | - | - | - | failed |\n", f[1], f[2], link
          continue
        }
        pull = "pull:" f[2] ":" f[3]
        vs = (pull in mbs && mbs[pull] > 0) ? sprintf("%.2fx", mbs[k] / mbs[pull]) : "-"
        busy = "-"
        if (f[3] == "shaped" && secs > 0) busy = sprintf("%.0f%%", 100 * (rx[k] > tx[k] ? rx[k] : tx[k]) / m / secs / (rate * 1e6))
        cpu = (c[k] + w[k] / hz) / m
        cbusy = secs > 0 ? 100 * cpu / secs / cores : 0
        wk = f[2] == 0 ? "-" : f[2]
        out = "identical"
        if (k in bad) out = bad[k]
        printf "| %s | %s | %s | %.1f | %s | %.3f | %.1f + %.1f | %s | %.0f%% | %s |\n", f[1], wk, link, mbs[k], vs, c[k] / m / gib, rx[k] / m / 2^20 / gib, tx[k] / m / 2^20 / gib, busy, cbusy, out
        if (f[1] == "direct" && f[3] == "shaped") { dn[++nd] = f[2]; dcpu[f[2]] = c[k] / m / gib; dvs[f[2]] = vs }
      }
      for (i = 1; i <= nd; i++)
        printf "\ntarget, %s worker(s): direct output %s pull mode\047s input rate (>= 3x); coordinator CPU %.3f s/GiB (<= 0.1)", dn[i], dvs[dn[i]], dcpu[dn[i]]
      if (nd) print ""
    }' "$tmp/results"
}

ln "$input" "$vol/input" 2>/dev/null || cp "$input" "$vol/input"
cat "$vol/input" > /dev/null  # in the page cache for every row alike
load_before=$(uptime)
net_up
start_workers
# The reference bytes: the embedded pool, no network. Its time is the machine's ceiling.
"$bin/gzfleet" compress -q -"$LEVEL" -b "$BLOCK" -o "$tmp/ref.gz" "$vol/input"
for round in $(seq "$ROUNDS"); do
  row embedded 0 local
  shape on
  for n in $WORKERS; do
    for mode in $MODES; do row "$mode" "$n" shaped; done
  done
  shape off
  if [ "$UNSHAPED" = 1 ]; then
    for mode in $MODES; do row "$mode" "$maxw" unshaped; done
  fi
done
load_after=$(uptime)

echo "input: $input ($size bytes), level $LEVEL, -b $BLOCK, $SLOTS slot(s) per worker, $(nproc) cores, $ROUNDS round(s)"
echo "binaries: $bin"
echo "coordinator link: $RATE MB/s each way (tc tbf), or unshaped"
echo "load (a shared machine is noisy): before ${load_before#*load }; after ${load_after#*load }"
[ -n "$direct_why" ] && echo "direct output skipped: $direct_why"
echo
report
