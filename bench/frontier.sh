#!/usr/bin/env bash
# The size/speed frontier: every gzfleet level (1-12) and every level of pigz, crabz and
# gzippy (1-9), same input, same thread count, each run ROUNDS times (rounds interleaved,
# so a load that comes and goes falls on everyone) and its best time kept. Prints a table
# of time, MB/s (input bytes over the best whole-job time) and size per tool and level,
# then every peer level with the fastest gzfleet level at least as fast AND no larger,
# or UNBEATEN when there is none; and draws the curves (size against MB/s, one per tool)
# into a PNG with matplotlib. Every gzfleet output is checked by pigz -t. Timings come
# from one machine at one time; only comparisons within a run mean anything.
#
# usage: bench/frontier.sh [INPUT]    (default: the 1 GiB corpus bench/corpus.sh builds)
#   THREADS=2                -p for everyone
#   ROUNDS=2                 runs of each, best time kept
#   LEVELS="1 2 ... 12"      gzfleet levels
#   PEER_LEVELS="1 ... 9"    peer levels
#   PLOT=bench/frontier.png  where the plot goes ("" for none)
#   TSV=FILE                 also keep the raw rows (tool level seconds bytes)
#   FROM=FILE                run nothing: report and plot the rows of FILE (as TSV or
#                            the rows of an interrupted run), best time per level
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_setup 1G "$@"
THREADS=${THREADS:-2}; ROUNDS=${ROUNDS:-2}
LEVELS=${LEVELS:-$(seq -s ' ' 1 12)}; PEER_LEVELS=${PEER_LEVELS:-$(seq -s ' ' 1 9)}
PLOT=${PLOT-$root/bench/frontier.png}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
if [ -n "${FROM:-}" ]; then
  size=$(stat -c %s "$input")
  cp "$FROM" "$tmp/rows"
else
bench_need_pigz
cargo build --release --quiet --bin gzfleet
gz=$root/target/release/gzfleet
size=$(stat -c %s "$input")
cat "$input" > /dev/null

# The contenders, one per line: TOOL LEVEL COMMAND... (reading stdin, writing stdout).
{
  for l in $LEVELS; do echo "gzfleet $l $gz compress --level $l -p $THREADS -c"; done
  for l in $PEER_LEVELS; do
    echo "pigz $l pigz -$l -p $THREADS -c"
    if command -v crabz >/dev/null; then echo "crabz $l crabz -Q -p $THREADS -l $l -f gzip"; fi
    if command -v gzippy >/dev/null; then echo "gzippy $l gzippy -$l -p $THREADS -c"; fi
  done
} > "$tmp/contenders"
for tool in crabz gzippy; do
  command -v "$tool" >/dev/null || echo "bench: $tool not found, left out (cargo install $tool)" >&2
done

echo "input: $input ($size bytes), -p $THREADS, best of $ROUNDS; load: $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$tmp/rows"
for round in $(seq "$ROUNDS"); do
  while read -r tool level cmd; do
    # shellcheck disable=SC2086
    /usr/bin/time -f "%e" -o "$tmp/time" $cmd < "$input" > "$tmp/out" 2> "$tmp/err" ||
      { echo "bench: $tool -$level failed: $(tail -n 1 "$tmp/err")" >&2; exit 1; }
    if [ "$tool" = gzfleet ] && [ "$round" = 1 ]; then
      pigz -t < "$tmp/out" || { echo "bench: pigz -t refused gzfleet -$level's output" >&2; exit 1; }
    fi
    echo "$tool $level $(cat "$tmp/time") $(stat -c %s "$tmp/out")" >> "$tmp/rows"
  done < "$tmp/contenders"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

# Best time per tool and level (sizes are the same every round: all are deterministic).
sort -k1,1 -k2,2n -k3,3g "$tmp/rows" | awk '!seen[$1" "$2]++' > "$tmp/best"
[ -z "${TSV:-}" ] || cp "$tmp/best" "$TSV"
awk -v size="$size" '
  { tool[NR] = $1; lv[NR] = $2; t[NR] = $3; b[NR] = $4; if ($1 == "pigz") pigz[$2] = $4 }
  END {
    printf "\n| tool | level | time (s) | MB/s | bytes | size vs pigz same level |\n|---|---|---|---|---|---|\n"
    for (i = 1; i <= NR; i++) {
      ref = pigz[lv[i] > 9 ? 9 : lv[i]]
      printf "| %s | %d | %.2f | %.1f | %d | %s |\n", tool[i], lv[i], t[i], size / t[i] / 1e6, b[i],
        ref ? sprintf("%.4fx", b[i] / ref) : "-"
    }
    printf "\n| peer level | time (s) | bytes | beaten by (fastest gzfleet level as fast and as small) |\n|---|---|---|---|\n"
    unbeaten = ""
    for (i = 1; i <= NR; i++) {
      if (tool[i] == "gzfleet") continue
      best = 0
      for (j = 1; j <= NR; j++)
        if (tool[j] == "gzfleet" && t[j] <= t[i] && b[j] <= b[i] && (!best || t[j] < t[best])) best = j
      if (best) verdict = sprintf("gzfleet -%d: %.2fx the speed, %.4fx the size", lv[best], t[i] / t[best], b[best] / b[i])
      else { verdict = "UNBEATEN"; unbeaten = unbeaten " " tool[i] "-" lv[i] }
      printf "| %s -%d | %.2f | %d | %s |\n", tool[i], lv[i], t[i], b[i], verdict
    }
    printf "\nunbeaten peer levels:%s\n", unbeaten == "" ? " none" : unbeaten
  }' "$tmp/best"

[ -n "$PLOT" ] || exit 0
python3 - "$tmp/best" "$size" "$PLOT" "$THREADS" <<'EOF' || echo "bench: no plot (pip install matplotlib)" >&2
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows, size, out, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
curves = {}
for line in open(rows):
    tool, level, secs, nbytes = line.split()
    curves.setdefault(tool, []).append((int(level), size / float(secs) / 1e6, 100 * int(nbytes) / size))
fig, ax = plt.subplots(figsize=(9, 6))
for tool, points in sorted(curves.items()):
    points.sort()
    ax.plot([p[1] for p in points], [p[2] for p in points], marker="o", label=tool)
    for level, mbs, pct in points:
        ax.annotate(str(level), (mbs, pct), textcoords="offset points", xytext=(4, 3), fontsize=7)
ax.set_xscale("log")
ax.set_xlabel(f"MB/s, whole job, -p {threads} (log scale)")
ax.set_ylabel("output size, % of input")
ax.set_title(f"size against speed, every level ({size / 2**20:.0f} MiB corpus)")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(out, dpi=110)
print(f"plot: {out}")
EOF
