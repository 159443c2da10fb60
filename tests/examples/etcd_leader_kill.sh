#!/usr/bin/env bash
# tests/examples/etcd_leader_kill.sh - a 3-member etcd cluster loses its
# leader to SIGKILL while 16 ranks rendezvous through the etcd plugin,
# which is given all three endpoints. No record may be lost and no rank
# may hang past its deadline.
#
#   etcd_leader_kill.sh RDV PLUGIN [SEED]
#
# The leader is found with `etcdctl endpoint status` (ci/services/etcd
# leader) and killed by its PID the moment the run's first key appears
# in etcd (an etcdctl watch): one rank has just published its record,
# the others are publishing theirs or waiting for their peers'. The run
# must then pass every check: ranks-ok and mesh-consistent say every
# rank read every record (none was lost), no-hang that every rank ended
# before its deadline, no-leak that the records were deleted after. If
# the run ended before the kill landed, the premise does not hold: the
# test skips (exit 77) rather than pass.
#
# The workload ends with store:8 rather than the default store:64: it
# runs after the election, and 16 ranks each adding 64 times to one
# counter is a contention benchmark for etcd's compare-and-swap adds,
# not a failover test.
set -euo pipefail
SERVICE=etcd RDV=$1 PLUGIN=$2 SEED=${3:-1}
source "$(dirname "$0")/lib.sh"

server_start start-cluster
out=$SERVER_DIR/run.out
exec {watch}< <(exec env ETCDCTL_API=3 etcdctl \
    --endpoints="$RDV_TEST_ETCD_ENDPOINTS" watch --prefix "" 2>/dev/null)
watch_pid=$!
t0=$(date +%s%N)
"$RDV" run --store "$URL" --ranks 16 --seed "$SEED" --timeout 15000 \
    --workload barrier,allreduce,broadcast,allgather,store:8 >"$out" 2>&1 &
run_pid=$!
if ! read -r -t 60 event <&"$watch"; then
    kill "$run_pid" "$watch_pid" 2>/dev/null || true
    echo "FAIL: no key of the run appeared in etcd within 60 s" >&2
    cat "$out" >&2
    exit 1
fi
read -r leader pid < <("$SERVICES/etcd" leader "$SERVER_DIR")
kill -KILL "$pid"
kill -0 "$run_pid" 2>/dev/null && running=1 || running=0
kill "$watch_pid" 2>/dev/null || true
echo "== $(((($(date +%s%N) - t0)) / 1000000)) ms into the run, at its first key ($event), killed the leader $leader (PID $pid)"
set +e
wait "$run_pid"
rc=$?
set -e
cat "$out"
echo "== rdv run exited $rc after $(((($(date +%s%N) - t0)) / 1000000)) ms"
if ((running == 0)); then
    echo "SKIPPED: the run ended before the leader was killed" >&2
    exit 77
fi
exit "$rc"
