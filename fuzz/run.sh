#!/usr/bin/env bash
# Runs each fuzz target for SECONDS from the committed seed corpus and prints, per
# target, the inputs executed and the crashes found. Exits non-zero if any target
# crashed (panic, sanitizer report, leak, a single input over 10 s or 2 GiB); the input
# that did it is kept in fuzz/artifacts/TARGET/, replayable with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/FILE`.
#
#   fuzz/run.sh 20                 # every target, 20 s each (what CI runs)
#   fuzz/run.sh 300 read_gzip      # one target, 5 minutes
#
# New inputs go to fuzz/scratch/TARGET/ (not committed; .gitignore), so the committed
# fuzz/corpus/TARGET/ stays the small seed set fuzz/seeds.py wrote. A new target needs
# only its [[bin]] in Cargo.toml (and seeds, and a max_len below if 16 KiB is wrong).
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

# The longest input a target is given: room for what it tests, short enough that one
# input runs in milliseconds (16 KiB of gzip can still inflate to 16 MiB).
max_len() {
  case "$1" in
    check_answer) echo 49152 ;; # a chunk and the 32 KiB dictionary before it
    *) echo 16384 ;;
  esac
}

# Release build with debug assertions and overflow checks: arithmetic that wraps is a
# finding too.
build=(-O --debug-assertions)
cargo +nightly fuzz build "${build[@]}"

passed=0
failed=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "scratch/$t" "artifacts/$t"
  log="scratch/$t.log"
  before=$(find "artifacts/$t" -type f | wc -l)
  rc=0
  cargo +nightly fuzz run "${build[@]}" "$t" "scratch/$t" "corpus/$t" -- \
    -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  found=$(($(find "artifacts/$t" -type f | wc -l) - before))
  printf '%-14s %12s executions in %ss, %d crash(es)\n' "$t" "${execs:-?}" "$secs" "$found"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=$((failed + 1))
    echo "--- $t failed (exit $rc); the end of $PWD/$log:"
    tail -n 60 "$log"
  else
    passed=$((passed + 1))
  fi
done
# One closing line in the form test runners end with: a target passes when it ran its
# time without a crash.
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
