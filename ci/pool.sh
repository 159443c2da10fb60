# ci/pool.sh - runs a function over a list of items, a few at a time,
# for the ci/ scripts whose items are independent and each use about one
# core or mostly wait (fuzz targets, memcheck processes, the fault
# matrix's stores). Source this file; do not run it.
#
# pool_run JOBS FUNC ITEM...: runs `FUNC ITEM` for each ITEM, in the order
# given, at most JOBS at once. Each job's output (stdout and stderr) goes
# to a file and is printed whole when the job ends, so the output of two
# jobs never interleaves. Returns 1 when any job failed, 0 otherwise.

pool_run() {
    local jobs=$1 fn=$2 dir item n=0 status=0
    local -A pool_log=()
    shift 2
    dir=$(mktemp -d /tmp/rdv-pool.XXXXXX)
    for item in "$@"; do
        while ((${#pool_log[@]} >= jobs)); do
            pool_reap || status=1
        done
        "$fn" "$item" >"$dir/$n" 2>&1 &
        pool_log[$!]=$dir/$n
        n=$((n + 1))
    done
    while ((${#pool_log[@]} > 0)); do
        pool_reap || status=1
    done
    rm -rf "$dir"
    return "$status"
}

# Waits for any job of the caller's pool_log, prints its output and
# returns its status.
pool_reap() {
    local pid rc=0
    wait -n -p pid "${!pool_log[@]}" || rc=$?
    cat "${pool_log[$pid]}"
    unset "pool_log[$pid]"
    return "$rc"
}
