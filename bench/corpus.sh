#!/usr/bin/env bash
# Builds a benchmark input of real, mixed data (binaries, libraries, text, docs) from the
# machine's own files: a tar of system folders, cut to SIZE bytes. The same recipe on
# every machine, so figures from different changes compare.
# usage: bench/corpus.sh OUT [SIZE]   (SIZE default 1G; accepts 256M, 1G, 4G)
set -eu
out=${1:?usage: bench/corpus.sh OUT [SIZE]}
size=$(numfmt --from=iec "${2:-1G}")
if [ -f "$out" ] && [ "$(stat -c %s "$out")" -eq "$size" ]; then echo "$out: $size bytes"; exit 0; fi
tmp="$out.part"
# Repeated (at most 16 times) when the machine has less than SIZE in these folders.
for _ in $(seq 16); do
  tar cf - --ignore-failed-read -C / usr/lib usr/share usr/include 2>/dev/null || true
done | head -c "$size" >"$tmp" || true
[ "$(stat -c %s "$tmp")" -eq "$size" ] || { echo "bench/corpus.sh: only $(stat -c %s "$tmp") bytes" >&2; exit 1; }
mv "$tmp" "$out"
echo "$out: $size bytes"
