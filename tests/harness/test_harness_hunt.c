/*
 * tests/harness/test_harness_hunt.c - `rdv hunt`, judged from the
 * outside on real forked ranks:
 *
 * - it finds the race of each race target (tests/plugins/race_store.c)
 *   within 200 schedules, from more than one schedule range, and names
 *   the cause;
 * - the replay line it prints reproduces the failure, every time;
 * - `rdv shrink` takes a 4-rank finding down to at most 3 ranks, and
 *   its minimal line still fails the same check;
 * - race_create_read, whose lost create needs a third rank's read
 *   between two creates, never fails at 2 ranks;
 * - `rdv shrink` narrows a fault's parameters (a delay's ms halved, one
 *   op kept) while the run fails the same check;
 * - a correct store hunts clean, under pct and random schedules;
 * - --jobs 2 prints what a serial hunt prints, in schedule order, and
 *   stops at the first failure, or when its stdout's reader goes away;
 * - a bad --schedules, --depth or --jobs, or a shrink of what is not a
 *   replay line, is a usage error.
 *
 * Durations are bounded only by generous test timeouts: a failing
 * schedule of a lost wakeup costs its --timeout, and the host may be
 * busy. Quick mode (the ASan pass) hunts each target over one range,
 * replays once and shrinks one target: the same code paths, a third of
 * the failing runs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh.h"

/* How often a replay line is run again: every one must fail. */
static int replays(void)
{
    return quick_mode() ? 1 : 3;
}

/* The replay line of out ("replay: rdv run ..."), without "rdv ", into
 * buf. */
static void replay_args(const char *out, char *buf, size_t cap)
{
    const char *p = strstr(out, "replay: rdv ");
    size_t n;

    cr_assert(p, "no replay line in:\n%s", out);
    p += strlen("replay: rdv ");
    n = strcspn(p, "\n");
    cr_assert_lt(n, cap);
    memcpy(buf, p, n);
    buf[n] = '\0';
}

/* Hunts target over schedules range; checks that check is the cause
 * and that the replay line fails it again, REPLAYS times. */
static void hunt_and_replay(const char *target, const char *workload,
                            const char *range, const char *check)
{
    char dir[256], args[2048], replay[4096], cause[128];
    result r;

    snprintf(cause, sizeof cause, "cause: %s: ", check);
    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "hunt --store 'plugin:%s/librdv_race_%s.so"
             "?db=%s/race.db' --ranks 3 --workload %s --timeout 2000 "
             "--schedules %s", RDV_PLUGIN_DIR, target, dir, workload, range);
    r = rdv(args);
    cr_expect_eq(r.code, 1, "hunt %s over %s: exit %d:\n%s", target, range,
                 r.code, r.out);
    cr_expect(strstr(r.out, "FAIL schedule pct:"), "%s", r.out);
    cr_expect(strstr(r.out, cause), "no '%s' in:\n%s", cause, r.out);
    cr_expect(strstr(r.out, "--schedule pct:"), "%s", r.out);
    replay_args(r.out, replay, sizeof replay);
    free(r.out);
    cr_assert(strncmp(replay, "run ", 4) == 0, "%s", replay);
    for (int i = 0; i < replays(); i++) {
        r = rdv(replay);
        cr_expect_eq(r.code, 1, "replay %d of '%s': exit %d:\n%s", i + 1,
                     replay, r.code, r.out);
        cr_expect(check_is(r.out, check, "FAIL"), "replay %d: %s did not "
                  "fail:\n%s", i + 1, check, r.out);
        free(r.out);
    }
    rm_rf(dir);
}

Test(hunt, finds_lost_wakeup_and_replays_it, .timeout = 600)
{
    hunt_and_replay("lost_wakeup", "barrier", "1..200", "ranks-ok");
    if (!quick_mode())
        hunt_and_replay("lost_wakeup", "barrier", "5000..5199", "ranks-ok");
}

Test(hunt, finds_torn_set_and_replays_it, .timeout = 600)
{
    hunt_and_replay("torn_set", "barrier", "1..200", "ranks-ok");
    if (!quick_mode())
        hunt_and_replay("torn_set", "barrier", "5000..5199", "ranks-ok");
}

/* The line after prefix in out, into buf. */
static void line_after(const char *out, const char *prefix, char *buf,
                       size_t cap)
{
    const char *p = strstr(out, prefix);
    size_t n;

    cr_assert(p, "no '%s' in:\n%s", prefix, out);
    p += strlen(prefix);
    n = strcspn(p, "\n");
    cr_assert_lt(n, cap);
    memcpy(buf, p, n);
    buf[n] = '\0';
}

/* Hunts target at 4 ranks, shrinks the finding, replays the result. */
static void hunt_and_shrink(const char *target)
{
    char dir[256], args[8192], line[4096], minimal[4096];
    const char *ranks;
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "hunt --store 'plugin:%s/librdv_race_%s.so"
             "?db=%s/race.db' --ranks 4 --workload barrier,allreduce "
             "--timeout 2000 --schedules 1..200", RDV_PLUGIN_DIR, target,
             dir);
    r = rdv(args);
    cr_expect_eq(r.code, 1, "hunt %s: exit %d:\n%s", target, r.code, r.out);
    line_after(r.out, "replay: ", line, sizeof line);
    free(r.out);
    snprintf(args, sizeof args, "shrink \"%s\"", line);
    r = rdv(args);
    cr_expect_eq(r.code, 1, "shrink: exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "still fails ranks-ok"), "%s", r.out);
    line_after(r.out, "minimal: rdv ", minimal, sizeof minimal);
    free(r.out);
    ranks = strstr(minimal, "--ranks ");
    cr_assert(ranks, "%s", minimal);
    cr_expect(ranks[8] == '2' || ranks[8] == '3', "%s", minimal);
    r = rdv(minimal);
    cr_expect_eq(r.code, 1, "'%s': exit %d:\n%s", minimal, r.code, r.out);
    cr_expect(check_is(r.out, "ranks-ok", "FAIL"), "%s", r.out);
    free(r.out);
    rm_rf(dir);
}

Test(hunt, finds_create_read_and_replays_it, .timeout = 600)
{
    hunt_and_replay("create_read", "barrier", "1..200", "ranks-ok");
    if (!quick_mode())
        hunt_and_replay("create_read", "barrier", "5000..5199", "ranks-ok");
}

Test(hunt, create_read_needs_a_third_rank, .timeout = 600)
{
    char dir[256], args[2048];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "hunt --store 'plugin:%s/librdv_race_"
             "create_read.so?db=%s/race.db' --ranks 2 --workload barrier "
             "--timeout 2000 --schedules 1..40 --keep-going --jobs 2",
             RDV_PLUGIN_DIR, dir);
    r = rdv(args);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "40 passed, 0 failed"), "%s", r.out);
    free(r.out);
    rm_rf(dir);
}

Test(hunt, shrink_reaches_three_ranks_or_fewer, .timeout = 900)
{
    hunt_and_shrink("lost_wakeup");
    if (quick_mode())
        return;
    hunt_and_shrink("torn_set");
    hunt_and_shrink("create_read");
}

/* A delay below the timeout is not fatal, yet 8 sets and 8 adds each
 * delayed 800 ms outlive the run's 3 s deadline: no-hang (and ranks-ok)
 * fail. Shrink keeps what the failure needs and narrows the rest: a
 * shorter delay (400 ms on all 16 calls still fails). Which narrowing
 * comes after that (op=add, p=0.5, rank=0) depends on where the run's
 * deadline falls on this host's clock, so the test does not ask. */
Test(hunt, shrink_narrows_a_fault, .timeout = 300)
{
    char first[64], args[512];
    const char *m, *d;
    int ms = 0;
    result r;

    /* The delay is first halved at try 5, after the tries without faults
     * and with a shorter workload; quick mode stops soon after. */
    snprintf(args, sizeof args, "shrink --max-tries %d \"rdv run --store "
             "'hash:?shared=1' --ranks 2 --seed 1 --workload barrier,store:8 "
             "--timeout 1000 --faults 'store.delay(ms=800, op=set|add, "
             "p=1)'\"", quick_mode() ? 6 : 20);
    r = rdv(args);

    cr_expect_eq(r.code, 1, "exit %d:\n%s", r.code, r.out);
    line_after(r.out, "the line as given: fails ", first, sizeof first);
    cr_expect(strstr(r.out, "faults narrowed"), "%s", r.out);
    m = strstr(r.out, "minimal: ");
    cr_assert(m, "%s", r.out);
    d = strstr(m, "store.delay(ms=");
    cr_expect(d && sscanf(d, "store.delay(ms=%d", &ms) == 1 && ms < 800,
              "%s", r.out);
    cr_expect(strstr(r.out, "still fails ") &&
              strstr(strstr(r.out, "still fails "), first), "%s", r.out);
    free(r.out);
}

Test(hunt, shrink_of_a_passing_line_says_so, .timeout = 300)
{
    result r = rdv("shrink \"rdv run --store 'hash:?shared=1' --ranks 2 "
                   "--workload barrier --timeout 30000 --schedule pct:1\"");

    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "nothing to shrink"), "%s", r.out);
    free(r.out);
}

Test(hunt, correct_store_hunts_clean, .timeout = 600)
{
    result r = rdv("hunt --store 'hash:?shared=1' --ranks 4 --workload "
                   "barrier --timeout 30000 --schedules 1..30");

    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "hunt: 30 schedules (pct:1..30, depth 3)"),
              "%s", r.out);
    cr_expect(strstr(r.out, "30 passed, 0 failed"), "%s", r.out);
    cr_expect(!strstr(r.out, "FAIL"), "%s", r.out);
    free(r.out);
}

Test(hunt, random_schedules_hunt_clean, .timeout = 600)
{
    result r = rdv("hunt --store 'hash:?shared=1' --ranks 3 --workload "
                   "barrier --timeout 30000 --schedules random:1..20");

    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "hunt: 20 schedules (random:1..20) in "), "%s",
              r.out);
    cr_expect(strstr(r.out, "20 passed, 0 failed"), "%s", r.out);
    free(r.out);
}

/* The run objects of a --json hunt: each one's replay line and verdict,
 * in order, into buf. */
static void json_runs(const char *out, char *buf, size_t cap)
{
    size_t off = 0;

    buf[0] = '\0';
    for (const char *p = out; (p = strstr(p, "\"verdict\":\""));) {
        const char *replay = strstr(p, "\"replay\":\"");
        size_t vn = strcspn(p + 11, "\""), rn;

        cr_assert(replay, "%s", out);
        rn = strcspn(replay + 10, "\"");
        off += (size_t)snprintf(buf + off, cap - off, "%.*s %.*s\n",
                                (int)vn, p + 11, (int)rn, replay + 10);
        cr_assert_lt(off, cap);
        p = replay + 10;
    }
}

Test(hunt, jobs_print_what_a_serial_hunt_prints, .timeout = 600)
{
    static char serial[16384], jobs[16384];
    result a = rdv("hunt --store 'hash:?shared=1' --ranks 3 --workload "
                   "barrier --timeout 30000 --schedules 11..40 --json");
    result b = rdv("hunt --store 'hash:?shared=1' --ranks 3 --workload "
                   "barrier --timeout 30000 --schedules 11..40 --json "
                   "--jobs 2");

    cr_expect_eq(a.code, 0, "exit %d:\n%s", a.code, a.out);
    cr_expect_eq(b.code, 0, "exit %d:\n%s", b.code, b.out);
    json_runs(a.out, serial, sizeof serial);
    json_runs(b.out, jobs, sizeof jobs);
    cr_expect(strstr(serial, "--schedule pct:40:3"), "%s", serial);
    cr_expect_str_eq(jobs, serial);
    cr_expect(strstr(b.out, "\"schedules\":30,\"passed\":30"), "%s",
              b.out);
    free(a.out);
    free(b.out);
}

Test(hunt, jobs_stop_at_the_first_failure, .timeout = 600)
{
    char dir[256], args[2048];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "hunt --store 'plugin:%s/librdv_race_"
             "torn_set.so?db=%s/race.db' --ranks 3 --workload barrier "
             "--timeout 2000 --schedules 1..50 --jobs 2", RDV_PLUGIN_DIR,
             dir);
    r = rdv(args);
    /* torn_set fails under pct:1 already: the worker on pct:2 is killed
     * and the hunt reads as a serial one */
    cr_expect_eq(r.code, 1, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "FAIL schedule pct:1:3"), "%s", r.out);
    cr_expect(!strstr(r.out, "FAIL schedule pct:2:3"), "%s", r.out);
    cr_expect(strstr(r.out, "hunt: 1 schedule (pct:1..1, depth 3)"), "%s",
              r.out);
    free(r.out);
    rm_rf(dir);
}

/* A reader that goes away (| head -1) stops a --jobs hunt as it stops
 * a serial one: by SIGPIPE, long before its 400 schedules have run
 * (each fails at once on a 1 ms timeout, so each prints; the summary
 * "400 of 400 schedules" is the sign of a hunt that ran them all). */
Test(hunt, jobs_stop_when_stdout_goes_away, .timeout = 300)
{
    char dir[256], cmd[1024];
    result r;

    tmpdir(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "bash -c '%s hunt --store hash:?shared=1 "
             "--ranks 2 --schedules 1..400 --keep-going --timeout 1 "
             "--deadline 3 --jobs 2 2>%s/err | head -1 >/dev/null; "
             "echo status ${PIPESTATUS[0]}; cat %s/err'", RDV_BIN, dir, dir);
    r = sh(cmd);
    cr_expect(strstr(r.out, "status 141"), "not ended by SIGPIPE: %s", r.out);
    cr_expect(!strstr(r.out, "400 of 400"), "every schedule ran: %s", r.out);
    free(r.out);
    rm_rf(dir);
}

Test(hunt, json_ends_with_the_hunt, .timeout = 300)
{
    result r = rdv("hunt --store 'hash:?shared=1' --ranks 2 --workload "
                   "barrier --timeout 30000 --schedules 7..9 --depth 2 "
                   "--json");

    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "{\"version\":1,\"type\":\"hunt\","
                            "\"schedules\":3,\"passed\":3,\"failed\":0,"
                            "\"first_failed\":null"), "%s", r.out);
    cr_expect(strstr(r.out, "--schedule pct:9:2"), "%s", r.out);
    free(r.out);
}

Test(hunt, bad_range_depth_or_line_is_usage, .timeout = 60)
{
    static const char *const bad[] = {
        "--schedules 5..3", "--schedules 5", "--schedules ..9",
        "--depth 0", "--depth 65", "--jobs 0", "--jobs 65",
        "--schedules rand:1..3", "--schedules random:1..3 --depth 2",
    };
    result m = rdv("shrink 'rdv matrix --store x'");

    cr_expect_eq(m.code, 2, "shrink of a matrix line: exit %d:\n%s",
                 m.code, m.out);
    free(m.out);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[256];
        result r;

        snprintf(args, sizeof args, "hunt --store 'hash:?shared=1' "
                 "--ranks 2 %s", bad[i]);
        r = rdv(args);
        cr_expect_eq(r.code, 2, "%s: exit %d:\n%s", bad[i], r.code, r.out);
        free(r.out);
    }
}
