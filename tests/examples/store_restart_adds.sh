#!/usr/bin/env bash
# tests/examples/store_restart_adds.sh - adds through a store plugin
# while its server crashes (SIGKILL) and restarts: is each applied
# exactly once, or said to have an unknown outcome?
#
#   store_restart_adds.sh SERVICE DRIVER PLUGIN [PROCS] [RESTARTS]
#
# SERVICE  etcd or zookeeper: a private server of its own (ci/services),
#          restarted with `ci/services/SERVICE restart DIR` (same port,
#          same data).
# DRIVER   store_adds (tests/examples/store_adds.c): PROCS processes
#          (4) add 1 to one new key again and again while the server is
#          restarted RESTARTS times (3); then the counter must lie in
#          [adds ok, adds ok + adds whose outcome is unknown].
# The plugin's own bound for an op is 10 s, the server's restart takes
# seconds: an add waits the restart out rather than fail. ZooKeeper's
# session is 6 s, not lib.sh's 30 s (for 64 MiB values; these are a few
# bytes): a ZooKeeper 3.8 server that is starting can accept a
# connection and never answer it (its log: a NullPointerException in
# removeCnxn, "ZooKeeperServer not running"), and the C client waits 2/3
# of the session timeout before it tries again (zk-store/README.md).
set -euo pipefail
SERVICE=$1 DRIVER=$2 PLUGIN=$3 PROCS=${4:-4} RESTARTS=${5:-3}
source "$(dirname "$0")/lib.sh"

server_start
URL=${URL/timeout_ms=30000/timeout_ms=10000}
URL=${URL/session_ms=30000/session_ms=6000}
key="adds/$$/$(date +%s%N)"
"$DRIVER" "$URL" "$key" "$PROCS" "$RESTARTS" \
    "$SERVICES/$SERVICE restart $SERVER_DIR >/dev/null"
# (not exec: the EXIT trap stops the server)
