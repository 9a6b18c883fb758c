#!/usr/bin/env bash
# Compares gzfleet with pigz and gzip on the same input, alternating runs, and prints
# throughput ratios, size ratios and peak memory. Timings come from one machine at one
# time; only the ratios within a run are meant to be compared.
#
# usage: bench/compare.sh [INPUT]            (default: a 1 GiB corpus of this machine's files)
#   ROUNDS=3          runs of each contender, alternating
#   THREADS=2         -p for gzfleet and pigz; also the number of local workers
#   BLOCKS="1M"       gzfleet block sizes to try (e.g. "128K 512K 1M 4M")
#   LEVEL=6
#   WORKERS=1         also run through THREADS local gzfleet-workers (1 slot each)
#   VERIFY=1          also run the workers with --verify
#   WITH_GZIP=1       also run gzip once (slow)
#   MEMORY_4G=1       also compare peak memory on a 4 GiB input
#   BASELINE=DIR      also run the gzfleet and gzfleet-worker found in DIR (another
#                     build), embedded and through workers: before/after in one run
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_setup 1G "$@"
ROUNDS=${ROUNDS:-3}; THREADS=${THREADS:-2}; BLOCKS=${BLOCKS:-1M}; LEVEL=${LEVEL:-6}
WORKERS=${WORKERS:-1}; VERIFY=${VERIFY:-1}; WITH_GZIP=${WITH_GZIP:-1}
bench_need_pigz
cargo build --release --quiet --bin gzfleet --bin gzfleet-worker
bin=$root/target/release
BASELINE=${BASELINE:-}
out=$data/out.gz
size=$(stat -c %s "$input")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null || true' EXIT

# run NAME CMD...: appends "name seconds peak_kib user sys bytes" to $tmp/results.
run() {
  local name=$1; shift
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  cat "$input" > /dev/null   # warm the page cache the same way for everyone
  /usr/bin/time -f "%e %M %U %S" -o "$tmp/time" "$@" > "$out"
  read -r secs kib user sys < "$tmp/time"
  echo "$name $secs $kib $user $sys $(stat -c %s "$out")" >> "$tmp/results"
}

# Workers run under time(1) so their CPU is counted; SIGTERM makes them exit cleanly.
start_workers() {
  local dir=${1:-$bin}
  : > "$tmp/addrs"
  for i in $(seq "$THREADS"); do
    /usr/bin/time -f "%U %S" -o "$tmp/wtime$i" "$dir/gzfleet-worker" --listen 127.0.0.1:0 --slots 1 \
      > "$tmp/w$i.out" 2>/dev/null &
    echo $! > "$tmp/w$i.pid"
  done
  for i in $(seq "$THREADS"); do
    until grep -q listening "$tmp/w$i.out" 2>/dev/null; do sleep 0.05; done
    awk '{print $4}' "$tmp/w$i.out" >> "$tmp/addrs"
  done
}

# stop_workers NAME: SIGTERM (they drain and exit), then record their CPU seconds. Not
# run in $(...): a subshell cannot wait for this shell's background jobs.
stop_workers() {
  for i in $(seq "$THREADS"); do kill -TERM "$(pgrep -P "$(cat "$tmp/w$i.pid")")" 2>/dev/null || true; done
  wait 2>/dev/null || true
  cat "$tmp"/wtime* | awk -v name="$1" '{ s += $1 + $2 } END { printf "%s %.2f\n", name, s }' >> "$tmp/worker_cpu"
  rm -f "$tmp"/wtime*
}

for round in $(seq "$ROUNDS"); do
  run "pigz" pigz -"$LEVEL" -p "$THREADS" -c "$input"
  for b in $BLOCKS; do
    run "gzfleet-b$b" "$bin/gzfleet" compress -"$LEVEL" -p "$THREADS" -b "$b" -c "$input"
    if [ "$WORKERS" = 1 ]; then
      start_workers
      run "workers-b$b" "$bin/gzfleet" compress -"$LEVEL" -b "$b" --workers "$(paste -sd, "$tmp/addrs")" -c "$input"
      stop_workers "workers-b$b"
      if [ "$VERIFY" = 1 ]; then
        start_workers
        run "verify-b$b" "$bin/gzfleet" compress -"$LEVEL" -b "$b" --verify --workers "$(paste -sd, "$tmp/addrs")" -c "$input"
        stop_workers "verify-b$b"
      fi
    fi
    if [ -n "$BASELINE" ]; then
      run "baseline-b$b" "$BASELINE/gzfleet" compress -"$LEVEL" -p "$THREADS" -b "$b" -c "$input"
      if [ "$WORKERS" = 1 ]; then
        start_workers "$BASELINE"
        run "baseline-workers-b$b" "$BASELINE/gzfleet" compress -"$LEVEL" -b "$b" --workers "$(paste -sd, "$tmp/addrs")" -c "$input"
        stop_workers "baseline-workers-b$b"
      fi
    fi
  done
done
[ "$WITH_GZIP" = 1 ] && run "gzip" gzip -"$LEVEL" -c "$input"

echo "input: $input ($size bytes), level $LEVEL, $THREADS threads, $ROUNDS rounds, $(nproc) cores"
printf "%-22s %9s %9s %10s %9s %12s %13s %13s\n" "contender" "MB/s" "vs pigz" "size" "vs pigz" "peak RSS MiB" "own CPU s/GiB" "own CPU share"
awk -v size="$size" -v wcpu="$tmp/worker_cpu" '
  BEGIN { while ((getline line < wcpu) > 0) { split(line, f, " "); wsum[f[1]] += f[2] } }
  { n[$1]++; t[$1] += $2; if ($3 > mem[$1]) mem[$1] = $3; cpu[$1] += $4 + $5; bytes[$1] = $6 }
  END {
    for (k in n) {
      mbs = size / (t[k] / n[k]) / 1e6
      pm = size / (t["pigz"] / n["pigz"]) / 1e6
      own = cpu[k] / n[k] / (size / 2^30)
      share = "-"
      if (k in wsum) share = sprintf("%.1f%%", 100 * cpu[k] / (cpu[k] + wsum[k]))
      printf "%-22s %9.1f %8.2fx %10d %8.4fx %12.1f %13.2f %13s\n", k, mbs, mbs / pm, bytes[k], bytes[k] / bytes["pigz"], mem[k] / 1024, own, share
    }
  }' "$tmp/results" | sort

if [ "${MEMORY_4G:-0}" = 1 ]; then
  big=$data/corpus-4g
  bash "$root/bench/corpus.sh" "$big" 4G >/dev/null
  for f in "$input" "$big"; do
    /usr/bin/time -f "%M" -o "$tmp/mem" "$bin/gzfleet" compress -"$LEVEL" -p "$THREADS" -c "$f" > /dev/null
    echo "peak RSS for $(stat -c %s "$f") bytes: $(( $(cat "$tmp/mem") / 1024 )) MiB"
  done
fi
rm -f "$out"
