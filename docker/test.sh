#!/usr/bin/env bash
# The docker-compose demo, run for real (issue: deployment). Builds the image from the
# Dockerfile with no registry and no network in the build (local bases from
# docker/base-images.sh, crates vendored into a copy of the sources), brings up
# docker-compose.yml as it is, compresses a multi-chunk file from the shared volume in
# pull mode, and checks the result with gzip -t and byte for byte against the embedded
# pool's output from the same image. Then again while one worker container is killed
# mid-job, and while one is cut off its network mid-job: the same bytes each time.
#
# Everything it starts is torn down however it ends, and it is bounded in time
# (GZFLEET_COMPOSE_LIMIT seconds, default 1800, most of it the image build). With no
# Docker daemon reachable it says so and exits 0: that is the only skip.
# GZFLEET_COMPOSE_REUSE_IMAGE=1 reuses a gzfleet:local image already built (when
# working on this script; CI always builds).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

# The time bound: the whole script under timeout(1), whose TERM reaches the script
# and its children alike (no --foreground), so the EXIT trap below runs and tears down.
if [ -z "${GZFLEET_COMPOSE_BOUNDED:-}" ]; then
  export GZFLEET_COMPOSE_BOUNDED=1
  exec timeout -k 60 "${GZFLEET_COMPOSE_LIMIT:-1800}" "$repo/docker/test.sh" "$@"
fi

if ! docker info >/dev/null 2>&1; then
  echo "docker/test.sh skipped: no Docker daemon reachable (docker info failed)"
  exit 0
fi
command -v docker-compose >/dev/null || { echo "docker/test.sh: docker-compose is not installed" >&2; exit 1; }

say() { echo "docker/test.sh: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

project=gzfleet-test-$$
work=$(mktemp -d /tmp/gzfleet-compose.XXXXXX)
data=$work/data
mkdir -p "$data"
# The coordinator runs as the image's user (65532), as it would on a user's machine
# with a folder it may write to.
chmod 0777 "$data"

export COMPOSE_PROJECT_NAME=$project GZFLEET_DATA=$data GZFLEET_INPUT=input
compose() { docker-compose --ansi never "$@"; }

cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    say "exit $rc; the containers' last lines:"
    compose logs --tail=15 2>&1 | tail -60 >&2 || true
  fi
  compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 124' TERM INT

# 1. The image: the Dockerfile through docker-compose's own build section, FROM bases
# made here, with the crates in the context so the build never reaches the network.
bases=$(docker/base-images.sh | tail -n 1)
ctx=$work/context
mkdir -p "$ctx/.cargo"
git ls-files -co --exclude-standard -z | tar --null --ignore-failed-read -T - -cf - | tar -C "$ctx" -xf -
cargo vendor --locked "$ctx/vendor" 2>"$work/vendor.log" | sed "s|$ctx/||" >"$ctx/.cargo/config.toml"
grep -q 'directory = "vendor"' "$ctx/.cargo/config.toml" || fail "cargo vendor gave an unexpected config: $(cat "$ctx/.cargo/config.toml")"
read -r _ rust_arg _ runtime_arg <<<"$bases"
export GZFLEET_RUST_IMAGE=${rust_arg#RUST_IMAGE=} GZFLEET_RUNTIME_IMAGE=${runtime_arg#RUNTIME_IMAGE=}
export GZFLEET_CARGO_OFFLINE=true GZFLEET_CONTEXT=$ctx
if [ -n "${GZFLEET_COMPOSE_REUSE_IMAGE:-}" ] && docker image inspect gzfleet:local >/dev/null 2>&1; then
  say "GZFLEET_COMPOSE_REUSE_IMAGE: using the gzfleet:local image already built"
else
  say "building the image from $GZFLEET_RUST_IMAGE and $GZFLEET_RUNTIME_IMAGE (a few minutes)"
  # In the background and waited for, here and below: bash runs a trap only between
  # commands, and a build can take minutes.
  compose build --quiet token >"$work/build.log" 2>&1 &
  wait $! || { tail -40 "$work/build.log" >&2; fail "the image did not build"; }
fi
[ "$(docker image inspect -f '{{.Config.User}}' gzfleet:local)" = 65532:65532 ] || fail "the image does not run as 65532"

# 2. A multi-chunk input (about 300 chunks of 1 MiB, a few seconds' work for the fleet:
# long enough to be interrupted) and what the embedded pool makes of it.
head -c 220M /dev/urandom | base64 >"$data/input"
docker run --rm --network none -v "$data:/data:ro" gzfleet:local gzfleet compress -c /data/input >"$work/expected.gz"
gzip -t "$work/expected.gz" || fail "the embedded pool's output does not pass gzip -t"

up_workers() {
  compose up -d --scale worker=3 worker >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "the workers did not come up"; }
  local n
  for _ in $(seq 60); do
    n=$(docker inspect -f '{{.State.Health.Status}}' $(compose ps -q worker) 2>/dev/null | grep -c '^healthy$' || true)
    [ "$n" = 3 ] && return 0
    sleep 1
  done
  fail "3 workers not healthy after a minute"
}

check_output() {
  local case=$1
  [ -e "$data/input.gz" ] || fail "$case: no input.gz"
  [ ! -e "$data/input.gz.gzfleet-partial" ] || fail "$case: a partial output was left behind"
  gzip -t "$data/input.gz" || fail "$case: gzip -t refused the output"
  cmp "$data/input.gz" "$work/expected.gz" || fail "$case: the output differs from the embedded pool's"
  say "$case: ok, the same $(stat -c %s "$data/input.gz") bytes as the embedded pool"
}

# 3. As a user runs it: the compose file's coordinator, waiting for healthy workers.
up_workers
[ "$(docker inspect -f '{{.Config.User}}' $(compose ps -q worker | sed -n 1p))" = 65532:65532 ] || fail "workers run as root"
timeout 600 docker-compose --ansi never run --rm -T coordinator >"$work/plain.log" 2>&1 &
wait $! || { cat "$work/plain.log" >&2; fail "plain run failed"; }
check_output "plain run"

# Each worker's /metrics (from this host, at its container's address): every worker
# compressed some of the chunks, and together at least all of them.
chunks=$(( ($(stat -c %s "$data/input") + 1048575) / 1048576 ))
total=0
for c in $(compose ps -q worker); do
  ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c")
  n=$(python3 -c 'import sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}:9090/metrics", timeout=5).read().decode()
print(sum(int(float(l.split()[-1])) for l in text.splitlines() if l.startswith("gzfleet_worker_chunks_total")))' "$ip") \
    || fail "worker $ip: no metrics on :9090"
  [ "$n" -gt 0 ] || fail "worker $ip compressed no chunk (its metrics say)"
  total=$((total + n))
done
[ "$total" -ge "$chunks" ] || fail "the workers' metrics count $total chunks, the job had $chunks"
say "metrics: the three workers count $total chunks for a job of $chunks"

# 4. Interrupted mid-job: start the coordinator, wait until output is being written,
# then do $1 to one worker; the job must still end well with the same bytes.
disrupted_run() {
  local case=$1 action=$2
  rm -f "$data/input.gz"
  up_workers
  local coord victim
  coord=$(compose run -d -T coordinator 2>>"$work/run.log")
  for _ in $(seq 600); do
    [ -s "$data/input.gz.gzfleet-partial" ] && break
    sleep 0.05
  done
  [ -s "$data/input.gz.gzfleet-partial" ] || fail "$case: the job never started writing"
  victim=$(compose ps -q worker | sed -n 1p)
  case $action in
    kill) docker kill "$victim" >/dev/null ;;
    disconnect) docker network disconnect "${project}_default" "$victim" ;;
  esac
  [ "$(docker inspect -f '{{.State.Running}}' "$coord")" = true ] \
    || fail "$case: the job had ended before the worker was disrupted: make the input larger"
  local rc
  timeout 300 docker wait "$coord" >"$work/rc" &
  wait $! || fail "$case: the coordinator did not finish in 5 minutes"
  rc=$(cat "$work/rc")
  docker logs "$coord" >"$work/$action.log" 2>&1
  docker rm "$coord" >/dev/null
  [ "$rc" = 0 ] || { cat "$work/$action.log" >&2; fail "$case: the coordinator exited $rc"; }
  # The disruption was felt: a chunk failed or was duplicated, and the job went on.
  grep -qE 'failed attempts|speculative' "$work/$action.log" \
    || { cat "$work/$action.log" >&2; fail "$case: the coordinator's summary shows no failure or duplicate"; }
  check_output "$case"
  if [ "$action" = disconnect ]; then
    docker network connect "${project}_default" "$victim"
  fi
}

disrupted_run "a worker killed mid-job" kill
disrupted_run "a worker cut off mid-job" disconnect
say "passed"
