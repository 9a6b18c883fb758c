#!/usr/bin/env bash
# What protection costs: the same push-mode job through two local workers (one slot
# each) in plaintext, with a token, over TLS, and over mutual TLS; wall time and the
# coordinator's own CPU per GiB, each as a ratio to plaintext in the same run.
# Certificates are made here by openssl, in a scratch folder.
#
# usage: bench/security.sh           (builds bench/data/corpus-1g like bench/compare.sh)
#   ROUNDS=3     runs of each, alternating
#   LEVEL=6
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ROUNDS=${ROUNDS:-3}; LEVEL=${LEVEL:-6}
data=${BENCH_DATA:-$root/bench/data}
mkdir -p "$data"
bash "$root/bench/corpus.sh" "$data/corpus-1g" 1G >/dev/null
cargo build --release --quiet --bin gzfleet --bin gzfleet-worker
bin=$root/target/release
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
cd "$tmp"

ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca 2>/dev/null
for name in server client; do
  openssl req "${ec[@]}" -keyout $name.key -out $name.csr -subj /CN=$name 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > $name.ext
  openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $name.pem \
    -days 1 -extfile $name.ext 2>/dev/null
done
openssl rand -hex 32 > token

# workers NAME FLAGS...: two workers started with FLAGS; their addresses in NAME.addrs.
workers() {
  local name=$1; shift
  : > "$name.addrs"
  local pids=()
  for i in 1 2; do
    "$bin/gzfleet-worker" --listen 127.0.0.1:0 --slots 1 "$@" > "$name.w$i" 2>"$name.e$i" &
    pids[i]=$!
  done
  for i in 1 2; do
    until grep -q listening "$name.w$i" 2>/dev/null; do
      kill -0 "${pids[i]}" 2>/dev/null || { echo "bench: $name worker: $(cat "$name.e$i")" >&2; exit 1; }
      sleep 0.05
    done
    awk '{print $4}' "$name.w$i" >> "$name.addrs"
  done
}
workers plain
workers token --token-file token
workers tls --tls-cert server.pem --tls-key server.key
workers mtls --tls-cert server.pem --tls-key server.key --client-ca ca.pem
declare -A flags=(
  [plain]=""
  [token]="--token-file token"
  [tls]="--tls-ca ca.pem"
  [mtls]="--tls-ca ca.pem --tls-cert client.pem --tls-key client.key"
)

gib=$(stat -c %s "$data/corpus-1g")
cat "$data/corpus-1g" > /dev/null # every run from the page cache, the first too
names=(plain token tls mtls)
for round in $(seq "$ROUNDS"); do
  # Each round starts with another configuration, so no one always goes first.
  for k in 0 1 2 3; do
    name=${names[(k + round) % 4]}
    # shellcheck disable=SC2086
    /usr/bin/time -f "%e %U %S" -o time "$bin/gzfleet" compress -q -"$LEVEL" \
      --workers "$(paste -sd, $name.addrs)" ${flags[$name]} -c "$data/corpus-1g" | sha256sum > $name.sum
    read -r secs user sys < time
    echo "$name $secs $(echo "$user + $sys" | bc)" >> results
  done
done
for name in token tls mtls; do
  cmp -s plain.sum $name.sum || { echo "bench: $name wrote other bytes than plaintext" >&2; exit 1; }
done

echo "level $LEVEL, 2 local workers (1 slot each), push mode, $ROUNDS rounds, $(nproc) cores; same bytes in all four"
printf "%-8s %9s %8s %16s %12s %14s\n" run seconds MB/s "own CPU s/GiB" "time/plain" "CPU/plain"
awk -v gib="$gib" '
  { n[$1]++; t[$1] += $2; c[$1] += $3 }
  END {
    split("plain token tls mtls", order, " ")
    for (i = 1; i <= 4; i++) {
      k = order[i]; tt = t[k] / n[k]; cc = c[k] / n[k]
      printf "%-8s %9.2f %8.1f %16.2f %12.3f %14.3f\n", k, tt, gib / tt / 1e6, cc / (gib / 2^30),
        tt / (t["plain"] / n["plain"]), cc / (c["plain"] / n["plain"])
    }
  }' results
