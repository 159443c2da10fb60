# ci/lib.sh - what the ci/ scripts share: a tally of checks that ends in
# the "N passed, N failed" line. Counts go to the file $RDV_TALLY, one
# "name passed failed" line per check, so scripts that ci/test calls add
# to its tally; a script run on its own gets a tally of its own. Each
# line also keeps the check's wall time, so the summary shows where a
# CI run's minutes went. A failed check also leaves its last lines (for
# ctest, the names of the failed tests) in $RDV_TALLY.failed, which the
# summary prints again at the very end: a CI page that shows only the
# tail of a long log still shows why. Source this file; do not run it.
# Fields are tab-separated: names have spaces.

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
    if [[ -z $total || $total == 0 ]]; then
        total=1 # ctest failed or ran nothing: that is a failure
        failed=1
    elif ((rc != 0 && failed == 0)); then
        failed=1
    fi
    if ((failed > 0)); then
        { echo "== $name:"
          if grep -q 'The following tests FAILED' "$out"; then
              sed -n '/The following tests FAILED/,$p' "$out" | head -n 30
          else
              tail -n 10 "$out"
          fi
        } >>"$RDV_TALLY.failed"
    fi
    rm -f "$out"
    tally_add "$name" $((total - failed)) "$failed" $((SECONDS - start))
}

# tally_step NAME CMD...: one check that passes when CMD exits 0;
# returns CMD's status, so `tally_step build ... && next` chains.
tally_step() {
    local name=$1 start=$SECONDS out rc
    shift
    echo "== $name: $*"
    out=$(mktemp)
    # errexit is off inside a || list, so rc is set whatever the caller's
    # set -e and pipefail.
    { "$@" 2>&1 | tee "$out"; rc=${PIPESTATUS[0]}; } || true
    if ((rc == 0)); then
        rm -f "$out"
        tally_add "$name" 1 0 $((SECONDS - start))
        return 0
    fi
    echo "== $name FAILED"
    { echo "== $name (exit $rc), its last lines:"; tail -n 25 "$out"; } \
        >>"$RDV_TALLY.failed"
    rm -f "$out"
    tally_add "$name" 0 1 $((SECONDS - start))
    return 1
}

# tally_summary: the closing line, printed by the script that owns the
# tally; returns non-zero when anything failed.
tally_summary() {
    local passed failed
    [[ ${RDV_TALLY_OWNER:-} == "$$" ]] || return 0
    passed=$(awk -F'\t' '{p += $2} END {print p + 0}' "$RDV_TALLY")
    failed=$(awk -F'\t' '{f += $3} END {print f + 0}' "$RDV_TALLY")
    echo
    if [[ -s $RDV_TALLY.failed ]]; then
        echo "What failed:"
        cat "$RDV_TALLY.failed"
        echo
    fi
    awk -F'\t' '{printf "  %-28s %6d passed %4d failed %6d s\n", $1, $2, $3, $4}' "$RDV_TALLY"
    rm -f "$RDV_TALLY" "$RDV_TALLY.failed"
    echo "$passed passed, $failed failed"
    ((failed == 0))
}
