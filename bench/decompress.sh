#!/usr/bin/env bash
# Decompression with and without an index, one run each, output to /dev/null: gzfleet
# -p 1 and -p THREADS with the index, rapidgzip -P THREADS without and with the same
# index, gzippy -d -p THREADS (if installed), pigz -d, gzip -d. Prints seconds, MiB/s
# of output, ratios to gzfleet's single thread and to rapidgzip without an index, and
# the index's size as a fraction of the .gz. One machine, one time: compare ratios.
#
# usage: bench/decompress.sh [INPUT]   (default: the 1 GiB corpus of bench/corpus.sh)
#   THREADS=2   LEVEL=6   BLOCK=1M
#   INDEX_SPAN  gztool -s (MiB) when gzfleet cannot write the index itself (default 10)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_setup 1G "$@"
THREADS=${THREADS:-2}; LEVEL=${LEVEL:-6}; BLOCK=${BLOCK:-1M}; INDEX_SPAN=${INDEX_SPAN:-10}
cargo build --release --quiet --bin gzfleet
g=$root/target/release/gzfleet
gz=$data/decompress-bench.gz
gzi=${gz}i
size=$(stat -c %s "$input")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

rm -f "$gz" "$gzi"
"$g" compress -f -q -"$LEVEL" -b "$BLOCK" -o "$gz" "$input"
# The index: gzfleet's own at compression time when this build has --index, else
# gztool's, made by one decompression pass.
if "$g" compress --help 2>/dev/null | grep -q -- '--index'; then
  rm -f "$gz"
  "$g" compress -f -q -"$LEVEL" -b "$BLOCK" --index -o "$gz" "$input"
  made_by="gzfleet compress --index"
else
  gztool -z -f -s "$INDEX_SPAN" -i "$gz" 2>/dev/null
  made_by="gztool -i -s $INDEX_SPAN"
fi
[ -f "$gzi" ] || { echo "bench: no index at $gzi" >&2; exit 1; }

# run NAME CMD...: one run, stdout to /dev/null; appends "name seconds".
run() {
  local name=$1; shift
  cat "$gz" > /dev/null   # the same warm page cache for everyone
  /usr/bin/time -f "%e" -o "$tmp/time" "$@" > /dev/null
  echo "$name $(cat "$tmp/time")" >> "$tmp/results"
}

run "gzfleet-p1-index" "$g" decompress -c -p 1 "$gz"
run "gzfleet-p$THREADS-index" "$g" decompress -c -p "$THREADS" "$gz"
mv "$gzi" "$tmp/saved.gzi"
run "gzfleet-no-index" "$g" decompress -c "$gz"
mv "$tmp/saved.gzi" "$gzi"
if command -v rapidgzip > /dev/null; then
  run "rapidgzip-P$THREADS" rapidgzip -P "$THREADS" -d -c "$gz"
  run "rapidgzip-P$THREADS-index" rapidgzip -P "$THREADS" --import-index "$gzi" -d -c "$gz"
fi
if command -v gzippy > /dev/null; then
  run "gzippy-p$THREADS" gzippy -d -c -p "$THREADS" "$gz"
fi
run "pigz-d" pigz -d -c "$gz"
run "gzip-d" gzip -d -c "$gz"

gz_size=$(stat -c %s "$gz"); gzi_size=$(stat -c %s "$gzi")
echo "input $size bytes, .gz $gz_size bytes (level $LEVEL, -b $BLOCK), $THREADS threads"
awk -v a="$gzi_size" -v b="$gz_size" -v m="$made_by" \
  'BEGIN { printf "index %d bytes = %.3f%% of the .gz (%s)\n", a, 100 * a / b, m }'
one=$(awk '$1 == "gzfleet-p1-index" { print $2 }' "$tmp/results")
rg=$(awk '$1 ~ /^rapidgzip-P[0-9]+$/ { print $2 }' "$tmp/results")
printf '%-24s %8s %9s %10s %14s\n' tool seconds MiB/s "vs p1" "vs rapidgzip"
while read -r name secs; do
  awk -v n="$name" -v s="$secs" -v z="$size" -v one="$one" -v rg="${rg:-0}" 'BEGIN {
    printf "%-24s %8.2f %9.0f %9.2fx", n, s, z / 1048576 / s, one / s
    if (rg > 0) printf " %13.2fx", rg / s
    printf "\n"
  }'
done < "$tmp/results"
