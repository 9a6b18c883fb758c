#!/usr/bin/env bash
# Where the bytes come from, measured: push versus pull through two local workers (the
# coordinator's CPU per GiB, and the bytes that cross loopback per GiB); an object read
# from an S3-compatible server (moto, a Python server: its figures are a floor, not a
# merit), pushed and pulled; and a batch of 1,000 small files plus a large one,
# scheduled together versus one job per file. Compare figures within a run only.
#
# usage: bench/storage.sh            (builds bench/data/corpus-1g like bench/compare.sh)
#   ROUNDS=2     runs of each, alternating
#   LEVEL=6
#   BASELINE=DIR also run the batch with another build's gzfleet, which took its
#                inputs one after another
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ROUNDS=${ROUNDS:-2}; LEVEL=${LEVEL:-6}
data=${BENCH_DATA:-$root/bench/data}
mkdir -p "$data"
bash "$root/bench/corpus.sh" "$data/corpus-1g" 1G >/dev/null
command -v moto_server >/dev/null || { echo "bench: moto_server is needed (pip install 'moto[server]')" >&2; exit 1; }
cargo build --release --quiet --bin gzfleet --bin gzfleet-worker
bin=$root/target/release
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

# The shared "volume": the corpus, a 256 MiB slice of it, and a batch of 1,000 files.
vol=$tmp/vol
mkdir -p "$vol/batch"
ln "$data/corpus-1g" "$vol/corpus-1g" 2>/dev/null || cp "$data/corpus-1g" "$vol/corpus-1g"
head -c 256M "$data/corpus-1g" > "$vol/slice"
head -c 192M "$data/corpus-1g" > "$vol/batch/large"
python3 - "$data/corpus-1g" "$vol/batch" <<'EOF'
import sys
src, out = sys.argv[1], sys.argv[2]
with open(src, "rb") as f:
    f.seek(300 << 20)
    for i in range(1000):
        size = 20_000 + (i * 7919) % 180_000   # 20 KB to 200 KB, 110 MB in all
        open(f"{out}/{i:04}.bin", "wb").write(f.read(size))
EOF

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 AWS_ALLOW_HTTP=true
moto_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ENDPOINT=http://127.0.0.1:$moto_port
moto_server -H 127.0.0.1 -p "$moto_port" >/dev/null 2>&1 &
until python3 -c "import urllib.request; urllib.request.urlopen('$AWS_ENDPOINT')" 2>/dev/null; do sleep 0.2; done
python3 - "$vol/slice" <<'EOF'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT"])
s3.create_bucket(Bucket="bench")
s3.upload_file(sys.argv[1], "bench", "slice")
EOF

# Two workers, one slot each, with the volume as their root and objects readable.
: > "$tmp/addrs"
for i in 1 2; do
  "$bin/gzfleet-worker" --listen 127.0.0.1:0 --slots 1 --root "$vol" --read-objects s3:// > "$tmp/w$i.out" 2>/dev/null &
done
for i in 1 2; do
  until grep -q listening "$tmp/w$i.out" 2>/dev/null; do sleep 0.05; done
  awk '{print $4}' "$tmp/w$i.out" >> "$tmp/addrs"
done
workers=$(paste -sd, "$tmp/addrs")

lo_bytes() { awk '/^ *lo:/ { sub(/.*:/, ""); print $1 }' /proc/net/dev; }

# measure NAME INPUT_BYTES CMD...: appends "name seconds cpu_seconds lo_bytes input_bytes".
measure() {
  local name=$1 size=$2; shift 2
  local before after
  before=$(lo_bytes)
  /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$@" > /dev/null
  after=$(lo_bytes)
  read -r secs user sys < "$tmp/time"
  echo "$name $secs $(echo "$user + $sys" | bc) $((after - before)) $size" >> "$tmp/results"
}

one_by_one() {
  for f in "$vol"/batch/*; do
    "$bin/gzfleet" compress -q -"$LEVEL" --workers "$workers" -c "$f" > /dev/null
  done
}

gib=$(stat -c %s "$vol/corpus-1g")
slice=$(stat -c %s "$vol/slice")
batch=$(du -sb "$vol/batch" | cut -f1)
export -f one_by_one; export bin LEVEL workers vol
for round in $(seq "$ROUNDS"); do
  measure push "$gib" "$bin/gzfleet" compress -q -"$LEVEL" --workers "$workers" -c "$vol/corpus-1g"
  measure pull "$gib" "$bin/gzfleet" compress -q -"$LEVEL" --workers "$workers" --pull --shared-root "$vol" -c "$vol/corpus-1g"
  measure s3-push "$slice" "$bin/gzfleet" compress -q -"$LEVEL" --workers "$workers" -c s3://bench/slice
  measure s3-pull "$slice" "$bin/gzfleet" compress -q -"$LEVEL" --workers "$workers" --pull -c s3://bench/slice
  measure batch-together "$batch" "$bin/gzfleet" compress -q -"$LEVEL" --workers "$workers" -r -c "$vol/batch"
  measure batch-one-by-one "$batch" bash -c one_by_one
  if [ -n "${BASELINE:-}" ]; then
    measure batch-sequential "$batch" "$BASELINE/gzfleet" compress -q -"$LEVEL" --workers "$workers" -c "$vol"/batch/*
  fi
done

echo "level $LEVEL, 2 local workers (1 slot each), $ROUNDS rounds, $(nproc) cores; moto is a floor"
printf "%-18s %10s %9s %16s %18s\n" "run" "seconds" "MB/s" "own CPU s/GiB" "loopback GiB/GiB"
awk '
  { n[$1]++; t[$1] += $2; c[$1] += $3; lo[$1] += $4; size[$1] = $5 }
  END {
    for (k in n) {
      gib = size[k] / 2^30
      printf "%-18s %10.2f %9.1f %16.2f %18.2f\n", k, t[k] / n[k], size[k] / (t[k] / n[k]) / 1e6, c[k] / n[k] / gib, lo[k] / n[k] / 2^30 / gib
    }
  }' "$tmp/results" | sort
mean() { awk -v k="$1" '$1 == k { t += $2; n++ } END { if (n) print t / n }' "$tmp/results"; }
together=$(mean batch-together)
echo "batch of 1,000 files + one of 192 MiB: together $(echo "scale=2; $(mean batch-one-by-one) / $together" | bc)x faster than a process per file"
[ -n "${BASELINE:-}" ] && echo "  and $(echo "scale=2; $(mean batch-sequential) / $together" | bc)x faster than one after another in one process (BASELINE)"
true
