#!/usr/bin/env bash
# tests/examples/server_faults.sh - the fault catalogue's server faults
# against a store whose server is not redis, on a private server of its
# own (ci/services), told to the harness as a user tells it:
#
#   server_faults.sh SERVICE RDV [PLUGIN]
#
# SERVICE  etcd or zookeeper (PLUGIN: the store plugin .so),
#          tcp-store (rdv's own tcp:// server, `rdv store-server`), or
#          tcp-own (tcp://…?serve=1: the harness starts the server for
#          the run itself, and is told nothing about it).
#
# One `rdv matrix` at N = 4, seeds 1-2, with the server's PID file
# (--server-pid: pause is SIGSTOP, then SIGCONT; read again after a
# restart), its address (--server-proxy: the ranks go through the fault
# proxy) and its restart command (--server-restart: ci/services' restart,
# same port and, for etcd and ZooKeeper, same data), over these columns:
#   none, and the catalogue's server-pause, server-restart,
#   server-latency, server-reset and server-blackhole, which the
#   catalogue calls survivable: every run must pass;
#   a pause and a blackhole held for the timeout + 1 s, which the
#   catalogue calls fatal: every rank must fail within its deadline with
#   a clear error, none may hang. These two also prove the
#   premise: had the pause missed the server or the ranks bypassed the
#   proxy, the ranks would not fail, and the column would.
# The workload ends with store:8, not the default store:64: the faults
# strike during the rendezvous, and 4 ranks adding 64 times to one etcd
# counter under compare-and-swap hit the deadline on a loaded host with
# no fault at all.
# No cell may be skipped (a skip would mean the server was not found).
# The timeout is generous (a restart takes 3 s for etcd, more for
# ZooKeeper's JVM, on a busy host): 15 s for ZooKeeper, 10 s for etcd,
# 5 s for tcp://.
set -euo pipefail
SERVICE=$1 RDV=$2 PLUGIN=${3:-}
source "$(dirname "$0")/lib.sh"

if [[ $SERVICE == tcp-own ]]; then
    SVC_NAME=server_faults.sh source "$SERVICES/lib.sh"
    URL="tcp://127.0.0.1:$(svc_free_ports 1)?serve=1"
else
    server_start
fi
case $SERVICE in
    etcd) pidfile=$SERVER_DIR/m0/etcd.pid target=$RDV_TEST_ETCD_ENDPOINTS timeout=10000 ;;
    zookeeper) pidfile=$RDV_TEST_ZK_PIDFILE target=$RDV_TEST_ZK_HOSTS timeout=15000 ;;
    tcp-store) pidfile=$RDV_TEST_TCP_PIDFILE target=${RDV_TEST_TCP_URL#tcp://} timeout=5000 ;;
    tcp-own) timeout=5000 ;;
    *) echo "server_faults.sh: unknown SERVICE '$SERVICE'" >&2; exit 2 ;;
esac
where=()
[[ $SERVICE != tcp-own ]] && where=(--server-pid "$pidfile" --server-proxy "$target"
    --server-restart "$SERVICES/$SERVICE restart $SERVER_DIR")
long=$((timeout + 1000))
# The plugins' own bound for ops without a timeout of their own (open,
# set) is the run's, not lib.sh's 30 s for 64 MiB values: no rank may
# outlive its deadline waiting on a dead server.
URL=${URL/timeout_ms=30000/timeout_ms=$timeout}
# ZooKeeper's session is 6 s, not lib.sh's 30 s (meant for 64 MiB
# values; this workload's largest is 256 KiB): a ZooKeeper 3.8 server
# that is starting can accept a connection and never answer it (its log:
# a NullPointerException in removeCnxn, "ZooKeeperServer not running"),
# and the C client waits 2/3 of the session timeout before it tries
# again, 20 s with lib.sh's, past the run's timeout (zk-store/README.md).
URL=${URL/session_ms=30000/session_ms=6000}
# tcp:// bounds an op without a deadline of its own (the cleanup's delete)
# by its timeout_ms, 5 s by default: a rank failed by the fatal blackhole
# gives up at 5.8 s, then its delete, sent while the blackhole still
# swallows bytes, waits out that whole bound: 10.8 s of the harness's
# 11 s deadline (2 x timeout + 1 s), and an ASan rank's exit took the
# rest. Half the timeout leaves seconds to spare.
[[ $SERVICE == tcp-store ]] && URL="$URL?timeout_ms=$((timeout / 2))"
[[ $SERVICE == tcp-own ]] && URL="$URL&timeout_ms=$((timeout / 2))"
# server-blackhole (500 ms) is left out for tcp:// and etcd, which do not
# survive it: the proxy drops the bytes it swallows, and neither store
# resends a request that got no reply (the tcp store waits for the reply
# until the call's deadline; the etcd plugin abandons a silent call only
# when it has another endpoint to send it to), so their ranks fail at
# the timeout (srvfault.md; rerun it with --faults server-blackhole).
# The fatal blackhole below still proves that the ranks go through the
# proxy.
short=(server-pause server-restart server-latency server-reset)
[[ $SERVICE == zookeeper ]] && short+=(server-blackhole)
cols=(--faults none)
for f in "${short[@]}"; do cols+=(--faults "$f"); done
cols+=(--faults "proc.start-late(rank=1, ms=300); server.pause(after=100, ms=$long)"
    --faults "proc.start-late(rank=1, ms=300); server.blackhole(after=100, ms=$long)")
out=$SERVER_DIR/matrix.json
if [[ $SERVICE == tcp-own ]]; then
    echo "== the run serves $URL itself"
else
    echo "== server PID file $pidfile (PID $(cat "$pidfile")), proxied address $target"
fi
set +e
"$RDV" matrix --store "$URL" --ranks 4 --seeds 1-2 --timeout "$timeout" \
    --workload barrier,allreduce,broadcast,store:8 \
    "${cols[@]}" "${where[@]}" --json >"$out"
rc=$?
set -e
echo "== rdv matrix exited $rc"
# The judge. A survivable column: every run passed. A fatal column:
# ranks-ok (every survivor failed: the fault landed), no-hang (each
# within its deadline) and error-quality (each error names a rank, key or
# address) pass. The harness's other verdicts there are printed, not
# judged: culprit-named is SKIP (a server fault has no culprit rank or
# key to name), and no-leak counts a record a rank could not delete
# through the dead server (srvfault.md). Every run must be there.
python3 - "$out" "$((${#cols[@]} / 2 * 2))" "$long" <<'PY'
import json, sys
path, want, long_ms = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bad, runs = [], 0
FATAL_MUST = ("ranks-ok", "no-hang", "error-quality")
for line in open(path):
    o = json.loads(line)
    if o.get("type") == "cell":
        bad.append(f'cell {o["verdict"]}: {o["faults"]}: {o["detail"]}')
        continue
    if o.get("type") != "run":
        continue
    runs += 1
    what = f'{o["faults"]} seed {o["seed"]}'
    fatal = f"ms={long_ms})" in (o["faults"] or "")
    checks = {c["name"]: c["verdict"] for c in o["checks"]}
    lost = sum(r.get("records_republished", 0) for r in o["ranks_detail"])
    errs = sorted({r["status"] + " " + r["error"] for r in o["ranks_detail"] if r["error"]})
    print(f'{"pass" if o["passed"] else "fail"} {o["elapsed_ms"]:.0f} ms '
          f'republished={lost}: {what}')
    for e in errs[:2]:
        print("   rank error:", e[:300])
    for c in o["checks"]:
        if c["verdict"] == "FAIL":
            print(f'   {c["name"]} FAIL: {c["detail"][:300]}')
    if not fatal and not o["passed"]:
        bad.append(f"{what}: failed")
    if fatal and checks.get("ranks-ok") != "PASS":
        bad.append(f"{what}: the fault did not fail the ranks")
    if fatal:
        bad += [f"{what}: {n} {checks.get(n)}" for n in FATAL_MUST
                if checks.get(n) != "PASS"]
        if checks.get("culprit-named") == "PASS":
            bad.append(f"{what}: culprit-named PASS with no culprit to name")
if runs != want:
    bad.append(f"{runs} runs, not the {want} asked for")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
