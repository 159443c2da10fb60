#!/usr/bin/env bash
# tests/ref/stores/redis/redis_gate.sh BUILD_DIR BINARY - the redis suites'
# skip logic (tests/redis_gate.c, rdv_test_needs_redis): a gated binary
# without $RDV_TEST_REDIS_URL exits 77 (ctest: skipped) outside CI and 1
# under CI=true, each saying why, and runs as usual once the URL is set or
# when ctest did not gate it; every ctest entry that needs the shared
# server carries the gate and SKIP_RETURN_CODE 77.
set -uo pipefail
build=$1 bin=$2
fail=0
check() { # what expected-rc expected-text rc text
    if [[ $4 != "$2" || $5 != *"$3"* ]]; then
        echo "FAIL: $1: exit $4 (want $2), output: $5" >&2
        fail=1
    else
        echo "ok: $1: exit $4, $3"
    fi
}
out=$(env -u RDV_TEST_REDIS_URL -u CI RDV_TEST_NEEDS_REDIS=1 "$bin" 2>&1); rc=$?
check "no server, not CI" 77 "SKIPPED: RDV_TEST_REDIS_URL is not set" "$rc" "$out"
out=$(env -u RDV_TEST_REDIS_URL CI=true RDV_TEST_NEEDS_REDIS=1 "$bin" 2>&1); rc=$?
check "no server, CI=true" 1 "FAIL: CI=true but RDV_TEST_REDIS_URL is not set" "$rc" "$out"
# Not gated (run by hand): the binary's own tests decide, and --list
# lists them without starting any.
out=$(env -u RDV_TEST_REDIS_URL -u CI -u RDV_TEST_NEEDS_REDIS "$bin" --list 2>&1); rc=$?
check "not gated" 0 "redis_shared" "$rc" "$out"
# The ctest entries that need the shared server, as ctest sees them.
ctest --test-dir "$build" --show-only=json-v1 | python3 -c '
import json, sys
want = {"store_redis_test_redis_shared", "store_contract_redis",
        "store_contract_redis_timed", "store_contract_redis_alone",
        "fault_test_server", "fault_test_outcomes_redis"}
seen = set()
bad = 0
for t in json.load(sys.stdin)["tests"]:
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    gated = "RDV_TEST_NEEDS_REDIS=1" in props.get("ENVIRONMENT", [])
    if t["name"] in want:
        seen.add(t["name"])
        if not gated or props.get("SKIP_RETURN_CODE") != 77:
            print("FAIL: %s: gate %s, SKIP_RETURN_CODE %s" % (t["name"], gated, props.get("SKIP_RETURN_CODE")))
            bad = 1
    elif gated:
        print("FAIL: %s is gated but not expected to need the server" % t["name"])
        bad = 1
for name in sorted(want - seen):
    print("FAIL: no ctest entry %s" % name)
    bad = 1
print("ok: %d gated ctest entries" % len(seen)) if not bad else None
sys.exit(bad)
' || fail=1
exit $fail
