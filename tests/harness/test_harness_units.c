/*
 * tests/harness/test_harness_units.c - the harness's pure parts, called
 * directly: the workload syntax, the closed forms every collective is
 * checked against, the check table, the judging of error messages,
 * option values and the replay line's quoting; and the parts that must
 * stay cheap and correct at N = 1024 (supervision, the mesh check); and
 * a late start that keeps the plan's order.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cli.h"
#include "rdv/clock.h"
#include "common/size_text.h"
#include "run/call_watch.h"
#include "run/checks.h"
#include "run/fd_limit.h"
#include "run/leak.h"
#include "run/socket_scan.h"
#include "run/start_late.h"
#include "report/launch_progress.h"
#include "report/replay.h"
#include "report/report_text.h"
#include "run/supervise.h"
#include "workload/workload.h"
#include "workload/workload_values.h"

Test(workload, default_parses_to_canonical_steps)
{
    rdv_workload w;
    char err[256];

    cr_assert_eq(rdv_workload_parse(RDV_WORKLOAD_DEFAULT, &w, err,
                                    sizeof err), 0, "%s", err);
    cr_assert_eq(w.nsteps, 9); /* "rendezvous" adds no step */
    cr_expect_str_eq(w.steps[0].name, "barrier");
    cr_expect_str_eq(w.steps[2].name, "allreduce:float:8k:sum");
    cr_expect_eq(w.steps[2].count, 8u * 1024u);
    cr_expect_str_eq(w.steps[3].name, "allreduce:float:8193:sum");
    cr_expect_eq(w.steps[4].algo, RDV_ALGO_RING);
    cr_expect_str_eq(w.steps[5].name, "broadcast:int64:4k:root=0");
    cr_expect_eq(w.steps[6].count, 32u * 1024u + 1u);
}

/* The default workload reaches both sides of the collectives' size
 * crossovers (workload.h): recursive doubling up to 32 KiB, halving-
 * doubling past it, broadcast's tree up to 256 KiB and its chain past
 * it. Judged on the bytes, so a retuned threshold fails here. */
Test(workload, default_straddles_the_crossovers)
{
    rdv_workload w;
    char err[256];

    cr_assert_eq(rdv_workload_parse(RDV_WORKLOAD_DEFAULT, &w, err,
                                    sizeof err), 0, "%s", err);
    cr_expect_eq(w.steps[2].count * rdv_dtype_size(w.steps[2].type),
                 32u * 1024u);
    cr_expect_gt(w.steps[3].count * rdv_dtype_size(w.steps[3].type),
                 32u * 1024u);
    cr_expect_leq(w.steps[5].count * rdv_dtype_size(w.steps[5].type),
                 256u * 1024u);
    cr_expect_gt(w.steps[6].count * rdv_dtype_size(w.steps[6].type),
                 256u * 1024u);
}

Test(workload, attributes_in_any_order)
{
    rdv_workload w;
    char err[256];

    cr_assert_eq(rdv_workload_parse("allreduce:max:100:double:ring,"
                                    "broadcast:root=2:float", &w, err,
                                    sizeof err), 0, "%s", err);
    cr_expect_str_eq(w.steps[0].name, "allreduce:double:100:max:ring");
    cr_expect_eq(w.steps[0].algo, RDV_ALGO_RING);
    cr_expect_eq(w.steps[1].root, 2);
}

Test(workload, bad_specs_name_the_step)
{
    static const char *const bad[] = {
        "", "allreduce,,barrier", "allreduce:float:zz", "gather",
        "barrier:int32", "broadcast:ring", "rendezvous:5", "store:float",
        "allreduce:99999999999",
    };
    rdv_workload w;
    char err[256];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(rdv_workload_parse(bad[i], &w, err, sizeof err), -1,
                     "'%s' was accepted", bad[i]);
        cr_expect(err[0], "no message for '%s'", bad[i]);
    }
}

Test(workload, root_out_of_range_for_the_run)
{
    rdv_workload w;
    char err[256];

    cr_assert_eq(rdv_workload_parse("broadcast:root=4", &w, err, sizeof err),
                 0);
    cr_expect_eq(rdv_workload_validate(&w, 4, err, sizeof err), -1);
    cr_expect(strstr(err, "rank 4"), "%s", err);
    cr_expect_eq(rdv_workload_validate(&w, 5, err, sizeof err), 0);
}

/* The closed form must equal the reduction of every rank's real input,
 * for every op, type and a rank count that is not a power of two. */
Test(values, closed_form_matches_the_reduction)
{
    static const char *const specs[] = {
        "allreduce:int32:5000:sum", "allreduce:float:5000:prod",
        "allreduce:int64:5000:min", "allreduce:double:5000:max",
    };
    /* 5000 elements: two whole chunks of the generator and a part. */
    enum { N = 5, COUNT = 5000 };
    double in[N][COUNT];
    int64_t want;

    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        rdv_workload w;
        char err[256];
        rdv_step *st = &w.steps[0];
        double acc[COUNT];
        void *buf = malloc(COUNT * sizeof(double));

        cr_assert_eq(rdv_workload_parse(specs[s], &w, err, sizeof err), 0);
        for (int r = 0; r < N; r++) {
            rdv_values_fill(buf, st, 77, r, N, COUNT);
            for (int i = 0; i < COUNT; i++)
                in[r][i] = rdv_value_load(buf, st->type, (size_t)i);
        }
        for (int i = 0; i < COUNT; i++) {
            acc[i] = in[0][i];
            for (int r = 1; r < N; r++) {
                double v = in[r][i];

                acc[i] = st->op == RDV_SUM ? acc[i] + v
                       : st->op == RDV_PROD ? acc[i] * v
                       : st->op == RDV_MIN ? (v < acc[i] ? v : acc[i])
                                           : (v > acc[i] ? v : acc[i]);
            }
            rdv_value_put(buf, st->type, (size_t)i, acc[i]);
        }
        cr_expect_eq(rdv_values_check(buf, st, 77, N, RDV_EXPECT_REDUCED, 0,
                                      0, COUNT, &want), COUNT,
                     "%s: closed form disagrees", specs[s]);
        /* and a single wrong element is found, where it is */
        rdv_value_put(buf, st->type, 4617, acc[4617] + 1);
        cr_expect_eq(rdv_values_check(buf, st, 77, N, RDV_EXPECT_REDUCED, 0,
                                      0, COUNT, &want), 4617);
        cr_expect_eq(want, (int64_t)acc[4617]);
        free(buf);
    }
}

Test(values, digest_sees_one_bit)
{
    unsigned char a[1001], b[1001];

    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (unsigned char)(i * 7);
    cr_expect_eq(rdv_digest(a, sizeof a), rdv_digest(b, sizeof b));
    b[500] ^= 1;
    cr_expect_neq(rdv_digest(a, sizeof a), rdv_digest(b, sizeof b));
    b[500] ^= 1;
    b[1000] ^= 0x80;
    cr_expect_neq(rdv_digest(a, sizeof a), rdv_digest(b, sizeof b));
}

Test(error_quality, names_rank_key_or_address)
{
    cr_expect(rdv_error_names_culprit("rendezvous timed out after 5000 ms: "
                                      "ranks 3, 6 never published (job7)"));
    cr_expect(rdv_error_names_culprit("recv from peer 2 failed"));
    cr_expect(rdv_error_names_culprit("connect to 127.0.0.1:4000 refused"));
    cr_expect(rdv_error_names_culprit("wait timed out: job7/addr/3 missing"));
    cr_expect_not(rdv_error_names_culprit("I/O error"));
    cr_expect_not(rdv_error_names_culprit("timed out"));
    cr_expect_not(rdv_error_names_culprit("ranks never published"));
}

Test(error_quality, names_a_given_rank)
{
    cr_expect(rdv_error_names_rank("ranks 1, 3 and 6 never published", 3));
    cr_expect(rdv_error_names_rank("ranks 1, 3 and 6 never published", 6));
    cr_expect_not(rdv_error_names_rank("ranks 1, 3 never published", 31));
    cr_expect(rdv_error_names_rank("allreduce(ring) step 3/6: peer 2 closed",
                                   2));
    cr_expect_not(rdv_error_names_rank("step 2 of the ring failed", 2));
}

/* The check table has a row, with a name of its own, for every id. */
Test(checks, every_id_has_one_named_row)
{
    for (int i = 0; i < RDV_CHECK_COUNT; i++) {
        const char *name = rdv_check_name((rdv_check_id)i);

        cr_assert(name && name[0], "check %d has no name", i);
        for (int j = 0; j < i; j++)
            cr_expect_str_neq(name, rdv_check_name((rdv_check_id)j));
    }
    cr_expect_null(rdv_check_name(RDV_CHECK_COUNT));
}

/* A report holds the checks that apply, in id order: culprit-named only
 * under faults. The run judged is two ranks that never started, so the
 * verdicts fail; which checks are there is the point. */
Test(checks, culprit_named_applies_only_under_faults)
{
    rdv_run_config cfg = {.nranks = 2, .timeout_ms = 1000,
                          .deadline_ms = 3000};
    rdv_rank_exit exits[2] = {{0}};
    rdv_result_area area;
    rdv_run_facts f = {.cfg = &cfg, .area = &area, .exits = exits};
    rdv_run_report *rep = calloc(1, sizeof *rep);

    cr_assert_not_null(rep);
    cr_assert_eq(rdv_result_area_create(&area, 2, 0), 0);
    f.expect.culprit = -1;
    rdv_checks_evaluate(&f, rep);
    cr_expect_eq(rep->nchecks, RDV_CHECK_COUNT - 1);
    cr_expect_null(rdv_report_check(rep, RDV_CHECK_CULPRIT_NAMED));
    for (int i = 0; i < rep->nchecks; i++)
        cr_expect_eq(rep->checks[i].id, (rdv_check_id)i);
    cr_expect(rep->failed, "ranks that never reported passed ranks-ok");
    f.have_faults = 1;
    rdv_checks_evaluate(&f, rep);
    cr_expect_eq(rep->nchecks, RDV_CHECK_COUNT);
    cr_expect_str_eq(rdv_report_check(rep, RDV_CHECK_CULPRIT_NAMED)->name,
                     "culprit-named");
    rdv_result_area_destroy(&area);
    free(rep);
}

Test(cli, lists_and_ranges)
{
    uint64_t v[16];
    char err[256];
    int n;

    cr_assert_eq(rdv_cli_list("--ranks", "2,4-6,16", 1, 64, v, 16, &n, err,
                              sizeof err), 0, "%s", err);
    cr_assert_eq(n, 5);
    cr_expect_eq(v[1], 4);
    cr_expect_eq(v[3], 6);
    cr_expect_eq(v[4], 16);
    cr_expect_eq(rdv_cli_list("--ranks", "2,,4", 1, 64, v, 16, &n, err,
                              sizeof err), -1);
    cr_expect_eq(rdv_cli_list("--ranks", "65", 1, 64, v, 16, &n, err,
                              sizeof err), -1);
    cr_expect_eq(rdv_cli_list("--ranks", "6-2", 1, 64, v, 16, &n, err,
                              sizeof err), -1);
    cr_expect_eq(rdv_cli_list("--seeds", "1-100", 0, 1000, v, 16, &n, err,
                              sizeof err), -1, "more values than room");
}

/* The one number parser: digits only, no overflow, errors naming the
 * option and quoting the text. */
Test(cli, numbers_are_digits_and_nothing_else)
{
    static const char *const bad[] = {
        "12x", "", "-1", " 5", "5 ", "+5", "0x10", "1e3", "3600001",
        "99999999999999999999",
    };
    uint64_t u;
    char err[256];
    int v;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char quoted[64];

        err[0] = '\0';
        cr_expect_eq(rdv_cli_int("--timeout", bad[i], 1, 3600000, &v, err,
                                 sizeof err), -1, "'%s' was accepted",
                     bad[i]);
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        cr_expect(strstr(err, "--timeout") && strstr(err, quoted),
                  "'%s': %s", bad[i], err);
    }
    cr_expect_eq(rdv_cli_int("--timeout", "3600000", 1, 3600000, &v, err,
                             sizeof err), 0);
    cr_expect_eq(v, 3600000);
    cr_expect_eq(rdv_cli_int("--ranks", "0", 1, 64, &v, err, sizeof err),
                 -1);
    cr_expect_eq(rdv_cli_u64("--seed", "18446744073709551615", &u, err,
                             sizeof err), 0);
    cr_expect_eq(u, UINT64_MAX);
    cr_expect_eq(rdv_cli_u64("--seed", "18446744073709551616", &u, err,
                             sizeof err), -1, "2^64 wrapped");
    cr_expect(strstr(err, "--seed"), "%s", err);
    cr_expect_eq(rdv_number_parse("65535", 5, 65535, &u), 0);
    cr_expect_eq(rdv_number_parse("65536", 5, 65535, &u), -1);
    cr_expect_eq(rdv_number_parse("7", 1, 5, &u), -1, "a digit past max");
    cr_expect_eq(rdv_number_parse("123x", 3, 1000, &u), 0, "the length "
                 "bounds what is read");
    cr_expect_eq(u, 123);
}

Test(cli, sizes_take_k_and_m_and_nothing_else)
{
    static const char *const bad[] = {"", "k", "1 M", "-4", "16kk", "4x",
                                      "+1", "2G"};
    size_t n;

    cr_expect_eq(rdv_size_parse("16k", 1u << 30, &n), 0);
    cr_expect_eq(n, 16384);
    cr_expect_eq(rdv_size_parse("1M", 1u << 30, &n), 0);
    cr_expect_eq(n, 1u << 20);
    cr_expect_eq(rdv_size_parse("1025M", 1u << 30, &n), -1, "past max");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(rdv_size_parse(bad[i], 1u << 30, &n), -1,
                     "'%s' was accepted", bad[i]);
}

Test(cli, int_lists_check_every_item)
{
    int v[4], n;
    char err[256];

    cr_assert_eq(rdv_cli_int_list("--ranks", "2,4-5", 1, 64, v, 4, &n, err,
                                  sizeof err), 0, "%s", err);
    cr_expect_eq(n, 3);
    cr_expect_eq(v[2], 5);
    cr_expect_eq(rdv_cli_int_list("--ranks", "1-5", 1, 64, v, 4, &n, err,
                                  sizeof err), -1, "more values than room");
    cr_expect_eq(rdv_cli_int_list("--ranks", "2, 4", 1, 64, v, 4, &n, err,
                                  sizeof err), -1);
    cr_expect(strstr(err, "--ranks") && strstr(err, "' 4'"), "%s", err);
}

Test(replay, quotes_for_the_shell)
{
    rdv_run_config cfg = {.prog = "rdv", .store_url = "hash:?shared=1",
                          .nranks = 4, .timeout_ms = 2000,
                          .deadline_ms = RDV_RUN_DEADLINE_DEFAULT(2000),
                          .workload_spec = "barrier,it's"};
    char line[512];

    unsetenv("RDV_TRANSPORT"); /* CI sets it; the line would pin it */
    rdv_replay_line(&cfg, 42, line, sizeof line);
    cr_expect_str_eq(line, "rdv run --store 'hash:?shared=1' --ranks 4 "
                           "--seed 42 --workload 'barrier,it'\\''s' "
                           "--timeout 2000");
    setenv("RDV_TRANSPORT", "epoll", 1);
    rdv_replay_line(&cfg, 42, line, sizeof line);
    cr_expect(strstr(line, " --transport epoll"), "%s", line);
}

static int sleep_then_exit(void *arg, int rank)
{
    struct timespec ts = {0, 400 * 1000000L};

    (void)arg;
    nanosleep(&ts, NULL);
    return rank;
}

static double self_cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* The parent waits for its ranks in poll(), it does not spin: while two
 * ranks sleep 400 ms it uses a small fraction of that in CPU. */
Test(supervise, waits_without_spinning_and_reaps_every_rank)
{
    struct timespec now;
    rdv_rank_exit ex[2];
    rdv_supervise_opts o = {.nranks = 2, .fn = sleep_then_exit};
    char err[256];
    double cpu;
    pid_t pgid;

    clock_gettime(CLOCK_MONOTONIC, &now);
    o.deadline_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec +
                    60 * 1000000000LL;
    cpu = self_cpu_ms();
    cr_assert_eq(rdv_supervise(&o, ex, &pgid, err, sizeof err), 0, "%s", err);
    cpu = self_cpu_ms() - cpu;
    cr_expect_lt(cpu, 200.0, "the supervisor used %.0f ms of CPU", cpu);
    for (int r = 0; r < 2; r++) {
        cr_expect_eq(ex[r].code, r);
        cr_expect_not(ex[r].hung);
    }
    cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "a rank was not reaped");
}

static int sleep_long(void *arg, int rank)
{
    struct timespec ts = {30, 0};

    (void)arg, (void)rank;
    nanosleep(&ts, NULL);
    return 0;
}

static int overdue_after_3(void *arg)
{
    return ++*(int *)arg >= 3;
}

/* The overdue hook ends a run at once, as the deadline would: every
 * rank still running is killed, marked hung and reaped; the hook was
 * asked on its ticks, not in a spin. */
Test(supervise, overdue_ends_the_run_like_the_deadline)
{
    int64_t t0 = rdv_now_ns();
    rdv_rank_exit ex[2];
    int asked = 0;
    rdv_supervise_opts o = {.nranks = 2, .fn = sleep_long,
                            .deadline_ns = t0 + 60 * 1000000000LL,
                            .overdue = overdue_after_3,
                            .overdue_arg = &asked};
    char err[256];
    double ms;
    pid_t pgid;

    cr_assert_eq(rdv_supervise(&o, ex, &pgid, err, sizeof err), 0, "%s", err);
    ms = (double)(rdv_now_ns() - t0) / 1e6;
    cr_expect_eq(asked, 3);
    cr_expect_lt(ms, 20000.0, "the run took %.0f ms", ms);
    for (int r = 0; r < 2; r++)
        cr_expect(ex[r].hung && ex[r].signo == SIGKILL, "rank %d: hung %d "
                  "signal %d", r, ex[r].hung, ex[r].signo);
    cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "a rank was not reaped");
}

/* proc.start-late keeps the plan's order (run/start_late.h): a rank due
 * 100 ms in waits for a server event planned before then that takes the
 * parent a second to carry out (a restart command on a loaded host); a
 * rank that starts on time does not wait for it. The ranks return 1 when
 * they started on the right side of the restart. */
static rdv_server_gate *gate;
static int64_t gate_t0;

static int start_by_the_gate(void *arg, int rank)
{
    (void)arg;
    if (rank == 1) /* on time: the restart must still be pending */
        return rdv_start_late(gate, 0, 10000) == 0 &&
               rdv_start_late(gate, 1, 0) == -1;
    rdv_start_late(gate, 100, 10000);
    return rdv_now_ns() - gate_t0 >= 1000 * 1000000LL;
}

static int slow_restart(void *arg)
{
    struct timespec ts = {1, 0};

    (void)arg;
    nanosleep(&ts, NULL);
    rdv_server_gate_set(gate, RDV_SERVER_GATE_NONE);
    return -1;
}

Test(start_late, waits_for_a_server_event_planned_before_it)
{
    rdv_rank_exit ex[2];
    rdv_supervise_opts o = {.nranks = 2, .fn = start_by_the_gate,
                            .timer = slow_restart};
    char err[256];
    pid_t pgid;

    cr_assert(gate = rdv_server_gate_create(err, sizeof err), "%s", err);
    rdv_server_gate_set(gate, 0); /* a restart due at once */
    gate_t0 = rdv_now_ns();
    o.deadline_ns = gate_t0 + 60 * 1000000000LL;
    cr_assert_eq(rdv_supervise(&o, ex, &pgid, err, sizeof err), 0, "%s", err);
    cr_expect_eq(ex[0].code, 1, "the late rank started before the restart "
                 "planned before it was carried out");
    cr_expect_eq(ex[1].code, 1, "the rank on time waited for the restart");
    rdv_server_gate_destroy(gate);
}

/* An event planned after the start does not hold it; one that is never
 * carried out holds it only until the bound, which says so. */
Test(start_late, ignores_later_events_and_gives_up_at_the_bound)
{
    rdv_server_gate *g;
    int64_t t0;
    char err[256];

    cr_assert(g = rdv_server_gate_create(err, sizeof err), "%s", err);
    rdv_server_gate_set(g, 500);
    cr_expect_eq(rdv_start_late(g, 20, 10000), 0);
    rdv_server_gate_set(g, 10);
    t0 = rdv_now_ns();
    cr_expect_eq(rdv_start_late(g, 20, 200), -1);
    cr_expect_geq(rdv_now_ns() - t0, 220 * 1000000LL);
    cr_expect_eq(rdv_start_late(NULL, 20, 200), 0, "no gate: no wait");
    rdv_server_gate_destroy(g);
}

/* Publishes an op in flight in rank 0's slot, begun ago_ms ago, as the
 * recorder does, and asks the call watch. */
static int overdue_op_stretched(rdv_result_area *a, rdv_store_op op,
                                int64_t ago_ms, int64_t timeout_ms,
                                int64_t plain_ms, int64_t timed_ms,
                                rdv_call_watch *w)
{
    rdv_slot *sl = rdv_result_area_slot(a, 0);
    int64_t t0 = rdv_now_ns() - ago_ms * 1000000;

    atomic_store(&sl->op_deadline_ns,
                 timeout_ms < 0 ? 0 : t0 + timeout_ms * 1000000);
    sl->op = op;
    snprintf(sl->op_key, sizeof sl->op_key, "k");
    sl->op_t0_ns = t0;
    atomic_store(&sl->op_active, 1);
    *w = (rdv_call_watch){.area = a, .nranks = 1,
                          .plain_stretch_ms = plain_ms,
                          .timed_stretch_ms = timed_ms, .rank = -1};
    return rdv_call_watch_overdue(w);
}

static int overdue_op(rdv_result_area *a, rdv_store_op op, int64_t ago_ms,
                      int64_t timeout_ms, rdv_call_watch *w)
{
    return overdue_op_stretched(a, op, ago_ms, timeout_ms, 0, 0, w);
}

/* A call without a timeout (set) is overdue past 6 s, named as such; a
 * get with no limit never is; a get with a timeout past its bound is,
 * named as a timeout not honoured. */
Test(call_watch, calls_without_a_timeout_are_bounded_too)
{
    rdv_result_area a;
    rdv_call_watch w;

    cr_assert_eq(rdv_result_area_create(&a, 1, 0), 0);
    cr_expect_eq(overdue_op(&a, RDV_STORE_OP_SET, 1000, -1, &w), 0);
    cr_expect_eq(overdue_op(&a, RDV_STORE_OP_SET, 7000, -1, &w), 1);
    cr_expect_eq(w.rank, 0);
    cr_expect(strstr(w.call, "set 'k' still running after 7") &&
                  strstr(w.call, "a set has no timeout and must not block"),
              "%s", w.call);
    cr_expect_eq(overdue_op(&a, RDV_STORE_OP_ADD, 7000, -1, &w), 1);
    cr_expect_eq(overdue_op(&a, RDV_STORE_OP_GET, 600000, -1, &w), 0,
                 "a get with no limit is the run deadline's to end: %s",
                 w.call);
    cr_expect_eq(overdue_op(&a, RDV_STORE_OP_GET, 1500, 100, &w), 0);
    cr_expect_eq(overdue_op(&a, RDV_STORE_OP_GET, 2500, 100, &w), 1);
    cr_expect(strstr(w.call, "past its deadline") &&
                  strstr(w.call, "does not honour the call's timeout"),
              "%s", w.call);
    rdv_result_area_destroy(&a);
}

/* The fault plan's own delays are added to the bounds: a set held 7 s
 * by store.delay(ms=7000) is not the store's hang, one held past 6 s
 * plus the delay is; with no bound on what the plan adds (-1), calls
 * without a timeout are left to the run's deadline; a timed get gets
 * only what may hold it past its deadline (proc.stop's ms). */
Test(call_watch, the_plans_own_delays_are_not_blamed_on_the_store)
{
    rdv_result_area a;
    rdv_call_watch w;

    cr_assert_eq(rdv_result_area_create(&a, 1, 0), 0);
    cr_expect_eq(overdue_op_stretched(&a, RDV_STORE_OP_SET, 9000, -1, 7000,
                                      0, &w), 0, "%s", w.call);
    cr_expect_eq(overdue_op_stretched(&a, RDV_STORE_OP_SET, 14000, -1, 7000,
                                      0, &w), 1);
    cr_expect_eq(overdue_op_stretched(&a, RDV_STORE_OP_ADD, 600000, -1, -1,
                                      0, &w), 0, "%s", w.call);
    cr_expect_eq(overdue_op_stretched(&a, RDV_STORE_OP_GET, 2500, 100, 7000,
                                      0, &w), 1,
                 "a set's delay must not excuse a get that ignores its "
                 "timeout");
    cr_expect_eq(overdue_op_stretched(&a, RDV_STORE_OP_GET, 4000, 100, 0,
                                      3000, &w), 0, "%s", w.call);
    cr_expect_eq(overdue_op_stretched(&a, RDV_STORE_OP_GET, 6000, 100, 0,
                                      3000, &w), 1);
    rdv_result_area_destroy(&a);
}

/* Ranks adding to one counter may queue behind each other in a store
 * that serializes them: with 16 ranks an add 7 s old is not overdue
 * (6 s plus 0.5 s for each of the 15 others: 13.5 s), one 14 s old is,
 * and the message says the same as with one rank. */
Test(call_watch, plain_bound_grows_with_the_ranks_that_may_contend)
{
    rdv_result_area a;
    rdv_call_watch w;

    cr_assert_eq(rdv_result_area_create(&a, 16, 0), 0);
    cr_expect_eq(overdue_op(&a, RDV_STORE_OP_ADD, 7000, -1, &w), 1,
                 "the helper judges one rank");
    w.nranks = 16;
    w.rank = -1;
    cr_expect_eq(rdv_call_watch_overdue(&w), 0, "%s", w.call);
    cr_expect_eq(overdue_op(&a, RDV_STORE_OP_ADD, 14000, -1, &w), 1);
    w.nranks = 16;
    w.rank = -1;
    cr_expect_eq(rdv_call_watch_overdue(&w), 1);
    cr_expect_eq(w.rank, 0);
    cr_expect(strstr(w.call, "add 'k' still running after 14") &&
                  strstr(w.call, "an add has no timeout and must not block"),
              "%s", w.call);
    rdv_result_area_destroy(&a);
}

/* A rank's fds, as its exit code: what it inherited from the harness. */
static int count_own_fds(void *arg, int rank)
{
    int n = rdv_fd_count();

    (void)arg, (void)rank;
    return n < 0 ? 255 : n > 254 ? 254 : n;
}

/* At N = 1024 every rank is forked, supervised and reaped, and no rank
 * inherits the pidfds of the ranks forked before it: rank 1023 holds as
 * few fds as rank 0 (it would otherwise hold 1023 more, beside the 1023
 * links of a real run). */
Test(supervise, n_1024_ranks_inherit_no_pidfds, .timeout = 600)
{
    static rdv_rank_exit ex[RDV_RUN_MAX_RANKS];
    rdv_supervise_opts o = {.nranks = RDV_RUN_MAX_RANKS,
                            .fn = count_own_fds};
    struct timespec now;
    char err[512], note[512];
    pid_t pgid;

    cr_assert_eq(rdv_fd_limit_raise(rdv_fd_limit_for_ranks(o.nranks),
                                    "this test", note, sizeof note), 0,
                 "%s", note);
    clock_gettime(CLOCK_MONOTONIC, &now);
    o.deadline_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec +
                    300 * 1000000000LL;
    cr_assert_eq(rdv_supervise(&o, ex, &pgid, err, sizeof err), 0, "%s", err);
    for (int r = 0; r < o.nranks; r++) {
        cr_expect_not(ex[r].hung, "rank %d hung", r);
        cr_expect_eq(ex[r].code, ex[0].code, "rank %d held %d fds, rank 0 "
                     "%d", r, ex[r].code, ex[0].code);
    }
    cr_expect_lt(ex[0].code, 64, "rank 0 held %d fds", ex[0].code);
    cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "a rank was not reaped");
}

/* Fills a consistent mesh of n connected ranks into a fresh area: rank
 * i's link to j is 127.0.0.1:port(i,j) -> 127.0.0.1:port(j,i). */
static void mesh_area(rdv_result_area *a, int n)
{
    cr_assert_eq(rdv_result_area_create(a, n, 0), 0);
    for (int i = 0; i < n; i++) {
        rdv_tuple *row = rdv_result_area_tuples(a, i);

        rdv_result_area_slot(a, i)->connected = 1;
        for (int j = 0; j < n; j++) {
            struct sockaddr_storage l = {0}, r = {0};
            struct sockaddr_in *li = (struct sockaddr_in *)&l;
            struct sockaddr_in *ri = (struct sockaddr_in *)&r;

            if (i == j)
                continue;
            li->sin_family = ri->sin_family = AF_INET;
            li->sin_addr.s_addr = ri->sin_addr.s_addr = htonl(0x7f000001);
            li->sin_port = htons((uint16_t)(10000 + i * 31 + j));
            ri->sin_port = htons((uint16_t)(10000 + j * 31 + i));
            rdv_endpoint_from(&row[j].local, &l);
            rdv_endpoint_from(&row[j].remote, &r);
        }
    }
}

static const rdv_check *judge_mesh_as(rdv_result_area *a, int n,
                                      rdv_impl impl, rdv_run_report *rep)
{
    static rdv_rank_exit exits[RDV_RUN_MAX_RANKS];
    static rdv_run_config cfg;
    rdv_run_facts f = {.cfg = &cfg, .area = a, .exits = exits};

    cfg.nranks = n;
    cfg.impl = impl;
    cfg.timeout_ms = 1000;
    cfg.deadline_ms = 3000;
    f.expect.culprit = -1;
    rdv_checks_evaluate(&f, rep);
    return rdv_report_check(rep, RDV_CHECK_MESH_CONSISTENT);
}

static const rdv_check *judge_mesh_of(rdv_result_area *a, int n,
                                      rdv_run_report *rep)
{
    return judge_mesh_as(a, n, RDV_IMPL_RDV, rep);
}

static const rdv_check *judge_gloo_mesh_of(rdv_result_area *a, int n,
                                           rdv_run_report *rep)
{
    return judge_mesh_as(a, n, RDV_IMPL_GLOO, rep);
}

/* The mesh check at N = 1024 compares all 523776 pairs; a few crossed
 * links are each named with both ends, and the rest are counted. */
Test(checks, mesh_check_at_n_1024_judges_every_pair)
{
    rdv_run_report *rep = calloc(1, sizeof *rep);
    const int n = RDV_RUN_MAX_RANKS;
    const rdv_check *c;
    rdv_result_area a;

    cr_assert_not_null(rep);
    mesh_area(&a, n);
    c = judge_mesh_of(&a, n, rep);
    cr_assert_not_null(c);
    cr_expect_eq(c->verdict, RDV_CHECK_PASS, "%s", c->detail);
    cr_expect(strstr(c->detail, "523776 socket pairs"), "%s", c->detail);
    /* Ten pairs whose ends disagree: rank 5's link to 1000+k. */
    for (int k = 0; k < 10; k++)
        rdv_result_area_tuples(&a, 5)[1000 + k].remote.port ^= 1;
    c = judge_mesh_of(&a, n, rep);
    cr_expect_eq(c->verdict, RDV_CHECK_FAIL, "%s", c->detail);
    cr_expect(strstr(c->detail, "rank 5's socket to rank 1000 is "
                                "127.0.0.1:"), "%s", c->detail);
    cr_expect(strstr(c->detail, "\nand 6 more"), "%s", c->detail);
    rdv_result_area_destroy(&a);
    free(rep);
}

/* A pair whose ends have no family (a socket that could not tell them)
 * is not seen: two zeroed ends would mirror each other. The check SKIPs
 * naming the pair, and a real mismatch elsewhere still FAILs. */
Test(checks, mesh_check_skips_a_pair_with_no_address)
{
    rdv_run_report *rep = calloc(1, sizeof *rep);
    const rdv_check *c;
    rdv_result_area a;

    cr_assert_not_null(rep);
    mesh_area(&a, 4);
    memset(&rdv_result_area_tuples(&a, 1)[2], 0, sizeof(rdv_tuple));
    memset(&rdv_result_area_tuples(&a, 2)[1], 0, sizeof(rdv_tuple));
    c = judge_mesh_of(&a, 4, rep);
    cr_expect_eq(c->verdict, RDV_CHECK_SKIP, "%s", c->detail);
    cr_expect(strstr(c->detail, "the sockets of 1 pair of connected ranks "
                     "told no address (ranks 1 and 2), so the mesh was not "
                     "seen whole; 5 other pairs mirror each other"), "%s",
              c->detail);
    /* one end unknown: not seen either, not a mismatch */
    rdv_result_area_destroy(&a);
    mesh_area(&a, 4);
    rdv_result_area_tuples(&a, 3)[0].remote.family = 0;
    c = judge_mesh_of(&a, 4, rep);
    cr_expect_eq(c->verdict, RDV_CHECK_SKIP, "%s", c->detail);
    cr_expect(strstr(c->detail, "(ranks 0 and 3)"), "%s", c->detail);
    rdv_result_area_tuples(&a, 2)[1].local.port ^= 1;
    c = judge_mesh_of(&a, 4, rep);
    cr_expect_eq(c->verdict, RDV_CHECK_FAIL, "%s", c->detail);
    rdv_result_area_destroy(&a);
    free(rep);
}

/* Gloo's mesh seen from outside: rows hold each rank's sockets in any
 * order (here reversed, with a store connection first), and every pair
 * of ranks must share one. */
Test(checks, gloo_mesh_is_matched_from_the_ranks_own_sockets)
{
    rdv_run_report *rep = calloc(1, sizeof *rep);
    const int n = 6;
    rdv_tuple links[6][6];
    const rdv_check *c;
    rdv_result_area a;

    cr_assert_not_null(rep);
    mesh_area(&a, n);
    for (int i = 0; i < n; i++) {
        rdv_tuple *row = rdv_result_area_tuples(&a, i);
        int k = 0;

        memcpy(links[i], row, sizeof links[i]);
        row[k++] = (rdv_tuple){links[i][i ? 0 : 1].local,
                               links[i][i ? 0 : 1].local};
        row[k - 1].remote.port = 6379; /* a store: mirrors nobody */
        for (int j = n - 1; j >= 0; j--)
            if (j != i)
                row[k++] = links[i][j];
        rdv_result_area_slot(&a, i)->nsockets = k; /* n: a full row */
    }
    c = judge_gloo_mesh_of(&a, n, rep);
    cr_expect_eq(c->verdict, RDV_CHECK_PASS, "%s", c->detail);
    cr_expect(strstr(c->detail, "15 pairs of ranks share a TCP connection"),
              "%s", c->detail);
    /* Rank 2's connection to rank 5 goes elsewhere. */
    for (int k = 0; k < n; k++)
        if (rdv_endpoint_equal(&rdv_result_area_tuples(&a, 2)[k].local,
                               &links[2][5].local))
            rdv_result_area_tuples(&a, 2)[k].remote.port = 1;
    c = judge_gloo_mesh_of(&a, n, rep);
    cr_expect_eq(c->verdict, RDV_CHECK_FAIL, "%s", c->detail);
    cr_expect(strstr(c->detail, "ranks 2 and 5 share no TCP connection"),
              "%s", c->detail);
    rdv_result_area_destroy(&a);
    free(rep);
}

/* The scan on real sockets: three loopback connections, both ends held
 * here, are six sockets that mirror each other; the listener is not
 * one, and all go when their port is the store's. */
Test(checks, socket_scan_lists_connected_tcp_sockets)
{
    struct sockaddr_in at = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof at;
    int l = socket(AF_INET, SOCK_STREAM, 0), fds[6], n;
    rdv_tuple t[16];

    cr_assert(l >= 0 && !bind(l, (struct sockaddr *)&at, sizeof at) &&
              !listen(l, 4) && !getsockname(l, (struct sockaddr *)&at, &len));
    for (int k = 0; k < 3; k++) {
        fds[2 * k] = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(!connect(fds[2 * k], (struct sockaddr *)&at, sizeof at));
        cr_assert((fds[2 * k + 1] = accept(l, NULL, NULL)) >= 0);
    }
    n = rdv_socket_scan(t, 16, -1);
    cr_assert_eq(n, 6, "%d sockets", n);
    for (int i = 0; i < n; i++) {
        int mirrored = 0;

        for (int j = 0; j < n; j++)
            mirrored += rdv_endpoint_equal(&t[i].local, &t[j].remote) &&
                        rdv_endpoint_equal(&t[i].remote, &t[j].local);
        cr_expect_eq(mirrored, 1, "socket %d", i);
    }
    cr_expect_eq(rdv_socket_scan(t, 2, -1), 6, "the count past the cap");
    cr_expect_eq(rdv_socket_scan(t, 16, ntohs(at.sin_port)), 0);
    for (int k = 0; k < 6; k++)
        close(fds[k]);
    close(l);
}

/* A failure that no longer fits a check's detail is counted, not lost:
 * 1024 ranks that never reported fill ranks-ok and end in "and K more". */
Test(checks, failures_past_the_detail_are_counted)
{
    rdv_run_report *rep = calloc(1, sizeof *rep);
    const rdv_check *c;
    rdv_result_area a;
    long shown = 0, more = 0;
    const char *p;

    cr_assert_not_null(rep);
    cr_assert_eq(rdv_result_area_create(&a, RDV_RUN_MAX_RANKS, 0), 0);
    judge_mesh_of(&a, RDV_RUN_MAX_RANKS, rep);
    c = rdv_report_check(rep, RDV_CHECK_RANKS_OK);
    cr_assert_not_null(c);
    cr_expect_eq(c->verdict, RDV_CHECK_FAIL);
    for (p = strstr(c->detail, "rank "); p; p = strstr(p + 1, "rank "))
        shown++;
    p = strstr(c->detail, "\nand ");
    cr_assert(p, "%s", c->detail);
    cr_expect_eq(sscanf(p, "\nand %ld more", &more), 1, "%s", p);
    cr_expect_eq(shown + more, RDV_RUN_MAX_RANKS, "%ld shown + %ld more: %s",
                 shown, more, c->detail);
    rdv_result_area_destroy(&a);
    free(rep);
}

/* A failure per line in a check's detail; on one line (conform's
 * evidence) whole failures only, every failing check's first one
 * before any second, and a count of the rest that adds up. */
Test(report, failed_line_keeps_whole_failures_and_counts_the_rest)
{
    rdv_run_report *rep = calloc(1, sizeof *rep);
    const rdv_check *ok;
    rdv_result_area a;
    char line[700];
    long shown = 0, more = 0;
    const char *p;

    cr_assert_not_null(rep);
    cr_assert_eq(rdv_result_area_create(&a, 64, 0), 0);
    judge_mesh_of(&a, 64, rep); /* 64 ranks that never reported */
    ok = rdv_report_check(rep, RDV_CHECK_RANKS_OK);
    cr_assert(ok && ok->verdict == RDV_CHECK_FAIL);
    cr_expect(strstr(ok->detail, "\nrank 1 "), "not a rank per line: %s",
              ok->detail);
    rdv_report_failed_line(rep, line, sizeof line);
    cr_expect_lt(strlen(line), sizeof line - 1, "cut at the buffer: %s", line);
    cr_expect_null(strchr(line, '\n'), "%s", line);
    cr_expect(!strncmp(line, "ranks-ok: rank 0 ", 17), "%s", line);
    for (p = line; (p = strstr(p, "rank ")) && p < strstr(line, " (and ");
         p++)
        shown++;
    p = strstr(line, " (and ");
    cr_assert(p, "no count of the failures left out: %s", line);
    cr_expect_eq(sscanf(p, " (and %ld more)", &more), 1, "%s", p);
    cr_expect_eq(shown + more, 64, "%ld shown + %ld more: %s", shown, more,
                 line);
    /* the next failing check still has its first failure */
    for (int i = 0; i < rep->nchecks; i++)
        if (rep->checks[i].verdict == RDV_CHECK_FAIL &&
            &rep->checks[i] != ok) {
            char head[64];

            snprintf(head, sizeof head, "; %s: ", rep->checks[i].name);
            cr_expect(strstr(line, head), "%s missing: %s", head, line);
        }
    rdv_result_area_destroy(&a);
    free(rep);
}

/* Every rank killed by SIGSEGV before it could report: error-quality has
 * no message to judge, so it SKIPs saying why (never "PASS no rank
 * failed"), while ranks-ok fails naming each rank and its signal. One
 * rank that did report keeps its message judged. */
Test(checks, error_quality_skips_when_every_rank_died_silently)
{
    rdv_run_report *rep = calloc(1, sizeof *rep);
    rdv_run_config cfg = {.nranks = 4, .timeout_ms = 1000,
                          .deadline_ms = 3000};
    rdv_rank_exit exits[4] = {{0}};
    rdv_result_area area;
    rdv_run_facts f = {.cfg = &cfg, .area = &area, .exits = exits};
    const rdv_check *c;
    rdv_slot *s;

    cr_assert_not_null(rep);
    cr_assert_eq(rdv_result_area_create(&area, 4, 0), 0);
    f.expect.culprit = -1;
    for (int r = 0; r < 4; r++)
        exits[r] = (rdv_rank_exit){.pid = 100 + r, .code = -1, .signo = 11};
    rdv_checks_evaluate(&f, rep);
    c = rdv_report_check(rep, RDV_CHECK_ERROR_QUALITY);
    cr_assert_not_null(c);
    cr_expect_eq(c->verdict, RDV_CHECK_SKIP, "%s", c->detail);
    cr_expect(strstr(c->detail, "4 of 4 ranks ended without one (rank 0 "
                                "killed by signal 11, ...)"), "%s",
              c->detail);
    c = rdv_report_check(rep, RDV_CHECK_RANKS_OK);
    cr_expect_eq(c->verdict, RDV_CHECK_FAIL, "%s", c->detail);
    cr_expect(strstr(c->detail, "rank 3 killed by signal 11"), "%s",
              c->detail);
    /* rank 2 reported an error naming nobody: that is judged, and fails */
    s = rdv_result_area_slot(&area, 2);
    exits[2].signo = 0;
    exits[2].code = 1;
    snprintf(s->error, sizeof s->error, "something went wrong");
    atomic_store(&s->state, RDV_SLOT_FAILED);
    rdv_checks_evaluate(&f, rep);
    c = rdv_report_check(rep, RDV_CHECK_ERROR_QUALITY);
    cr_expect_eq(c->verdict, RDV_CHECK_FAIL, "%s", c->detail);
    cr_expect(strstr(c->detail, "rank 2's error names no rank"), "%s",
              c->detail);
    rdv_result_area_destroy(&area);
    free(rep);
}

/* A run of n ranks that all reported success, judged; fd counts equal. */
static void judge_clean(rdv_run_facts *f, rdv_run_config *cfg,
                        rdv_rank_exit *exits, rdv_result_area *a, int n,
                        rdv_run_report *rep)
{
    cfg->nranks = n;
    cfg->timeout_ms = 1000;
    cfg->deadline_ms = 3000;
    *f = (rdv_run_facts){.cfg = cfg, .area = a, .exits = exits};
    f->expect.culprit = -1;
    f->fds_before = f->fds_after = 5;
    for (int r = 0; r < n; r++) {
        exits[r] = (rdv_rank_exit){.pid = 100 + r};
        atomic_store(&rdv_result_area_slot(a, r)->state, RDV_SLOT_OK);
    }
    rdv_checks_evaluate(f, rep);
}

static int verdict_of(const rdv_run_report *rep, rdv_check_id id,
                      const char *why)
{
    const rdv_check *c = rdv_report_check(rep, id);

    cr_assert_not_null(c, "check %d did not apply", (int)id);
    cr_expect(!why || strstr(c->detail, why), "%s: %s", c->name, c->detail);
    return c->verdict;
}

/* Checks whose premise does not hold SKIP with the reason, never PASS:
 * error-quality with no failed rank, culprit-named with no fatal fault
 * or a fatal one with no single culprit,
 * results-identical on a workload with no shared output, no-leak when
 * the keys cannot be listed. The run itself still has no failure. */
Test(checks, no_premise_is_a_skip_with_the_reason)
{
    rdv_run_report *rep = calloc(1, sizeof *rep);
    rdv_rank_exit exits[3];
    rdv_run_config cfg = {0};
    rdv_run_facts f;
    rdv_result_area a;
    char err[256];

    cr_assert_not_null(rep);
    mesh_area(&a, 3);
    cr_assert_eq(rdv_workload_parse("rendezvous,barrier", &cfg.workload,
                                     err, sizeof err), 0, "%s", err);
    judge_clean(&f, &cfg, exits, &a, 3, rep);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_RANKS_OK, "3 of 3"),
                 RDV_CHECK_PASS);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_ERROR_QUALITY, "no rank failed: "
                            "no error message to judge"), RDV_CHECK_SKIP);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_RESULTS_IDENTICAL, "no step of "
                            "the workload has an output"), RDV_CHECK_SKIP);
    /* a barrier only one rank finished: its order cannot be judged */
    rdv_result_area_slot(&a, 0)->steps[0] = (rdv_step_out){
        .ran = 1, .correct = 1, .t_enter_ns = 10, .t_exit_ns = 20};
    rdv_checks_evaluate(&f, rep);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_RESULTS_CORRECT, "only barriers "
                            "finished, and not on every rank"),
                 RDV_CHECK_SKIP);
    for (int r = 1; r < 3; r++)
        rdv_result_area_slot(&a, r)->steps[0] = (rdv_step_out){
            .ran = 1, .correct = 1, .t_enter_ns = 10 + r, .t_exit_ns = 20};
    rdv_checks_evaluate(&f, rep);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_RESULTS_CORRECT, "3 step "
                            "results"), RDV_CHECK_PASS);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_NO_LEAK, "keys or temp files"),
                 RDV_CHECK_PASS);
    cr_expect_not(rep->failed);
    cr_expect_eq(rdv_checks_verdict(rep->checks, rep->nchecks),
                 RDV_CHECK_PASS);
    f.have_faults = 1; /* a fault that is not fatal */
    rdv_checks_evaluate(&f, rep);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_CULPRIT_NAMED, "no fatal fault "
                            "fired: no culprit to name"), RDV_CHECK_SKIP);
    /* fatal, but on every rank and key (a server fault): nobody to name */
    f.expect = (rdv_faults_expect){.fatal = 1, .culprit = -1};
    rdv_checks_evaluate(&f, rep);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_CULPRIT_NAMED, "no single "
                            "culprit"), RDV_CHECK_SKIP);
    f.expect = (rdv_faults_expect){.culprit = -1};
    f.keys_unlisted = 1;
    rdv_checks_evaluate(&f, rep);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_NO_LEAK, "no processes, fds or "
                            "temp files left, but not checked: keys (the "
                            "store has no list"), RDV_CHECK_SKIP);
    f.procs_left = 1; /* what it could see leaked: that still fails */
    snprintf(f.procs_detail, sizeof f.procs_detail, "process group 7 still "
             "has members");
    rdv_checks_evaluate(&f, rep);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_NO_LEAK, "process group 7"),
                 RDV_CHECK_FAIL);
    rdv_result_area_destroy(&a);
    free(rep);
}

/* A fatal fault whose culprit is the only rank leaves no survivor:
 * ranks-ok, culprit-named and (when it was held past the deadline)
 * no-hang have nobody to judge and SKIP. A run where every check
 * SKIPs verified nothing, and its verdict says so: SKIP, not PASS. */
Test(checks, no_survivor_is_a_skip)
{
    rdv_run_report *rep = calloc(1, sizeof *rep);
    rdv_rank_exit exits[1];
    rdv_run_config cfg = {0};
    rdv_run_facts f;
    rdv_result_area a;

    cr_assert_not_null(rep);
    cr_assert_eq(rdv_result_area_create(&a, 1, 0), 0);
    judge_clean(&f, &cfg, exits, &a, 1, rep);
    f.have_faults = 1;
    f.expect.fatal = 1;
    f.expect.culprit = 0;
    exits[0].hung = 1;
    exits[0].code = -1;
    atomic_store(&rdv_result_area_slot(&a, 0)->state, RDV_SLOT_RUNNING);
    f.keys_unlisted = 1;
    rdv_checks_evaluate(&f, rep);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_RANKS_OK, "no survivor"),
                 RDV_CHECK_SKIP);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_CULPRIT_NAMED, "no survivor"),
                 RDV_CHECK_SKIP);
    cr_expect_eq(verdict_of(rep, RDV_CHECK_NO_HANG, "no other rank"),
                 RDV_CHECK_SKIP);
    for (int i = 0; i < rep->nchecks; i++)
        cr_expect_eq(rep->checks[i].verdict, RDV_CHECK_SKIP, "%s: %s",
                     rep->checks[i].name, rep->checks[i].detail);
    cr_expect_not(rep->failed);
    cr_expect_eq(rdv_checks_verdict(rep->checks, rep->nchecks),
                 RDV_CHECK_SKIP);
    rdv_result_area_destroy(&a);
    free(rep);
}

/* The live line is redrawn at most every 250 ms, not at each exit, and
 * always at the last: 1024 ranks ending at once draw it a few times. */
Test(progress, launch_live_line_is_rate_limited)
{
    char path[] = "/tmp/rdv-progress-XXXXXX", buf[65536];
    rdv_rank_exit e = {0};
    rdv_launch_progress p;
    int fd = mkstemp(path), saved = dup(2), draws = 0;
    ssize_t n;

    cr_assert(fd >= 0 && saved >= 0);
    unlink(path);
    fflush(stderr);
    cr_assert(dup2(fd, 2) == 2);
    rdv_launch_progress_start(&p, 1024, rdv_now_ns(), 0);
    p.live = 1; /* as on a terminal */
    for (int r = 0; r < 1024; r++)
        rdv_launch_progress_exited(&p, r, &e);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    cr_assert(n > 0);
    buf[n] = '\0';
    for (char *q = buf; (q = strchr(q, '\r')); q++)
        draws++;
    cr_expect(draws >= 1 && draws < 100, "%d redraws", draws);
    cr_expect(strstr(buf, "launch [1024/1024 ended] 0 running"), "%s",
              buf);
}
