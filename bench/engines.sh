#!/usr/bin/env bash
# The chunk engines against each other and against pigz, crabz and gzippy: one table from
# one run on one input. Per row: the engine and level, its whole-job time with -p THREADS,
# MB/s per core (input bytes over the CPU seconds the job used), the output size against
# pigz's at the same level (pigz -9 for libdeflate's 10-12), and the whole-job speed
# against pigz, crabz and gzippy at that level with the same thread count. Timings come
# from one machine at one time; only ratios within a run are meant to be compared.
#
# usage: bench/engines.sh [INPUT]     (default: the 1 GiB corpus bench/corpus.sh builds)
#   THREADS=2   -p for everyone
#   LEVELS="1 6 9 12"
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_setup 1G "$@"
THREADS=${THREADS:-2}; LEVELS=${LEVELS:-1 6 9 12}
bench_need_pigz
features=""
if command -v nasm >/dev/null && command -v autoreconf >/dev/null; then features="--features isal"; fi
# shellcheck disable=SC2086
cargo build --release --quiet --bin gzfleet $features
gz=$root/target/release/gzfleet
engines=$( ($gz compress --engine list -c /dev/null 2>&1 || true) | sed -n "s/.*it has \(.*\) (or auto).*/\1/p" | tr -d ,)
size=$(stat -c %s "$input")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat "$input" > /dev/null

# run NAME CMD...: sets secs, cpu and bytes for one run of CMD on the input.
run() {
  /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$@" < "$input" > "$tmp/out" 2> "$tmp/err"
  read -r secs user sys < "$tmp/time"
  cpu=$(echo "$user + $sys" | bc -l)
  bytes=$(stat -c %s "$tmp/out")
}

declare -A peer_secs peer_bytes
peer() { # NAME LEVEL CMD...
  local name=$1 level=$2; shift 2
  command -v "$1" >/dev/null || return 0
  run "$@"
  peer_secs[$name$level]=$secs; peer_bytes[$name$level]=$bytes
  printf '%-18s %6.1fs %8.1f MB/s/core %13d bytes\n' "$name -$level" "$secs" \
    "$(echo "$size / $cpu / 1000000" | bc -l)" "$bytes"
}

echo "input: $input ($size bytes), -p $THREADS, engines: $engines"
echo "peers:"
for level in $LEVELS; do
  [ "$level" -le 9 ] || continue
  peer pigz "$level" pigz -p "$THREADS" -"$level" -c
  peer crabz "$level" crabz -p "$THREADS" -l "$level" -f gzip
  peer gzippy "$level" gzippy -p "$THREADS" -"$level" -c
done
ratio() { [ -n "${2:-}" ] && echo "$(echo "$2 / $1" | bc -l | xargs printf '%.2fx')" || echo "-"; }
echo
printf '%-11s %5s %7s %12s %14s %10s %9s %9s %9s\n' engine level time "MB/s/core" bytes "vs pigz" "x pigz" "x crabz" "x gzippy"
for engine in $engines; do
  for level in $LEVELS; do
    # ISA-L's levels are its own 0-3: run them all once, in place of gzip's.
    if [ "$engine" = isal ]; then [ "$level" = "$(echo "$LEVELS" | awk '{print $1}')" ] || continue; fi
    lv=$level; [ "$engine" = isal ] && lv="1 2 3"
    for l in $lv; do
      $gz compress --engine "$engine" --level "$l" -c /dev/null >/dev/null 2>&1 || continue
      run "$gz" compress --engine "$engine" --level "$l" -p "$THREADS" -c
      ref=$l; [ "$l" -gt 9 ] && ref=9
      [ "$engine" = isal ] && ref=1
      pb=${peer_bytes[pigz$ref]:-}
      printf '%-11s %5s %6.1fs %12.1f %14d %10s %9s %9s %9s\n' "$engine" "$l" "$secs" \
        "$(echo "$size / $cpu / 1000000" | bc -l)" "$bytes" \
        "$( [ -n "$pb" ] && echo "$bytes / $pb" | bc -l | xargs printf '%.3fx' || echo -)" \
        "$(ratio "$secs" "${peer_secs[pigz$l]:-}")" "$(ratio "$secs" "${peer_secs[crabz$l]:-}")" \
        "$(ratio "$secs" "${peer_secs[gzippy$l]:-}")"
    done
  done
done
echo "(vs pigz: size against pigz -N, -9 for levels past 9, -1 for isal; x peer: the peer's time over ours at the same level)"
