/*
 * tests/harness/test_harness_schedule.c - sequenced runs (`rdv run
 * --schedule`), judged from the outside on real forked ranks:
 *
 * - a sequenced run passes every check, and its op log holds every
 *   rank's publish;
 * - exact replay: ten runs of one schedule on each embedded store give
 *   the same op log, for every run the sequencer reports as exact (its
 *   log's head counts the turns given before every rank settled and the
 *   ops that outran their turn); most runs must be exact;
 * - a failing sequenced run's replay line carries the schedule;
 * - a bad --schedule, and --op-log without one, are usage errors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh.h"

#define REPLAYS 10

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf;
    long n;

    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    cr_assert(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

/* The run was sequenced exactly: no turn given early, no op past its
 * turn (the head line of the op log). */
static int log_exact(const char *log)
{
    return strstr(log, " 0 given before every rank settled, 0 ops past "
                       "their turn") != NULL;
}

Test(schedule, sequenced_run_passes_and_logs_every_op, .timeout = 120)
{
    char dir[256], args[1024], path[512];
    result r;
    char *log;

    tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/ops.log", dir);
    snprintf(args, sizeof args, "run --store 'hash:?shared=1' --ranks 4 "
             "--timeout 30000 --schedule random:5 --op-log %s", path);
    r = rdv(args);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    log = slurp(path);
    cr_expect(strstr(log, "# schedule random:5:"), "%s", log);
    for (int k = 0; k < 4; k++) {
        char line[64];

        snprintf(line, sizeof line, "rank %d set job/addr/%d -> RDV_OK", k,
                 k);
        cr_expect(strstr(log, line), "no '%s' in:\n%s", line, log);
    }
    free(log);
    free(r.out);
    rm_rf(dir);
}

/* The first line where a and b differ, as "line K: 'A' vs 'B'". */
static void first_difference(const char *a, const char *b, char *out,
                             size_t cap)
{
    size_t i = 0, start = 0;
    int line = 1;

    for (; a[i] && a[i] == b[i]; i++)
        if (a[i] == '\n')
            line++, start = i + 1;
    a += start, b += start;
    snprintf(out, cap, "line %d: '%.*s' vs '%.*s'", line,
             (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}

/* REPLAYS runs of one schedule on url: every exact run's log equals the
 * first exact one, and at least half are exact. */
static void replay_is_exact(const char *url, const char *schedule)
{
    char dir[256], args[1024], path[512];
    char *first = NULL;
    int exact = 0;

    tmpdir(dir, sizeof dir);
    for (int i = 0; i < REPLAYS; i++) {
        result r;
        char *log;

        snprintf(path, sizeof path, "%s/ops-%d.log", dir, i);
        snprintf(args, sizeof args, "run --store '%s' --ranks 4 --workload "
                 "barrier --timeout 30000 --schedule %s --op-log %s", url,
                 schedule, path);
        r = rdv(args);
        cr_expect_eq(r.code, 0, "run %d exit %d:\n%s", i, r.code, r.out);
        free(r.out);
        log = slurp(path);
        if (!log_exact(log)) {
            cr_log_warn("run %d inexact: %.200s", i, log);
            free(log);
            continue;
        }
        exact++;
        if (!first) {
            first = log;
            continue;
        }
        if (strcmp(log, first)) {
            char why[512];

            first_difference(first, log, why, sizeof why);
            cr_expect_fail("run %d's op log differs from the first exact "
                           "run's at %s", i, why);
        }
        free(log);
    }
    cr_expect_geq(exact, REPLAYS / 2, "only %d of %d runs were sequenced "
                  "exactly", exact, REPLAYS);
    free(first);
    rm_rf(dir);
}

Test(schedule, replay_is_exact_on_shared_hash, .timeout = 300)
{
    replay_is_exact("hash:?shared=1", "pct:7:3");
}

Test(schedule, replay_is_exact_on_file_store, .timeout = 300)
{
    char dir[256], url[512];

    tmpdir(dir, sizeof dir);
    snprintf(url, sizeof url, "file://%s", dir);
    replay_is_exact(url, "random:3");
    rm_rf(dir);
}

Test(schedule, replay_line_carries_the_schedule, .timeout = 120)
{
    result r = rdv("run --store 'hash:?shared=1' --ranks 2 --timeout 1000 "
                   "--deadline 3000 --workload barrier,spin:rank=1 "
                   "--schedule pct:5:2");

    cr_expect_neq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "replay: ") &&
                  strstr(r.out, "--schedule pct:5:2"),
              "no schedule in the replay line:\n%s", r.out);
    free(r.out);
}

Test(schedule, bad_schedule_is_a_usage_error)
{
    static const char *const bad[] = {"pct", "pct:", "pct:x", "pct:1:0",
                                      "pct:1:65", "random:1:2", "lottery:1"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[256];
        result r;

        snprintf(args, sizeof args, "run --store 'hash:?shared=1' --ranks 2 "
                 "--schedule '%s'", bad[i]);
        r = rdv(args);
        cr_expect_eq(r.code, 2, "--schedule %s: exit %d:\n%s", bad[i],
                     r.code, r.out);
        cr_expect(strstr(r.out, "--schedule"), "%s", r.out);
        free(r.out);
    }
}

Test(schedule, op_log_needs_a_schedule)
{
    result r = rdv("run --store 'hash:?shared=1' --ranks 2 --op-log "
                   "/dev/null");

    cr_expect_eq(r.code, 2, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "--op-log needs --schedule"), "%s", r.out);
    free(r.out);
}
