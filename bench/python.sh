#!/usr/bin/env bash
# The gzfleet Python package against Python's other gzip writers and readers, on the
# same input, the same cores, alternating runs: MB/s of uncompressed data, output size,
# peak memory (RSS of the whole process, by GNU time). Only ratios within one run are
# meant to be compared.
#
# Writing, at each level: gzip (the stdlib), zlib_ng.gzip_ng_threaded,
# isal.igzip_threaded (its levels are 0-3: level 1 runs at its 1, level 6 at its 3,
# its highest), pgzip, mgzip (both write many members) and gzfleet (and gzfleet on
# the ISA-L engine when the wheel has it, at igzip_threaded's levels; build it with
# MATURIN_PEP517_ARGS="--features isal" pip install ./python). Reading the file gzfleet wrote at level 6:
# gzip, isal.igzip_threaded, indexed_gzip, rapidgzip (with and without the index),
# gzfleet (with and without the index).
#
# usage: bench/python.sh [INPUT]     (default: the 256 MiB corpus of bench/corpus.sh)
#   ROUNDS=3       runs of each contender, alternating
#   THREADS=2      threads for every parallel contender
#   LEVELS="1 6"
#   CHUNK=1048576  bytes per write() call and per read() call
# Needs the package (pip install ./python) and the peers:
#   pip install isal zlib-ng pgzip mgzip indexed_gzip rapidgzip
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_setup 256M "$@"
ROUNDS=${ROUNDS:-3}; THREADS=${THREADS:-2}; LEVELS=${LEVELS:-1 6}; CHUNK=${CHUNK:-1048576}
[ -x /usr/bin/time ] || { echo "bench: GNU time is needed (apt-get install time)" >&2; exit 1; }
python3 -c "import gzfleet" 2>/dev/null ||
  { echo "bench: the gzfleet package is needed: pip install ./python" >&2; exit 1; }
python3 -c "import isal, zlib_ng, pgzip, mgzip, indexed_gzip, rapidgzip" 2>/dev/null ||
  { echo "bench: the peers are needed: pip install isal zlib-ng pgzip mgzip indexed_gzip rapidgzip" >&2; exit 1; }
size=$(stat -c %s "$input")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out=$data/python-out.gz

# One contender in one process: `write NAME LEVEL IN OUT` or `read NAME IN`; prints
# the seconds its work took (imports and start-up not counted).
cat > "$tmp/driver.py" <<'EOF'
import sys, time
op, name = sys.argv[1], sys.argv[2]
threads, chunk = int(sys.argv[-2]), int(sys.argv[-1])

def writer(name, level, path):
    if name == "gzip":
        import gzip; return gzip.open(path, "wb", compresslevel=level)
    if name == "gzip_ng_threaded":
        from zlib_ng import gzip_ng_threaded
        return gzip_ng_threaded.open(path, "wb", compresslevel=level, threads=threads)
    if name == "igzip_threaded":
        from isal import igzip_threaded
        return igzip_threaded.open(path, "wb", compresslevel=1 if level == 1 else 3, threads=threads)
    if name == "pgzip":
        import pgzip; return pgzip.open(path, "wb", compresslevel=level, thread=threads)
    if name == "mgzip":
        import mgzip; return mgzip.open(path, "wb", compresslevel=level, thread=threads)
    import gzfleet
    if name == "gzfleet-isal":  # ISA-L's levels are 0-3: as igzip_threaded
        return gzfleet.open(path, "wb", compresslevel=1 if level == 1 else 3,
                            threads=threads, engine="isal")
    return gzfleet.open(path, "wb", compresslevel=level, threads=threads)

def reader(name, path):
    if name == "gzip":
        import gzip; return gzip.open(path, "rb")
    if name == "igzip_threaded":
        from isal import igzip_threaded; return igzip_threaded.open(path, "rb", threads=threads)
    if name == "indexed_gzip":
        import indexed_gzip; return indexed_gzip.IndexedGzipFile(path)
    if name.startswith("rapidgzip"):
        import rapidgzip
        f = rapidgzip.open(path, parallelization=threads)
        if name == "rapidgzip+index":
            f.import_index(open(path[:-3] + ".gzi", "rb"))
        return f
    import gzfleet
    return gzfleet.open(path, "rb", threads=threads, index=None if name == "gzfleet+index" else False)

if op == "write":
    level, src, dst = int(sys.argv[3]), sys.argv[4], sys.argv[5]
    with open(src, "rb") as f:
        data = f.read()  # in memory first: the source's speed is not measured
    t = time.perf_counter()
    with writer(name, level, dst) as f:
        for i in range(0, len(data), chunk):
            f.write(data[i:i + chunk])
    print(time.perf_counter() - t)
else:
    src = sys.argv[3]
    t = time.perf_counter()
    n = 0
    with reader(name, src) as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            n += len(b)
    print(time.perf_counter() - t, n)
EOF

# run KIND NAME ARGS...: appends "kind name seconds peak_kib bytes" to $tmp/results.
run() {
  local kind=$1 name=$2; shift 2
  /usr/bin/time -f "%M" -o "$tmp/mem" python3 "$tmp/driver.py" "$@" "$THREADS" "$CHUNK" > "$tmp/secs"
  local bytes
  if [ "${1}" = write ]; then bytes=$(stat -c %s "$out"); else bytes=$(awk '{print $2}' "$tmp/secs"); fi
  echo "$kind $name $(awk '{print $1}' "$tmp/secs") $(cat "$tmp/mem") $bytes" >> "$tmp/results"
}

writers="gzip gzip_ng_threaded igzip_threaded pgzip mgzip gzfleet"
python3 -c "import gzfleet, sys; sys.exit('isal' not in gzfleet.engines())" && writers="$writers gzfleet-isal"
readers="gzip igzip_threaded indexed_gzip rapidgzip rapidgzip+index gzfleet gzfleet+index"

cat "$input" > /dev/null
gz=$data/python-read.gz
python3 -c "
import gzfleet, shutil, sys
with open(sys.argv[1], 'rb') as s, gzfleet.open(sys.argv[2], 'wb', index=True) as d:
    shutil.copyfileobj(s, d, 1 << 20)" "$input" "$gz"
for round in $(seq "$ROUNDS"); do
  for level in $LEVELS; do
    for w in $writers; do run "write-$level" "$w" write "$w" "$level" "$input" "$out"; done
  done
  for r in $readers; do run read "$r" read "$r" "$gz"; done
done
rm -f "$out"

echo "input: $input ($size bytes), $THREADS threads, $ROUNDS rounds, $(nproc) cores, $(python3 --version)"
printf "%-8s %-17s %9s %8s %11s %8s %13s\n" "" "contender" "MB/s" "ratio" "size" "vs ref" "peak RSS MiB"
# Writing is compared with gzip_ng_threaded, reading with rapidgzip+index.
awk -v size="$size" '
  { k = $1 " " $2; n[k]++; t[k] += $3; if ($4 > mem[k]) mem[k] = $4; bytes[k] = $5; kind[k] = $1; who[k] = $2 }
  END {
    for (k in n) {
      ref = (kind[k] == "read") ? "read rapidgzip+index" : kind[k] " gzip_ng_threaded"
      mbs = size / (t[k] / n[k]) / 1e6; rmbs = size / (t[ref] / n[ref]) / 1e6
      vs = (kind[k] == "read") ? "-" : sprintf("%.4fx", bytes[k] / bytes[ref])
      shown = (kind[k] == "read") ? "-" : bytes[k]
      printf "%-8s %-17s %9.1f %7.2fx %11s %8s %13.1f\n", kind[k], who[k], mbs, mbs / rmbs, shown, vs, mem[k] / 1024
    }
  }' "$tmp/results" | sort -k1,1 -k3,3nr
