/*
 * tests/harness/test_harness_scale.c - the `rdv` binary at N = 256, where
 * the harness used to stop at 64 (issue 22): real forked ranks, real
 * stores, every check.
 *
 * - `rdv run --ranks 256` with the default workload passes every check
 *   (error-quality SKIPs: no rank failed) on hash:?shared=1 and on
 *   file://, with the soft fd limit set below what 256 ranks need (the
 *   harness must raise it), and its trace parses with a track for every
 *   rank;
 * - `rdv matrix --ranks 256` passes, with its table, JUnit and no-leak;
 * - a hard fd limit too low for the ranks is said before the run, and
 *   the run ends cleanly with exit 3 (could not run) instead of hanging.
 *
 * The runs take a generous --timeout: these tests judge correctness at
 * scale, not speed (a loaded 2-core host needs tens of seconds for the
 * 32640 links of N = 256). ctest label "scale" (not valgrind's labels).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sh.h"

#define SCALE_TIMEOUT "--timeout 120000"

/* Quick passes (ASan, memcheck: RDV_TEST_QUICK) skip N = 256: minutes
 * of sanitized CPU per run on two cores; the release pass runs it. */
static void skip_when_quick(void)
{
    if (quick_mode())
        cr_skip_test("RDV_TEST_QUICK: N = 256 runs in the release pass");
}

/* Runs `rdv ARGS` under a shell whose fd limits were set by `limits`
 * (a ulimit command, or ":"). */
static result rdv_limited(const char *limits, const char *args)
{
    char cmd[8192];

    snprintf(cmd, sizeof cmd, "%s && %s %s 2>&1", limits, RDV_BIN, args);
    return sh(cmd);
}

static void expect_all_pass_256(const result *r)
{
    static const char *const checks[] = {
        "ranks-ok", "mesh-consistent", "results-correct",
        "results-identical", "no-hang", "no-leak",
    };

    cr_expect_eq(r->code, 0, "exit %d:\n%s", r->code, r->out);
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        cr_expect(check_is(r->out, checks[i], "PASS"), "%s did not pass:\n"
                  "%s", checks[i], r->out);
    /* no rank failed: no message to judge, which is no PASS */
    cr_expect(check_is(r->out, "error-quality", "SKIP  no rank failed"),
              "%s", r->out);
    cr_expect(strstr(r->out, "256 of 256 ranks succeeded"), "%s", r->out);
    /* every pair of the mesh was compared: 256 * 255 / 2 */
    cr_expect(strstr(r->out, "32640 socket pairs mirror each other"), "%s",
              r->out);
    cr_expect_null(strstr(r->out, "note:"), "%s", r->out);
}

/* The soft limit starts at 128, below the ~330 fds a rank of 256 needs:
 * the run passes only because the harness raises it. The trace has one
 * process track per rank and parses as JSON. */
Test(scale, run_256_ranks_on_shared_hash, .timeout = 1200)
{
    char dir[256], args[1024], cmd[2048];
    result r, py;

    skip_when_quick();
    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "run --store 'hash:?shared=1' --ranks 256 "
             SCALE_TIMEOUT " -v --trace %s/t.json", dir);
    r = rdv_limited("ulimit -S -n 128", args);
    expect_all_pass_256(&r);
    snprintf(cmd, sizeof cmd, "python3 -c '\n"
             "import json, sys\n"
             "d = json.load(open(sys.argv[1]))\n"
             "assert d[\"otherData\"][\"ranks\"] == 256\n"
             "t = d[\"traceEvents\"]\n"
             "names = {e[\"args\"][\"name\"] for e in t if e[\"name\"] == "
             "\"process_name\"}\n"
             "assert names == {\"rank %%d\" %% r for r in range(256)}\n"
             "assert any(e.get(\"cat\") == \"store\" for e in t)\n"
             "print(\"ok\")' %s/t.json 2>&1", dir);
    py = sh(cmd);
    cr_expect_eq(py.code, 0, "%s", py.out);
    free(py.out);
    free(r.out);
    rm_rf(dir);
}

Test(scale, run_256_ranks_on_file_store, .timeout = 1200)
{
    char dir[256], args[1024];
    result r;

    skip_when_quick();
    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "run --store 'file://%s/store' --ranks 256 "
             SCALE_TIMEOUT " -v", dir);
    r = rdv_limited(":", args);
    expect_all_pass_256(&r);
    free(r.out);
    rm_rf(dir);
}

/* The matrix at N = 256: the table has the column and the pass, JUnit
 * one testcase, and the matrix's own no-leak holds. */
Test(scale, matrix_256_ranks, .timeout = 1200)
{
    char dir[256], args[1024], cmd[1024];
    unsigned before = 0, after = 0;
    const char *leak;
    result r, x;

    skip_when_quick();
    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "matrix --store 'hash:?shared=1' --ranks 256 "
             "--seeds 1 --workload barrier,allreduce:int32:4k,store:4 "
             SCALE_TIMEOUT " --junit %s/m.xml", dir);
    r = rdv_limited(":", args);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "N=256"), "%s", r.out);
    cr_expect(strstr(r.out, "1 runs in"), "%s", r.out);
    cr_expect(strstr(r.out, "1 passed, 0 failed"), "%s", r.out);
    leak = strstr(r.out, "matrix no-leak: fds ");
    cr_assert(leak, "%s", r.out);
    cr_expect_eq(sscanf(leak, "matrix no-leak: fds %u before, %u after",
                        &before, &after), 2);
    cr_expect_eq(before, after, "%s", leak);
    snprintf(cmd, sizeof cmd, "xmllint --xpath 'count(//testcase)' "
             "%s/m.xml 2>&1", dir);
    x = sh(cmd);
    cr_expect_eq(x.code, 0, "%s", x.out);
    cr_expect_eq(atoi(x.out), 1, "%s", x.out);
    free(x.out);
    free(r.out);
    rm_rf(dir);
}

/* A hard limit below what the ranks need cannot be raised: the output
 * says so before the run, naming both numbers, and the run fails (exit
 * 1) rather than hanging or passing. */
Test(scale, fd_limit_too_low_is_said, .timeout = 600)
{
    result r = rdv_limited("ulimit -n 100", "run --store 'hash:?shared=1' "
                           "--ranks 128 --workload barrier --timeout 10000");

    /* exit 3, could not run: the harness itself runs out of fds for its
     * pidfds (issue 14's exit codes), after saying why */
    cr_expect_eq(r.code, 3, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "could not run"), "%s", r.out);
    cr_expect(strstr(r.out, "note: 128 ranks need "), "%s", r.out);
    cr_expect(strstr(r.out, "RLIMIT_NOFILE allows 100 (hard limit 100)"),
              "%s", r.out);
}
