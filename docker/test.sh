#!/usr/bin/env bash
# The docker-compose demo, run for real (issue: deployment). Builds the image with
# docker/build-offline.sh (no registry, no network in the build: local bases from
# docker/base-images.sh, crates vendored into a copy of the sources), then:
#   1. runs README.md's demo commands exactly as printed there (read from it), as a
#      user who is not root, in a copy of the sources, and checks demo/input.gz with
#      gzip -t and byte for byte against the embedded pool's output from the same image;
#   2. brings up docker-compose.yml as it is and compresses a multi-chunk file from the
#      shared volume in pull mode: each worker's metrics show its share; then again
#      while one worker container is killed mid-job (said as the worker going away) and
#      while one is cut off its network mid-job: the same bytes each time.
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
readme_project=gzfleet-readme-$$
work=$(mktemp -d /tmp/gzfleet-compose.XXXXXX)
clone=$work/clone
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
  [ ! -d "$clone" ] || (cd "$clone" && COMPOSE_PROJECT_NAME=$readme_project compose down -v --timeout 5 >/dev/null 2>&1) || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 124' TERM INT

# The shell commands of README.md's section "The image and docker-compose", one a line.
readme_lines() {
  python3 - "$repo/README.md" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("### The image and docker-compose", 1)[1].split("\n## ", 1)[0]
for block in re.findall(r"```sh\n(.*?)```", section, re.S):
    for line in block.splitlines():
        if line.strip():
            print(line)
PY
}

# The image, as a user without a registry makes it (README.md names this script).
if [ -n "${GZFLEET_COMPOSE_REUSE_IMAGE:-}" ] && docker image inspect gzfleet:local >/dev/null 2>&1; then
  say "GZFLEET_COMPOSE_REUSE_IMAGE: using the gzfleet:local image already built"
else
  # In the background and waited for, here and below: bash runs a trap only between
  # commands, and a build can take minutes.
  build=$(readme_lines | grep '^docker/build-offline.sh' || true)
  [ -n "$build" ] || fail "README.md's compose section no longer builds with docker/build-offline.sh: update this test"
  bash -c "$build" >"$work/build.log" 2>&1 &
  wait $! || { tail -40 "$work/build.log" >&2; fail "the image did not build"; }
  say "$(tail -n 1 "$work/build.log")"
fi
[ "$(docker image inspect -f '{{.Config.User}}' gzfleet:local)" = 65532:65532 ] || fail "the image does not run as 65532"

# 1. README.md's demo, its commands as printed, typed at a terminal (script(1)) by a user
# who is not root but may use Docker, in a copy of the sources that is theirs.
# Each worker's /metrics (from this host, at its container's address), in the compose
# project $1: every worker compressed some of the chunks, and together at least $2.
worker_metrics() {
  local c ip n total=0
  for c in $(COMPOSE_PROJECT_NAME=$1 compose ps -q worker); do
    ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c")
    n=$(python3 -c 'import sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}:9090/metrics", timeout=5).read().decode()
print(sum(int(float(l.split()[-1])) for l in text.splitlines() if l.startswith("gzfleet_worker_chunks_total")))' "$ip") \
      || fail "worker $ip: no metrics on :9090"
    [ "$n" -gt 0 ] || fail "worker $ip compressed no chunk (its metrics say)"
    total=$((total + n))
  done
  [ "$total" -ge "$2" ] || fail "the workers' metrics count $total chunks, the jobs had $2"
  say "metrics: the three workers count $total chunks for jobs of $2"
}

readme_demo() {
  local uid=4242 docker_gid line up_pid="" n=0 pid
  docker_gid=$(stat -c %g /var/run/docker.sock)
  mkdir -p "$clone/.home"
  chmod 0711 "$work" # the user passes through to the clone, and sees nothing else here
  git ls-files -co --exclude-standard -z | tar --null --ignore-failed-read -T - -cf - | tar -C "$clone" -xf -
  chown -R "$uid:$uid" "$clone"
  # LOG LINE: starts LINE as that user, in the background, bounded; its pid in $pid.
  as_user() {
    (cd "$clone" && exec timeout 600 setpriv --reuid=$uid --regid=$uid --groups="$docker_gid" \
      env -i PATH="$PATH" TERM=xterm HOME="$clone/.home" COMPOSE_PROJECT_NAME="$readme_project" \
      script -qefc "$2" /dev/null) </dev/null >"$work/$1" 2>&1 &
    pid=$!
  }
  while IFS= read -r line; do
    n=$((n + 1))
    say "README: $line"
    case $line in
      "mkdir -p demo && "*)
        as_user mkdir.log "$line"
        wait $pid || fail "README: the input was not made"
        [ "$(stat -c %u "$clone/demo/input")" = $uid ] || fail "README: demo/input is not the user's"
        docker run --rm --network none -v "$clone/demo:/data:ro" gzfleet:local gzfleet compress -c /data/input >"$work/readme-expected.gz"
        ;;
      *"docker-compose up"*)
        # It runs until Ctrl-C: in the background, interrupted at `down` below.
        as_user up.log "$line"
        up_pid=$pid
        for _ in $(seq 900); do
          grep -aq 'coordinator_1.*exited with code' "$work/up.log" && break
          kill -0 "$up_pid" 2>/dev/null || { cat "$work/up.log" >&2; fail "README: docker-compose up ended before its coordinator"; }
          sleep 0.2
        done
        grep -aq 'coordinator_1.*exited with code 0' "$work/up.log" || { cat "$work/up.log" >&2; fail "README: the coordinator did not exit 0"; }
        readme_check "docker-compose up"
        ;;
      *"docker-compose run --rm coordinator"*)
        rm "$clone/demo/input.gz"
        as_user run.log "$line"
        wait $pid || { cat "$work/run.log" >&2; fail "README: $line failed"; }
        readme_check "docker-compose run"
        # Two jobs of the input's chunks on the workers `up` started.
        (cd "$clone" && worker_metrics "$readme_project" $(( ($(stat -c %s "$clone/demo/input") + 1048575) / 1048576 * 2 )))
        ;;
      "docker-compose down -v"*)
        [ -n "$up_pid" ] || fail "README: down before up"
        # Ctrl-C: SIGINT to docker-compose up (python3 /usr/bin/docker-compose up).
        pkill -INT -U $uid -f "bin/docker-compose up" || true
        timeout 60 tail --pid="$up_pid" -f /dev/null || fail "README: docker-compose up did not stop on Ctrl-C"
        as_user down.log "$line"
        wait $pid || { cat "$work/down.log" >&2; fail "README: $line failed"; }
        [ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$readme_project")" ] || fail "README: containers left after down -v"
        ;;
      docker/build-offline.sh*) ;; # run above, as root (debootstrap)
      *) fail "README.md's compose section has a command this test does not know: $line" ;;
    esac
  done < <(readme_lines)
  [ $n -eq 5 ] || fail "README.md's compose section has $n commands, this test knows 5"
}
readme_check() {
  local case="README: $1" out=$clone/demo/input.gz
  [ "$(stat -c %u "$out")" = 4242 ] || fail "$case: demo/input.gz is not the user's"
  gzip -t "$out" || fail "$case: gzip -t refused demo/input.gz"
  cmp "$out" "$work/readme-expected.gz" || fail "$case: demo/input.gz differs from the embedded pool's"
  say "$case: ok, the same $(stat -c %s "$out") bytes as the embedded pool"
}
readme_started=$SECONDS
readme_demo
say "README's demo: ok in $((SECONDS - readme_started))s"

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

up_workers
[ "$(docker inspect -f '{{.Config.User}}' $(compose ps -q worker | sed -n 1p))" = 65532:65532 ] || fail "workers run as root"

# 3. Interrupted mid-job: start the coordinator, wait until output is being written,
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
  if [ "$action" = kill ]; then
    # Said as what it is (the worker went away, or is no longer listed), never as a
    # TLS mismatch.
    ! grep -q TLS "$work/$action.log" || { cat "$work/$action.log" >&2; fail "$case: a killed worker was reported as a TLS problem"; }
  fi
  check_output "$case"
  if [ "$action" = disconnect ]; then
    docker network connect "${project}_default" "$victim"
  fi
}

disrupted_run "a worker killed mid-job" kill
disrupted_run "a worker cut off mid-job" disconnect
say "passed in ${SECONDS}s"
