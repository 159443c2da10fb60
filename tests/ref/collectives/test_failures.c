/*
 * test_failures.c - collectives never hang and say who failed.
 *
 *  - A rank killed mid-allreduce (SIGKILL from its own io hook, so it
 *    dies with bytes in flight): every survivor fails with RDV_EPEER or
 *    RDV_ETIMEDOUT within the timeout + 1 s, naming the dead rank, and
 *    its context is unusable afterwards (RDV_ESTATE).
 *  - A rank that never calls the collective: the others fail within the
 *    call's timeout + 1 s and every one of them names it, also those
 *    that were waiting on another rank (they see every other survivor
 *    close its connections, and list the silent one as still connected).
 *  - Bad arguments: RDV_EINVAL naming the argument.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context_internal.h"
#include "ranks.h"
#include "rdv/collectives.h"

#define KILL_TIMEOUT_MS 3000
#define SILENT_TIMEOUT_MS 1000

/* ---- a rank killed mid-allreduce ---- */

static int64_t die_after_bytes(void *arg, int peer, int is_send,
                               uint64_t offset, size_t want,
                               int64_t *delay_ns)
{
    (void)arg;
    (void)peer;
    (void)want;
    (void)delay_ns;
    if (is_send && offset >= (3u << 20))
        raise(SIGKILL);
    return (int64_t)want;
}

static int loop_allreduce(rdv_context *ctx, int rank, int n, void *arg,
                          rank_slot *me)
{
    size_t count = 256 * 1024;
    double *buf = calloc(count, sizeof *buf);
    rdv_coll_options o = rdv_coll_options_default();
    int rc = RDV_OK;

    o.algo = RDV_ALGO_RING;
    (void)rank;
    (void)n;
    (void)arg;
    for (int i = 0; i < 64 && rc == RDV_OK; i++) {
        int64_t t0 = ranks_now_ms();
        rc = rdv_allreduce(ctx, buf, buf, count, RDV_DOUBLE, RDV_SUM, &o);
        me->fail_ms = ranks_now_ms() - t0;
    }
    free(buf);
    snprintf(me->msg, sizeof me->msg, "%s", rdv_context_errmsg(ctx));
    if (rc != RDV_OK && rdv_barrier(ctx, NULL) != RDV_ESTATE)
        return 99; /* a failed context must stay unusable */
    return rc;
}

Test(collectives_failures, killed_rank_is_named, .timeout = 120)
{
    static const rdv_hooks die = {.io = die_after_bytes};
    ranks_spec s = {.n = 4, .mesh = MESH_TCP, .timeout_ms = KILL_TIMEOUT_MS,
                    .supervise_ms = 60000};
    int hung;
    rank_slot *slots;

    s.hooks[2] = &die;
    slots = ranks_run(&s, loop_allreduce, NULL, &hung);
    cr_assert_not_null(slots);
    cr_expect_eq(hung, 0);
    cr_expect_not(slots[2].done, "rank 2 should have been killed");
    for (int r = 0; r < 4; r++) {
        if (r == 2)
            continue;
        cr_log_info("rank %d after %lld ms: %s", r,
                    (long long)slots[r].fail_ms, slots[r].msg);
        cr_expect(slots[r].done, "rank %d did not finish", r);
        cr_expect(slots[r].status == RDV_EPEER ||
                      slots[r].status == RDV_ETIMEDOUT,
                  "rank %d: status %d (%s)", r, slots[r].status,
                  slots[r].msg);
        cr_expect_leq(slots[r].fail_ms, KILL_TIMEOUT_MS + 1000,
                      "rank %d took %lld ms to fail", r,
                      (long long)slots[r].fail_ms);
        cr_expect(strstr(slots[r].msg, "allreduce(ring) step ") != NULL,
                  "rank %d: %s", r, slots[r].msg);
        cr_expect(strstr(slots[r].msg, "peer 2") != NULL,
                  "rank %d does not name rank 2: %s", r, slots[r].msg);
    }
    ranks_free(slots, 4);
}

/* ---- a rank that never calls ---- */

typedef struct silent {
    int who;
    int what; /* 0 barrier, 1 allreduce, 2 broadcast from `who` */
} silent;

static int call_once(rdv_context *ctx, int rank, int n, void *arg,
                     rank_slot *me)
{
    const silent *s = arg;
    rdv_coll_options o = rdv_coll_options_default();
    int v[16] = {0};
    int64_t t0;
    int rc;

    o.timeout_ms = SILENT_TIMEOUT_MS;
    (void)n;
    if (rank == s->who) {
        usleep((SILENT_TIMEOUT_MS + 2000) * 1000);
        return 0;
    }
    t0 = ranks_now_ms();
    if (s->what == 0)
        rc = rdv_barrier(ctx, &o);
    else if (s->what == 1)
        rc = rdv_allreduce(ctx, v, v, 16, RDV_INT32, RDV_SUM, &o);
    else
        rc = rdv_broadcast(ctx, v, 16, RDV_INT32, s->who, &o);
    me->fail_ms = ranks_now_ms() - t0;
    snprintf(me->msg, sizeof me->msg, "%s", rdv_context_errmsg(ctx));
    return rc;
}

/* direct: the rank that waits on the silent one itself and must time
 * out (-1: all); the others may also see a survivor give up first. */
static void run_silent(int n, int who, int what, int direct)
{
    ranks_spec s = {.n = n, .mesh = MESH_SOCKETPAIR, .timeout_ms = 30000,
                    .supervise_ms = 60000};
    silent arg = {.who = who, .what = what};
    char name[32];
    int hung;
    rank_slot *slots = ranks_run(&s, call_once, &arg, &hung);

    cr_assert_not_null(slots);
    cr_expect_eq(hung, 0);
    snprintf(name, sizeof name, "peer %d", who);
    for (int r = 0; r < n; r++) {
        if (r == who)
            continue;
        cr_log_info("rank %d after %lld ms: %s", r,
                    (long long)slots[r].fail_ms, slots[r].msg);
        /* A rank waiting on the silent one times out; one waiting on a
         * rank that already gave up and exited may see it go first. */
        if (direct < 0 || r == direct)
            cr_expect_eq(slots[r].status, RDV_ETIMEDOUT, "rank %d: %d (%s)",
                         r, slots[r].status, slots[r].msg);
        else
            cr_expect(slots[r].status == RDV_ETIMEDOUT ||
                          slots[r].status == RDV_EPEER,
                      "rank %d: %d (%s)", r, slots[r].status, slots[r].msg);
        if (slots[r].status == RDV_ETIMEDOUT)
            cr_expect_geq(slots[r].fail_ms, SILENT_TIMEOUT_MS - 5);
        cr_expect_leq(slots[r].fail_ms, SILENT_TIMEOUT_MS + 1000,
                      "rank %d took %lld ms", r, (long long)slots[r].fail_ms);
        if (direct < 0 || r == direct)
            cr_expect(strstr(slots[r].msg, "timed out after") != NULL,
                      "rank %d: %s", r, slots[r].msg);
        cr_expect(strstr(slots[r].msg, name) != NULL,
                  "rank %d does not name %s: %s", r, name, slots[r].msg);
    }
    ranks_free(slots, n);
}

Test(collectives_failures, silent_rank_barrier, .timeout = 60)
{
    run_silent(3, 2, 0, -1);
}

Test(collectives_failures, silent_rank_allreduce_pair, .timeout = 60)
{
    run_silent(2, 1, 1, -1);
}

Test(collectives_failures, silent_root_broadcast, .timeout = 60)
{
    run_silent(3, 1, 2, -1);
}

Test(collectives_failures, silent_rank_allreduce_four, .timeout = 60)
{
    /* recursive doubling: rank 2 pairs with rank 3 in the first step */
    run_silent(4, 3, 1, 2);
}

/* ---- bad arguments ---- */

static rdv_context *solo(void)
{
    rdv_context *ctx = ranks_solo(RDV_TIMEOUT_DEFAULT);

    cr_assert_not_null(ctx);
    return ctx;
}

static void expect_einval(int rc, rdv_context *ctx, const char *words)
{
    cr_expect_eq(rc, RDV_EINVAL, "got %d: %s", rc, rdv_context_errmsg(ctx));
    cr_expect(strstr(rdv_context_errmsg(ctx), words) != NULL,
              "\"%s\" not in \"%s\"", words, rdv_context_errmsg(ctx));
    cr_expect_eq(rdv_barrier(ctx, NULL), RDV_ESTATE);
    rdv_context_destroy(ctx);
}

Test(collectives_failures, bad_arguments)
{
    rdv_context *c;
    int x[4] = {0};
    rdv_coll_options bad_algo = rdv_coll_options_default();

    bad_algo.algo = RDV_ALGO_CHAIN;
    cr_expect_eq(rdv_barrier(NULL, NULL), RDV_EINVAL);
    c = solo();
    expect_einval(rdv_allreduce(c, NULL, x, 4, RDV_INT32, RDV_SUM, NULL), c,
                  "allreduce: sendbuf is NULL with count 4");
    c = solo();
    expect_einval(rdv_allreduce(c, x, NULL, 4, RDV_INT32, RDV_SUM, NULL), c,
                  "recvbuf is NULL");
    c = solo();
    expect_einval(rdv_broadcast(c, x, 4, RDV_INT32, 1, NULL), c,
                  "broadcast: root 1 is not a rank");
    c = solo();
    expect_einval(rdv_broadcast(c, x, 4, RDV_INT32, -1, NULL), c, "root -1");
    c = solo();
    expect_einval(rdv_broadcast(c, NULL, 4, RDV_INT32, 0, NULL), c,
                  "broadcast: buf is NULL with count 4");
    c = solo();
    expect_einval(rdv_allgather(c, x, x, 1, (rdv_dtype)9, NULL), c,
                  "allgather: unknown dtype 9");
    c = solo();
    expect_einval(rdv_reduce_scatter(c, x, x, 4, RDV_INT32, (rdv_op)7, NULL),
                  c, "reduce_scatter: unknown op 7");
    c = solo();
    expect_einval(rdv_allreduce(c, x, x, 4, RDV_INT32, RDV_SUM, &bad_algo),
                  c, "algorithm chain is not available for allreduce");
    /* NULL buffers are fine with count 0 */
    c = solo();
    cr_expect_eq(rdv_allreduce(c, NULL, NULL, 0, RDV_FLOAT, RDV_MAX, NULL),
                 RDV_OK);
    cr_expect_eq(rdv_broadcast(c, NULL, 0, RDV_FLOAT, 0, NULL), RDV_OK);
    rdv_context_destroy(c);
}

Test(collectives_failures, names)
{
    cr_expect_str_eq(rdv_dtype_name(RDV_INT64), "int64");
    cr_expect_str_eq(rdv_op_name(RDV_PROD), "prod");
    cr_expect_str_eq(rdv_algo_name(RDV_ALGO_HALVING_DOUBLING),
                     "halving-doubling");
    cr_expect_null(rdv_op_name((rdv_op)42));
    cr_expect_eq(rdv_dtype_size(RDV_DOUBLE), 8);
    cr_expect_eq(rdv_dtype_size((rdv_dtype)-1), 0);
}
