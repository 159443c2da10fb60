# ci/lib.sh - what the ci/ scripts share: a tally of checks that ends in
# the "N passed, N failed" line. Counts go to the file $RDV_TALLY, one
# "name passed failed" line per check, so scripts that ci/test calls add
# to its tally; a script run on its own gets a tally of its own. Each
# line also keeps the check's wall time, so the summary shows where a
# CI run's minutes went. Source this file; do not run it. Fields are
# tab-separated: names have spaces.

if [[ -z ${RDV_TALLY:-} ]]; then
    RDV_TALLY=$(mktemp)
    RDV_TALLY_OWNER=$$
    export RDV_TALLY
fi

tally_add() { # NAME PASSED FAILED SECONDS
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-0}" >>"$RDV_TALLY"
}

# tally_ctest NAME [ctest args...]: runs ctest and adds its counts.
tally_ctest() {
    local name=$1 out rc total failed start=$SECONDS
    shift
    out=$(mktemp)
    echo "== $name: ctest $*"
    set +e
    ctest --output-on-failure "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    set -e
    total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$out" | tail -n1)
    failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$out" | tail -n1)
    rm -f "$out"
    if [[ -z $total || $total == 0 ]]; then
        total=1 # ctest failed or ran nothing: that is a failure
        failed=1
    elif ((rc != 0 && failed == 0)); then
        failed=1
    fi
    tally_add "$name" $((total - failed)) "$failed" $((SECONDS - start))
}

# tally_step NAME CMD...: one check that passes when CMD exits 0;
# returns CMD's status, so `tally_step build ... && next` chains.
tally_step() {
    local name=$1 start=$SECONDS
    shift
    echo "== $name: $*"
    if "$@"; then
        tally_add "$name" 1 0 $((SECONDS - start))
    else
        echo "== $name FAILED"
        tally_add "$name" 0 1 $((SECONDS - start))
        return 1
    fi
}

# tally_summary: the closing line, printed by the script that owns the
# tally; returns non-zero when anything failed.
tally_summary() {
    local passed failed
    [[ ${RDV_TALLY_OWNER:-} == "$$" ]] || return 0
    passed=$(awk -F'\t' '{p += $2} END {print p + 0}' "$RDV_TALLY")
    failed=$(awk -F'\t' '{f += $3} END {print f + 0}' "$RDV_TALLY")
    echo
    awk -F'\t' '{printf "  %-28s %6d passed %4d failed %6d s\n", $1, $2, $3, $4}' "$RDV_TALLY"
    rm -f "$RDV_TALLY"
    echo "$passed passed, $failed failed"
    ((failed == 0))
}
