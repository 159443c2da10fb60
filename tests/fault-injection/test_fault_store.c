/*
 * test_fault_store.c - each store fault happens, over the real hash
 * store: the delay is observed, the error comes on the nth call, a stall
 * ends at the deadline, a lost write is gone, a stale read serves the
 * old value or nothing, and filters (op, key glob, rank) hold.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "helpers.h"
#include "rdv/store.h"

typedef struct fixture {
    rdv_fault_plan *plan;
    rdv_fault_rank *fr;
    rdv_store *s;
    char *log;
    size_t loglen;
    FILE *logf;
} fixture;

static void open_faulty(fixture *fx, const char *spec, int rank)
{
    char err[256];
    rdv_store *in;

    memset(fx, 0, sizeof *fx);
    fx->plan = plan_of(spec);
    fx->logf = open_memstream(&fx->log, &fx->loglen);
    cr_assert_not_null(fx->logf);
    cr_assert_eq(rdv_fault_rank_create(fx->plan, 1, rank, 4, fx->logf,
                                       &fx->fr), RDV_OK);
    cr_assert_eq(rdv_store_open("hash:", &in, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_eq(rdv_fault_rank_wrap_store(fx->fr, in, &fx->s), RDV_OK);
}

static void close_faulty(fixture *fx)
{
    rdv_store_close(fx->s);
    rdv_fault_rank_destroy(fx->fr);
    rdv_fault_plan_free(fx->plan);
    fclose(fx->logf);
    free(fx->log);
}

static int get_str(rdv_store *s, const char *key, char *out, size_t cap,
                   int timeout_ms)
{
    void *v = NULL;
    size_t len = 0;
    int rc = rdv_store_get(s, key, &v, &len, timeout_ms);

    if (rc == RDV_OK)
        snprintf(out, cap, "%.*s", (int)len, (char *)v);
    free(v);
    return rc;
}

Test(fault_store, delay_is_observed_only_on_matching_ops_and_keys)
{
    fixture fx;
    char v[16];
    double t0;

    open_faulty(&fx, "store.delay(op=get, key=\"job/addr/*\", ms=150)", 0);
    cr_assert_eq(rdv_store_set(fx.s, "job/addr/1", "a", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_set(fx.s, "job/other", "b", 1, 0), RDV_OK);
    t0 = now_ms();
    cr_assert_eq(get_str(fx.s, "job/addr/1", v, sizeof v, 5000), RDV_OK);
    cr_assert_geq(now_ms() - t0, 145.0, "the delay was not observed");
    cr_assert_str_eq(v, "a");
    t0 = now_ms();
    cr_assert_eq(get_str(fx.s, "job/other", v, sizeof v, 5000), RDV_OK);
    fflush(fx.logf);
    cr_assert(strstr(fx.log, "get 'job/addr/1' call 1: delayed 150 ms"), "%s",
              fx.log);
    cr_assert_null(strstr(fx.log, "job/other"), "%s", fx.log);
    close_faulty(&fx);
}

Test(fault_store, a_delay_never_outlasts_the_deadline)
{
    fixture fx;
    char v[16];
    double t0;

    open_faulty(&fx, "store.delay(op=get, ms=5000)", 0);
    cr_assert_eq(rdv_store_set(fx.s, "k", "x", 1, 0), RDV_OK);
    t0 = now_ms();
    cr_assert_eq(get_str(fx.s, "k", v, sizeof v, 200), RDV_OK,
                 "at the deadline the call still tries once");
    cr_assert_lt(now_ms() - t0, 2500.0, "the delay overshot the deadline");
    cr_assert_geq(now_ms() - t0, 195.0);
    close_faulty(&fx);
}

Test(fault_store, a_range_draws_within_it)
{
    fixture fx;
    char v[16];

    open_faulty(&fx, "store.delay(op=set, ms=20..40)", 0);
    for (int i = 0; i < 3; i++) {
        double t0 = now_ms();

        cr_assert_eq(rdv_store_set(fx.s, "k", "x", 1, 0), RDV_OK);
        cr_assert_geq(now_ms() - t0, 19.0);
    }
    cr_assert_eq(get_str(fx.s, "k", v, sizeof v, 0), RDV_OK);
    close_faulty(&fx);
}

Test(fault_store, error_on_the_nth_call_only)
{
    fixture fx;

    open_faulty(&fx, "store.error(op=set, nth=3, code=ECONN)", 0);
    cr_assert_eq(rdv_store_set(fx.s, "a", "1", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_add(fx.s, "n", 1, NULL), RDV_OK, "add is no set");
    cr_assert_eq(rdv_store_set(fx.s, "b", "1", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_set(fx.s, "c", "1", 1, 0), RDV_ECONN);
    cr_assert(strstr(rdv_store_errmsg(fx.s), "set 'c' failed: injected "
                     "RDV_ECONN (fault #1 store.error, call 3)"),
              "%s", rdv_store_errmsg(fx.s));
    cr_assert_eq(rdv_store_set(fx.s, "d", "1", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_try_get(fx.s, "c", &(void *){0}, &(size_t){0}),
                 RDV_ENOTFOUND, "the failed set must not have reached it");
    close_faulty(&fx);
}

/* op= takes librdv's names; "cas" is the spec's other name for
 * compare_set, and either selects exactly the compare_set calls. */
Test(fault_store, cas_and_compare_set_name_the_same_op)
{
    static const char *const specs[] = {
        "store.error(op=cas, once=1, code=EIO)",
        "store.error(op=compare_set, once=1, code=EIO)",
    };

    for (size_t i = 0; i < 2; i++) {
        fixture fx;
        int won = -1;

        open_faulty(&fx, specs[i], 0);
        cr_assert_eq(rdv_store_set(fx.s, "k", "1", 1, 0), RDV_OK, "%s",
                     specs[i]);
        cr_assert_eq(rdv_store_add(fx.s, "n", 1, NULL), RDV_OK, "%s",
                     specs[i]);
        cr_assert_eq(rdv_store_compare_set(fx.s, "k", "1", 1, "2", 1, &won,
                                           NULL, NULL),
                     RDV_EIO, "%s", specs[i]);
        cr_expect(strstr(rdv_store_errmsg(fx.s), "compare_set 'k' failed: "
                         "injected RDV_EIO"),
                  "%s: %s", specs[i], rdv_store_errmsg(fx.s));
        cr_assert_eq(rdv_store_compare_set(fx.s, "k", "1", 1, "2", 1, &won,
                                           NULL, NULL),
                     RDV_OK, "%s", specs[i]);
        cr_expect_eq(won, 1);
        fflush(fx.logf);
        cr_expect(strstr(fx.log, "compare_set 'k' call 1: fails with "
                         "RDV_EIO"), "%s", fx.log);
        close_faulty(&fx);
    }
}

Test(fault_store, error_once_then_the_store_works)
{
    fixture fx;
    int64_t n = 0;

    open_faulty(&fx, "store.error(op=add, once=1)", 0);
    cr_assert_eq(rdv_store_add(fx.s, "n", 1, &n), RDV_EIO);
    cr_assert_eq(rdv_store_add(fx.s, "n", 1, &n), RDV_OK);
    cr_assert_eq(n, 1);
    close_faulty(&fx);
}

Test(fault_store, faults_for_other_ranks_leave_the_store_alone)
{
    fixture fx;
    char err[256];
    rdv_store *in;

    memset(&fx, 0, sizeof fx);
    fx.plan = plan_of("store.error(rank=2)");
    cr_assert_eq(rdv_fault_rank_create(fx.plan, 1, 1, 4, NULL, &fx.fr),
                 RDV_OK);
    cr_assert_eq(rdv_store_open("hash:", &in, err, sizeof err), RDV_OK);
    cr_assert_eq(rdv_fault_rank_wrap_store(fx.fr, in, &fx.s), RDV_OK);
    cr_assert_eq(fx.s, in, "no store fault for rank 1: no wrapper");
    cr_assert_eq(rdv_store_set(fx.s, "a", "1", 1, 0), RDV_OK);
    rdv_store_close(fx.s);
    rdv_fault_rank_destroy(fx.fr);
    rdv_fault_plan_free(fx.plan);
}

Test(fault_store, stall_ends_in_a_timeout_at_the_deadline)
{
    fixture fx;
    const char *keys[] = {"x", "y"};
    double t0;

    open_faulty(&fx, "store.stall(op=wait)", 0);
    cr_assert_eq(rdv_store_set(fx.s, "x", "1", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_set(fx.s, "y", "1", 1, 0), RDV_OK);
    t0 = now_ms();
    cr_assert_eq(rdv_store_wait(fx.s, keys, 2, 300), RDV_ETIMEDOUT);
    cr_assert_geq(now_ms() - t0, 295.0);
    cr_assert(strstr(rdv_store_errmsg(fx.s), "stalled"), "%s",
              rdv_store_errmsg(fx.s));
    close_faulty(&fx);
}

Test(fault_store, stall_with_ms_on_a_call_without_deadline)
{
    fixture fx;
    double t0;

    open_faulty(&fx, "store.stall(op=set, ms=120)", 0);
    t0 = now_ms();
    cr_assert_eq(rdv_store_set(fx.s, "x", "1", 1, 0), RDV_ETIMEDOUT);
    cr_assert_geq(now_ms() - t0, 115.0);
    close_faulty(&fx);
}

Test(fault_store, lost_write_is_acknowledged_but_gone)
{
    fixture fx;
    char v[16];
    const char *keys[] = {"job/addr/0", "job/addr/1"};
    const void *vals[] = {"a", "b"};
    size_t lens[] = {1, 1};

    open_faulty(&fx, "store.lose(key=\"job/addr/1\")", 0);
    cr_assert_eq(rdv_store_set(fx.s, "job/addr/1", "x", 1, 0), RDV_OK);
    cr_assert_eq(get_str(fx.s, "job/addr/1", v, sizeof v, 50), RDV_ETIMEDOUT);
    cr_assert_eq(rdv_store_multi_set(fx.s, keys, vals, lens, 2), RDV_OK);
    cr_assert_eq(get_str(fx.s, "job/addr/0", v, sizeof v, 0), RDV_OK);
    cr_assert_str_eq(v, "a", "only the matching key of a batch is lost");
    cr_assert_eq(get_str(fx.s, "job/addr/1", v, sizeof v, 0), RDV_ETIMEDOUT);
    fflush(fx.logf);
    cr_assert(strstr(fx.log, "set 'job/addr/1' call 1: write dropped"), "%s",
              fx.log);
    close_faulty(&fx);
}

Test(fault_store, stale_read_serves_the_previous_value)
{
    fixture fx;
    char v[16];

    open_faulty(&fx, "store.stale(op=get, nth=3)", 0);
    cr_assert_eq(rdv_store_set(fx.s, "k", "old", 3, 0), RDV_OK);
    cr_assert_eq(get_str(fx.s, "k", v, sizeof v, 0), RDV_OK); /* call 1 */
    cr_assert_eq(rdv_store_set(fx.s, "k", "new", 3, 0), RDV_OK);
    cr_assert_eq(get_str(fx.s, "k", v, sizeof v, 0), RDV_OK); /* call 2 */
    cr_assert_str_eq(v, "new");
    cr_assert_eq(get_str(fx.s, "k", v, sizeof v, 0), RDV_OK); /* call 3 */
    cr_assert_str_eq(v, "old", "the stale read must serve the old value");
    cr_assert_eq(get_str(fx.s, "k", v, sizeof v, 0), RDV_OK);
    cr_assert_str_eq(v, "new");
    close_faulty(&fx);
}

Test(fault_store, stale_key_is_absent_until_the_lag_ends)
{
    fixture fx;
    char v[16];
    double t0;

    open_faulty(&fx, "store.stale(key=\"a*\", ms=300)", 0);
    cr_assert_eq(rdv_store_set(fx.s, "a1", "x", 2, 0), RDV_OK);
    t0 = now_ms();
    cr_assert_eq(get_str(fx.s, "a1", v, sizeof v, 60), RDV_ETIMEDOUT,
                 "a read whose deadline comes before the lag times out");
    cr_assert(strstr(rdv_store_errmsg(fx.s), "key 'a1' missing"), "%s",
              rdv_store_errmsg(fx.s));
    cr_assert_eq(rdv_store_try_get(fx.s, "a1", &(void *){0}, &(size_t){0}),
                 RDV_ENOTFOUND, "still lagging");
    cr_assert_eq(get_str(fx.s, "a1", v, sizeof v, 5000), RDV_OK);
    cr_assert_geq(now_ms() - t0, 295.0, "the lag was not observed");
    cr_assert_lt(now_ms() - t0, 5000.0, "the lag runs from the first read");
    t0 = now_ms();
    cr_assert_eq(get_str(fx.s, "a1", v, sizeof v, 0), RDV_OK,
                 "after the lag the key is there");
    cr_assert_eq(get_str(fx.s, "b1", v, sizeof v, 0), RDV_ETIMEDOUT);
    close_faulty(&fx);
}

Test(fault_store, stale_without_ms_never_shows_the_key)
{
    fixture fx;
    const char *keys[] = {"k"};

    open_faulty(&fx, "store.stale(op=wait)", 0);
    cr_assert_eq(rdv_store_set(fx.s, "k", "x", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_wait(fx.s, keys, 1, 150), RDV_ETIMEDOUT);
    cr_assert(strstr(rdv_store_errmsg(fx.s), "stale replica"), "%s",
              rdv_store_errmsg(fx.s));
    close_faulty(&fx);
}

static void *closer(void *arg)
{
    struct timespec ts = {0, 100 * 1000 * 1000};

    nanosleep(&ts, NULL);
    rdv_store_close(arg);
    return NULL;
}

Test(fault_store, close_cancels_an_injected_delay)
{
    rdv_fault_plan *p = plan_of("store.delay(op=get, ms=60000)");
    rdv_fault_rank *fr;
    rdv_store *in, *s;
    pthread_t t;
    char err[256];
    void *v = NULL;
    size_t len;
    double t0;

    cr_assert_eq(rdv_fault_rank_create(p, 1, 0, 1, NULL, &fr), RDV_OK);
    cr_assert_eq(rdv_store_open("hash:", &in, err, sizeof err), RDV_OK);
    cr_assert_eq(rdv_fault_rank_wrap_store(fr, in, &s), RDV_OK);
    t0 = now_ms();
    cr_assert_eq(pthread_create(&t, NULL, closer, s), 0);
    cr_assert_eq(rdv_store_get(s, "k", &v, &len, -1), RDV_ECANCELED);
    cr_assert_lt(now_ms() - t0, 30000.0, "close did not cut the delay");
    pthread_join(t, NULL);
    rdv_fault_rank_destroy(fr);
    rdv_fault_plan_free(p);
}
