#!/usr/bin/env bash
# CI for deploy/slurm (.ci/run calls it after the cargo tests built target/release): a
# real Slurm (Debian's slurmctld, slurmd and munged, installed if missing) of three
# nodes, each slurmd in a network and UTS namespace of its own (its own address and
# host name) on a private bridge, runs gzfleet.sbatch as a user would:
#   1. a file, and a batch (-r), through workers on every node: the job's stats show
#      chunks from each node, and the bytes are the embedded pool's; the token is in a
#      folder only its owner reads, on no command line, and gone after the job;
#   2. one node's worker killed mid-job: the job still succeeds, with the same bytes,
#      and says the worker went away, not that TLS failed;
#   3. the job cancelled mid-run (partial output and journal kept, no process left),
#      resubmitted with --resume; and the time-limit warning (USR1) mid-run, on which
#      the job requeues itself and resumes: the same bytes both times;
#   4. a node where the worker cannot start (its port taken) is named and the others
#      do the job; a job where no worker starts fails, saying so.
# Everything it starts (daemons, namespaces, the bridge's link, files) is removed however
# it ends; global names contain "slurm". Bounded by GZFLEET_SLURM_LIMIT seconds (600).
# BIN_DIR overrides where the binaries are (default target/release).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${BIN_DIR:-$repo/target/release}"

# The time bound: the whole script under timeout(1), whose TERM reaches the script and
# its children, so the EXIT trap below tears down.
if [ -z "${GZFLEET_SLURM_BOUNDED:-}" ]; then
  export GZFLEET_SLURM_BOUNDED=1
  exec timeout -k 30 "${GZFLEET_SLURM_LIMIT:-600}" "$here/test.sh" "$@"
fi

say() { echo "deploy/slurm/test.sh: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (namespaces, daemons)"
for b in gzfleet gzfleet-worker; do
  [ -x "$bin/$b" ] || fail "no $bin/$b: build first (cargo build --release --bins)"
done

# One run at a time on a machine: the names below are fixed. The lock is this file.
exec 9<"$here/test.sh"
flock -n 9 || fail "another deploy/slurm/test.sh is running"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v ip >/dev/null; then
  say "installing Debian's slurm-wlm, munge and iproute2"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge iproute2 >/dev/null
fi

net=10.77.24
sw=gzfleet-slurm-sw
host_if=gzf-slurm0
nodes=(slurmn1 slurmn2 slurmn3)
ns() { echo "gzfleet-slurm-$1"; }
work=$(mktemp -d /tmp/gzfleet-slurm.XXXXXX)
chmod 0755 "$work"
# HOME: where the jobs keep their private folders (sbatch exports it to them).
export SLURM_CONF=$work/slurm.conf GZFLEET_BIN=$bin HOME=$work/home
daemons=()

teardown() {
  local rc=$?
  trap - EXIT
  if [ $rc -ne 0 ] && [ -d "$work/log" ]; then
    say "exit $rc; the daemons' last lines:"
    tail -n 8 "$work"/log/* >&2 2>/dev/null || true
  fi
  [ -f "$SLURM_CONF" ] && timeout 10 scancel --full -u root >/dev/null 2>&1 || true
  local pid
  for pid in "${daemons[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${daemons[@]}"; do
    timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  # Whatever a job left inside a node (none should be left: that is tested above).
  for n in "${nodes[@]}"; do
    ip netns pids "$(ns "$n")" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$(ns "$n")" 2>/dev/null || true
  done
  ip netns del "$sw" 2>/dev/null || true
  ip link del "$host_if" 2>/dev/null || true
  rm -rf "$work"
  exit $rc
}
trap teardown EXIT
trap 'exit 124' TERM INT

# A run killed outright (SIGKILL, a lost machine) leaves its namespaces: we hold the
# lock, so they are nobody's.
for n in "$sw" "$(ns slurmn1)" "$(ns slurmn2)" "$(ns slurmn3)"; do
  ! ip netns pids "$n" >/dev/null 2>&1 || { say "removing $n, left by an earlier run"; ip netns pids "$n" | xargs -r kill -KILL; ip netns del "$n"; }
done
ip link del "$host_if" 2>/dev/null || true
[ -z "$(ip -o addr show to "$net.0/24")" ] || fail "$net.0/24 is in use on this machine"

# The network: a bridge in a namespace of its own (so the host's firewall, which may
# drop bridged traffic, never sees it), each node's namespace on it, and the host on it
# as $net.254, where slurmctld listens.
ip netns add "$sw"
ip -n "$sw" link set lo up
ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
ip link add "$host_if" type veth peer name tohost netns "$sw"
ip -n "$sw" link set dev tohost master br0 up
ip addr add "$net.254/24" dev "$host_if"
ip link set "$host_if" up
i=0
for n in "${nodes[@]}"; do
  i=$((i + 1))
  ip netns add "$(ns "$n")"
  ip -n "$sw" link add "$n" type veth peer name eth0 netns "$(ns "$n")"
  ip -n "$sw" link set dev "$n" master br0 up
  ip -n "$(ns "$n")" addr add "$net.$i/24" dev eth0
  ip -n "$(ns "$n")" link set eth0 up
  ip -n "$(ns "$n")" link set lo up
done

# munge: a key of our own and a socket in the work folder (the system's munged, if any,
# is left alone). Its folder must be the munge user's and traversable by all.
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/log" "$work/data" "$HOME"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$work/munge"
chmod 0400 "$work/munge/munge.key"
setsid setpriv --reuid=munge --regid=munge --init-groups munged -F \
  --socket="$work/munge/socket" --key-file="$work/munge/munge.key" --pid-file="$work/munge/pid" \
  --log-file="$work/log/munged.log" --seed-file="$work/munge/seed" </dev/null >"$work/log/munged.out" 2>&1 &
daemons+=($!)

ctld_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
cat >"$SLURM_CONF" <<EOF
ClusterName=gzfleetslurm
# Must be this host's short name; the address is where the nodes reach it.
SlurmctldHost=$(hostname -s)($net.254)
SlurmctldPort=$ctld_port
SlurmdPort=6818
SlurmUser=root
AuthType=auth/munge
# cred_expire: a requeued job may start again only this long after (default 120 s).
AuthInfo=socket=$work/munge/socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.%n.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MailProg=/bin/true
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=10
MinJobAge=600
NodeName=slurmn1 NodeAddr=$net.1 CPUs=2 State=UNKNOWN
NodeName=slurmn2 NodeAddr=$net.2 CPUs=2 State=UNKNOWN
NodeName=slurmn3 NodeAddr=$net.3 CPUs=2 State=UNKNOWN
PartitionName=gzfleet Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
for _ in $(seq 50); do [ -S "$work/munge/socket" ] && break; sleep 0.1; done
[ -S "$work/munge/socket" ] || fail "munged did not start"
# In the foreground (-D) under setsid, stopped by pid. Each slurmd enters its node's
# namespace with nsenter (ip netns exec remounts /sys, and slurmd then exits).
(cd "$work" && exec setsid slurmctld -D -i -f "$SLURM_CONF" </dev/null >"$work/log/slurmctld.out" 2>&1) &
daemons+=($!)
for n in "${nodes[@]}"; do
  setsid nsenter --net="/run/netns/$(ns "$n")" unshare --uts \
    sh -c "hostname $n && exec slurmd -D -f '$SLURM_CONF' -N $n" </dev/null >"$work/log/slurmd.$n.out" 2>&1 &
  daemons+=($!)
done
for _ in $(seq 100); do
  [ "$(timeout 5 sinfo -h -o '%T %D' 2>/dev/null)" = "idle 3" ] && break
  sleep 0.2
done
[ "$(timeout 5 sinfo -h -o '%T %D' 2>/dev/null)" = "idle 3" ] || fail "the cluster did not come up: $(timeout 5 sinfo 2>&1)"
say "Slurm up in ${SECONDS}s: 3 nodes ($net.1-3), controller on $(hostname -s)"

data=$work/data
cd "$data"
# sbatch … --wait, bounded: CASE, then sbatch's arguments. The job's output is $data/CASE.out.
job() {
  local case=$1
  shift
  timeout 300 sbatch --wait -N 3 -o "$data/$case.out" "$here/gzfleet.sbatch" "$@" >/dev/null 2>"$data/$case.sbatch.err"
}
submit() { # as job, without waiting: prints the job id
  local case=$1
  shift
  timeout 30 sbatch --parsable -N 3 -o "$data/$case.out" "$here/gzfleet.sbatch" "$@"
}
wait_gone() { # JOBID: until Slurm has forgotten it or it ended
  for _ in $(seq 600); do
    case $(timeout 5 squeue -h -j "$1" -o %T 2>/dev/null) in '' | COMPLETED | CANCELLED | FAILED) return 0 ;; esac
    sleep 0.1
  done
  fail "job $1 did not end"
}
show() { cat "$data/$1.out" >&2; }
# gzfleet-workers still running on the nodes (in their namespaces: only ours).
workers_left() {
  local n p count=0
  for n in "${nodes[@]}"; do
    for p in $(ip netns pids "$(ns "$n")"); do
      [ "$(cat "/proc/$p/comm" 2>/dev/null)" = gzfleet-worker ] && count=$((count + 1))
    done
  done
  echo $count
}
# Every node's worker did some of the work, by the job's stats.
every_node() { # STATS CASE
  python3 - "$1" "$2" "$net" <<'PY' || { show "$2"; fail "$2: not every node's worker compressed chunks"; }
import json, sys
stats, case, net = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
shares = {w["name"].split(":")[0]: w["chunks"] for w in stats["workers"]}
print(f"deploy/slurm/test.sh: {case}: chunks per node {shares}", file=sys.stderr)
sys.exit(0 if all(shares.get(f"{net}.{i}", 0) > 0 for i in (1, 2, 3)) else 1)
PY
}
same() { # CASE OUT EXPECTED
  gzip -t "$2" || fail "$1: gzip -t refused $2"
  cmp "$2" "$3" || fail "$1: $2 differs from the embedded pool's"
}

# The inputs, and what the embedded pool makes of them.
head -c 48M /dev/urandom | base64 -w 100 >"$data/one"
mkdir -p "$data/tree/a/b" "$data/tree/c"
for f in $(seq 30); do head -c $((f * 37000)) /dev/urandom | base64 >"$data/tree/a/f$f"; done
head -c 6M /dev/urandom | base64 >"$data/tree/a/b/six"
: >"$data/tree/c/empty"
seq 1 400000 >"$data/tree/c/numbers"
head -c 200M /dev/urandom | base64 -w 100 >"$data/big"
"$bin/gzfleet" compress -c "$data/one" >"$work/one.gz"
"$bin/gzfleet" compress -q -r --output-dir "$work/tree-expected" "$data/tree"
"$bin/gzfleet" compress -c "$data/big" >"$work/big.gz"

# 1. A file, then a batch, through every node.
job file --stats-json "$data/file.json" one || { show file; fail "the file job failed"; }
same file "$data/one.gz" "$work/one.gz"
every_node "$data/file.json" file
grep -q "workers up on 3 of 3 nodes" "$data/file.out" || { show file; fail "file: the job does not say its workers are up"; }
[ -z "$(ls -A "$HOME/.gzfleet")" ] || fail "the job left its folder behind: $(ls -A "$HOME/.gzfleet")"
[ "$(workers_left)" = 0 ] || fail "workers left running after the job"
rm "$data/one.gz"
job batch --stats-json "$data/batch.json" -r --output-dir "$data/tree-out" tree || { show batch; fail "the batch job failed"; }
diff -r "$data/tree-out" "$work/tree-expected" || fail "batch: the outputs differ from the embedded pool's"
every_node "$data/batch.json" batch
say "1. a file and a batch through 3 nodes: ok, the embedded pool's bytes"

# The token while a job runs: in a folder only its owner may enter, readable by it
# alone, never on a command line. Then 2: one node's worker killed mid-job.
id=$(submit kill --stats-json "$data/kill.json" big)
for _ in $(seq 600); do [ -s "$data/big.gz.gzfleet-partial" ] && break; sleep 0.05; done
[ -s "$data/big.gz.gzfleet-partial" ] || { show kill; fail "kill: the job never started writing"; }
jobdir=$HOME/.gzfleet/job-$id
[ "$(stat -c %a "$jobdir")" = 700 ] && [ "$(stat -c %a "$jobdir/token")" = 600 ] \
  || fail "the job's folder or token is readable by others: $(stat -c '%a %n' "$jobdir" "$jobdir/token")"
token=$(cat "$jobdir/token")
[ ${#token} -ge 32 ] || fail "the token is short"
for p in /proc/[0-9]*; do
  { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF "$token" && fail "the token is on a command line: $(tr '\0' ' ' <"$p/cmdline")"
done
victim=$(ip netns pids "$(ns slurmn2)" | while read -r p; do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = gzfleet-worker ] && echo "$p"; done)
[ -n "$victim" ] || fail "kill: no worker on slurmn2"
kill -KILL $victim
wait_gone "$id"
[ -e "$data/big.gz" ] || { show kill; fail "kill: the job did not complete after a worker was killed"; }
same kill "$data/big.gz" "$work/big.gz"
grep -q "gzfleet exited 0" "$data/kill.out" || { show kill; fail "kill: gzfleet did not exit 0"; }
python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit(0 if s["failed_attempts"] + s["reassignments"] > 0 or any(w["failures"] for w in s["workers"]) else 1)' "$data/kill.json" \
  || { show kill; fail "kill: the stats show no failure: was the worker killed after the job?"; }
# Said as what it is: gone away (chunks in flight) or refusing connections, never TLS.
grep -Eq "worker $net.2:[0-9]* out of rotation: (the worker went away|.*Connection refused)" "$data/kill.out" \
  || { show kill; fail "kill: the job does not say the worker on slurmn2 went away"; }
! grep -q "TLS" "$data/kill.out" || { show kill; fail "kill: a killed worker was reported as a TLS problem"; }
[ "$(workers_left)" = 0 ] || fail "workers left running after the kill job"
rm "$data/big.gz"
say "2. a node's worker killed mid-job: ok, the same bytes"

# 3. Cancelled mid-run, then resubmitted with --resume.
durable() { [ -s "$data/big.gz.gzfleet-journal" ] && grep -q '"chunks": *[1-9]' "$data/big.gz.gzfleet-journal"; }
id=$(submit cancel big)
for _ in $(seq 600); do durable && break; sleep 0.05; done
durable || { show cancel; fail "cancel: no durable progress to cancel after"; }
timeout 10 scancel "$id"
wait_gone "$id"
for _ in $(seq 100); do [ "$(workers_left)" = 0 ] && break; sleep 0.1; done
[ "$(workers_left)" = 0 ] || fail "cancel: workers left running after scancel"
[ ! -e "$data/big.gz" ] || { show cancel; fail "cancel: the job finished before it was cancelled: make big larger"; }
[ -e "$data/big.gz.gzfleet-partial" ] && durable || { show cancel; fail "cancel: the partial output and its journal were not kept"; }
job resubmit --resume --stats-json "$data/resubmit.json" big || { show resubmit; fail "the resubmitted job failed"; }
same resubmit "$data/big.gz" "$work/big.gz"
python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["jobs"][0]["resumed_chunks"] > 0 else 1)' "$data/resubmit.json" \
  || { show resubmit; fail "resubmit: nothing was resumed"; }
rm "$data/big.gz"
# The time-limit warning (what --signal=B:USR1@90 sends): the job stops at a durable
# point and requeues itself; the requeued run resumes.
id=$(submit requeue --stats-json "$data/requeue.json" big)
for _ in $(seq 600); do durable && break; sleep 0.05; done
durable || { show requeue; fail "requeue: no durable progress before the warning"; }
timeout 10 scancel -b -s USR1 "$id"
for _ in $(seq 900); do [ -e "$data/big.gz" ] && [ "$(timeout 5 squeue -h -j "$id" -o %T)" = "" ] && break; sleep 0.1; done
grep -q "requeued: the next run resumes" "$data/requeue.out" || { show requeue; fail "requeue: the job did not requeue itself"; }
grep -q "restart 1" "$data/requeue.out" || { show requeue; fail "requeue: the job did not run again"; }
same requeue "$data/big.gz" "$work/big.gz"
python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["jobs"][0]["resumed_chunks"] > 0 else 1)' "$data/requeue.json" \
  || { show requeue; fail "requeue: the requeued run resumed nothing"; }
say "3. cancelled then resubmitted with --resume, and requeued at the time-limit warning: ok, the same bytes"

# 4. A node whose worker cannot start: its port is taken there.
rm -f "$data/one.gz"
nsenter --net="/run/netns/$(ns slurmn3)" python3 -c 'import socket, time
s = socket.socket(); s.bind(("0.0.0.0", 7070)); s.listen(); print("bound", flush=True); time.sleep(120)' >"$work/squatter" &
squatter=$!
for _ in $(seq 100); do grep -q bound "$work/squatter" && break; sleep 0.1; done
grep -q bound "$work/squatter" || fail "noworker: could not take port 7070 on slurmn3"
GZFLEET_PORT=7070 job noworker --stats-json "$data/noworker.json" one || { show noworker; fail "a job with one node's worker down failed"; }
kill "$squatter"
same noworker "$data/one.gz" "$work/one.gz"
grep -q "no worker on slurmn3: gzfleet-worker: cannot listen on 0.0.0.0:7070" "$data/noworker.out" || { show noworker; fail "noworker: slurmn3 is not named"; }
grep -q "workers up on 2 of 3 nodes" "$data/noworker.out" || { show noworker; fail "noworker: the job does not count 2 workers"; }
rm "$data/one.gz"
# ... and none can: the job fails, saying so.
if GZFLEET_WORKER_ARGS="--max-chunk 1K" job noworkers one; then show noworkers; fail "a job with no worker succeeded"; fi
grep -q "no worker came up on any of the job's 3 nodes" "$data/noworkers.out" || { show noworkers; fail "noworkers: the job does not say why it failed"; }
[ ! -e "$data/one.gz" ] || fail "noworkers: an output appeared"
say "4. a node whose worker cannot start is named, and no worker at all fails the job: ok"
say "passed in ${SECONDS}s"
