/*
 * test_outcomes.c - the harness judges each fault's outcome correctly:
 * the real `rdv run` binary runs every scenario of rdv_fault_scenarios()
 * that needs no server (4 ranks; hash and file stores in outcomes/, and
 * redis in outcomes_redis/ when $RDV_TEST_REDIS_URL is set, which ctest
 * reports skipped without it) and must pass all
 * its checks: a non-fatal fault ends in success with correct results, a
 * fatal one in every survivor failing in time and naming the culprit.
 * It also checks that two runs with one seed write byte-identical
 * decision logs through the harness's --logs.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* check PASSed, or with may_skip SKIPped: a check that has nothing to
 * judge under some faults (culprit-named without a fatal one,
 * results-correct when the fault struck before any step) says so. */
static void check_passed(const char *out, const char *check, int may_skip)
{
    const char *line = strstr(out, check);

    cr_assert_not_null(line, "no '%s' check in:\n%s", check, out);
    line += strlen(check);
    line += strspn(line, " ");
    cr_assert(!strncmp(line, "PASS", 4) ||
                  (may_skip && !strncmp(line, "SKIP", 4)),
              "%s did not pass:\n%s", check, out);
}

enum { STORE_HASH, STORE_FILE, STORE_REDIS };

typedef struct outcome_case {
    size_t scenario;
    int store;
} outcome_case;

/* The cases on stores first..last. */
static size_t outcome_cases(outcome_case *cases, int first, int last)
{
    const rdv_fault_scenario *sc;
    size_t n = rdv_fault_scenarios(&sc), k = 0;

    /* On redis also the proxy scenarios (latency, reset, blackhole): they
     * touch only this run's connections. CLIENT PAUSE and a restart would
     * hit every client of the shared server, so they are left to the
     * fault matrix and to test_restart.c (a private server). */
    for (size_t i = 0; i < n && k < 96; i++) {
        rdv_fault_plan *p = NULL;
        char err[256];
        unsigned needs;

        if (rdv_fault_plan_parse(sc[i].spec, &p, err, sizeof err) != RDV_OK)
            continue; /* test_spec.c says which scenario does not parse */
        needs = rdv_fault_plan_needs(p);
        rdv_fault_plan_free(p);
        for (int st = first; st <= last && k < 96; st++)
            if (!needs || (st == STORE_REDIS &&
                           needs == (RDV_FAULT_NEEDS_REDIS |
                                     RDV_FAULT_NEEDS_PROXY)))
                cases[k++] = (outcome_case){i, st};
    }
    return k;
}

ParameterizedTestParameters(outcomes, judged_correctly)
{
    static outcome_case cases[96];

    return cr_make_param_array(outcome_case, cases,
                               outcome_cases(cases, STORE_HASH, STORE_FILE));
}

/* The redis rows: a suite of their own, so ctest can tell "no server"
 * (fault_test_outcomes_redis skipped) from "passed". */
ParameterizedTestParameters(outcomes_redis, judged_correctly)
{
    static outcome_case cases[96];
    const char *redis = getenv("RDV_TEST_REDIS_URL");

    return cr_make_param_array(outcome_case, cases,
                               redis && *redis
                                   ? outcome_cases(cases, STORE_REDIS,
                                                   STORE_REDIS)
                                   : 0);
}

static void judge_case(const outcome_case *c)
{
    const rdv_fault_scenario *sc;
    char dir[] = "/tmp/rdv-fault-storeXXXXXX", url[128], *out;
    int rc;

    rdv_fault_scenarios(&sc);
    if (c->store == STORE_FILE) {
        cr_assert_not_null(mkdtemp(dir));
        snprintf(url, sizeof url, "file://%s", dir);
    } else if (c->store == STORE_REDIS) {
        /* db 1, a keyspace of its own: no-leak judges every key of the
         * db, and other suites write into db 0 of this shared server
         * while this one runs. */
        snprintf(url, sizeof url, "%s/1", getenv("RDV_TEST_REDIS_URL"));
    } else {
        snprintf(url, sizeof url, "hash:?shared=1");
    }
    {
        /* 6 s: a non-fatal fault must end in success, and net.short
         * (1 KiB writes) moving the default workload's 1 MiB allreduce
         * took over 2 s with every core saturated (ci/under-load). */
        char *argv[] = {RDV_EXE, "run", "--store", url, "--ranks", "4",
                        "--timeout", "6000", "--seed", "3", "--faults",
                        (char *)sc[c->scenario].spec, NULL};

        rc = run_capture(argv, &out);
    }
    cr_log_info("%s on %s:\n%s", sc[c->scenario].name, url, out);
    /* 4 ranks leave survivors to judge, and hash, file and redis list
     * their keys: these three always judge something */
    check_passed(out, "ranks-ok", 0);
    /* a fatal fault that fired leaves survivors to name the culprit */
    check_passed(out, "culprit-named",
                 !strstr(out, "every survivor failed, as the fault "
                              "requires"));
    check_passed(out, "no-hang", 0);
    check_passed(out, "results-correct", 1);
    check_passed(out, "no-leak", 0);
    cr_assert_eq(rc, 0, "%s (%s) on %s: exit %d\n%s", sc[c->scenario].name,
                 sc[c->scenario].spec, url, rc, out);
    free(out);
    if (c->store == STORE_FILE) {
        char *argv[] = {"/bin/rm", "-rf", dir, NULL};

        run_capture(argv, &out);
        free(out);
    }
}

ParameterizedTest(outcome_case *c, outcomes, judged_correctly,
                  .timeout = 60)
{
    judge_case(c);
}

ParameterizedTest(outcome_case *c, outcomes_redis, judged_correctly,
                  .timeout = 60)
{
    judge_case(c);
}

/* The decision logs of a run, concatenated in rank order. */
static char *fault_logs(const char *spec, size_t *len)
{
    char dir[] = "/tmp/rdv-fault-logsXXXXXX", *out, *all = NULL;
    FILE *f = open_memstream(&all, len);

    cr_assert_not_null(mkdtemp(dir));
    {
        char *argv[] = {RDV_EXE, "run", "--store", "hash:?shared=1",
                        "--ranks", "4", "--timeout", "5000", "--seed", "9",
                        "--logs", dir, "--faults", (char *)spec, NULL};

        cr_assert_eq(run_capture(argv, &out), 0, "%s", out);
        free(out);
    }
    for (int r = 0; r < 4; r++) {
        char path[256];
        size_t n;
        char *one;

        snprintf(path, sizeof path, "%s/rank-%d.faults.log", dir, r);
        one = slurp(path, &n);
        fprintf(f, "== rank %d\n%s", r, one);
        free(one);
    }
    fclose(f);
    {
        char *argv[] = {"/bin/rm", "-rf", dir, NULL};

        run_capture(argv, &out);
        free(out);
    }
    return all;
}

Test(outcomes, same_seed_same_decision_log_through_the_harness,
     .timeout = 120)
{
    /* Read faults stay off the rendezvous keys: its reads are sliced in
     * time, so how many there are depends on the machine's load. */
    const char *spec = "store.delay(key=\"kv/*\", ms=1..20, p=0.5); "
                       "store.delay(op=set, ms=1..10); net.refuse(times=1); "
                       "net.delay(ms=1..30); net.short(max=4096, p=0.5)";
    size_t n1, n2;
    char *a = fault_logs(spec, &n1), *b = fault_logs(spec, &n2);

    cr_assert(strstr(a, "refused"), "%s", a);
    cr_assert(strstr(a, "delayed"), "%s", a);
    cr_assert_eq(n1, n2, "log sizes differ:\n%s\n----\n%s", a, b);
    cr_assert(memcmp(a, b, n1) == 0, "logs differ:\n%s\n----\n%s", a, b);
    free(a);
    free(b);
}

/* A delay never runs past the call's deadline: store.delay(ms=3000) on
 * the publishing set under --timeout 2000 ends that set at the
 * rendezvous deadline with RDV_ETIMEDOUT (not "timed out after 3001
 * ms"), and since it reaches the timeout it is judged fatal, culprit the
 * delayed rank: the run passes its checks. */
Test(outcomes, a_delay_ends_at_the_rendezvous_deadline, .timeout = 60)
{
    char *argv[] = {RDV_EXE, "run", "--store", "hash:?shared=1", "--ranks",
                    "2", "--timeout", "2000", "--json", "--faults",
                    "store.delay(ms=3000, op=set, rank=1)", NULL};
    char *out, *at;
    long ms;
    int rc = run_capture(argv, &out);

    cr_expect_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_expect(strstr(out, "\"passed\":true"), "%s", out);
    at = strstr(out, "\"status\":\"RDV_ETIMEDOUT\",\"error\":\"rank 1: "
                     "publishing");
    cr_assert_not_null(at, "rank 1 did not time out publishing:\n%s", out);
    cr_expect(strstr(at, "reached the rendezvous deadline"),
              "rank 1's error does not say why:\n%s", out);
    at = strstr(at, "timed out after ");
    cr_assert_not_null(at, "%s", out);
    ms = strtol(at + strlen("timed out after "), NULL, 10);
    /* at the 2000 ms deadline, with a generous 1 s bound: below the 3000
     * ms the delay asked for */
    cr_expect(ms >= 1900 && ms < 3000, "rank 1 timed out after %ld ms:\n%s",
              ms, out);
    free(out);
}
