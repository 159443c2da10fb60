# tests/examples/lib.sh - what the plugin tests share: a private server
# from ci/services for the length of the test, and the plugin URL that
# reaches it. Source it after setting SERVICE (etcd or zookeeper) and
# PLUGIN (the .so); then call server_start [start|start-cluster]. With
# SERVICE=tcp-store (rdv's own tcp:// server) set RDV, the rdv binary
# that serves it, instead of PLUGIN.
#
# A missing server program skips the test (exit 77, ctest's
# SKIP_RETURN_CODE) with a loud message, or fails it under CI=true: CI
# installs the servers (ci/deps), so there a missing one is a broken
# pipeline, not a reason to pass.

SERVICES=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../ci/services" && pwd)
SERVER_DIR=$(mktemp -d "/tmp/rdv-test-$SERVICE.XXXXXX")

server_cleanup() {
    "$SERVICES/$SERVICE" stop "$SERVER_DIR" >/dev/null 2>&1 || true
    rm -rf "$SERVER_DIR"
}
trap server_cleanup EXIT

# Skips (or fails under CI) when program is not installed.
need_program() {
    command -v "$1" >/dev/null && return 0
    if [[ ${CI:-} == true ]]; then
        echo "FAIL: CI=true but $1 is not installed (ci/deps installs it)" >&2
        exit 1
    fi
    echo "SKIPPED: $1 is not installed (run ci/deps)" >&2
    exit 77
}

# Starts the server and sets URL to the plugin on it.
server_start() {
    local how=${1:-start}
    case $SERVICE in
        etcd) need_program etcd; need_program etcdctl ;;
        zookeeper) need_program java ;;
    esac
    local exports extra=()
    [[ $SERVICE == tcp-store ]] && extra=("$RDV")
    exports=$("$SERVICES/$SERVICE" "$how" "$SERVER_DIR" "${extra[@]}") || {
        echo "FAIL: $SERVICE did not start (ci/services/$SERVICE $how)" >&2
        exit 1
    }
    eval "$exports"
    # timeout_ms=30000 (default 10000) bounds an op without a timeout of
    # its own: a 64 MiB set took 14-19 s through either plugin built with
    # ASan on a loaded CI host. session_ms=30000: the ZooKeeper client
    # drops a session whose server is silent for 2/3 of it, and such a
    # write keeps the server silent longer than 2/3 of the default 10 s.
    case $SERVICE in
        etcd) URL="plugin:$PLUGIN?endpoints=$RDV_TEST_ETCD_ENDPOINTS&timeout_ms=30000" ;;
        zookeeper) URL="plugin:$PLUGIN?hosts=$RDV_TEST_ZK_HOSTS&maxbuffer=134217728&session_ms=30000&timeout_ms=30000" ;;
        tcp-store) URL=$RDV_TEST_TCP_URL ;;
    esac
    echo "== $SERVICE in $SERVER_DIR; store $URL"
}
