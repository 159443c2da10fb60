/*
 * test_try_once.c - a timeout of 0 tries once in the collectives too.
 *
 *  - with rdv_coll_options.timeout_ms = 0, or a context created with
 *    timeout 0 and NULL options, a collective whose peer has not sent
 *    fails with RDV_ETIMEDOUT within timeout + 1 s (so: under 1 s);
 *  - a try-once barrier whose peer's byte is already in the socket
 *    completes, and so does anything that moves no bytes (size 1,
 *    count 0);
 *  - RDV_TIMEOUT_DEFAULT in the options and in the context means the
 *    context's timeout and RDV_CONTEXT_TIMEOUT_MS.
 * Two ranks over a socketpair; rank 1 never enters the failing calls
 * and leaves once rank 0 has given up and closed its end.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "context_internal.h"
#include "ranks.h"
#include "rdv/collectives.h"

#define PATIENCE_MS 10000 /* how long a rank waits on the other's bytes */

/* Until bytes (or EOF) from peer are readable on the socket. */
static int peer_readable(rdv_context *ctx, int peer)
{
    struct pollfd p = {
        .fd = rdv_transport_peer_fd(rdv_context_transport(ctx), peer),
        .events = POLLIN};

    return poll(&p, 1, PATIENCE_MS) == 1;
}

/* Until peer has closed its end (its ABORT read and dropped): leaving
 * earlier would end rank 0's wait with EOF instead of its timeout. */
static int peer_gone(rdv_context *ctx, int peer)
{
    int fd = rdv_transport_peer_fd(rdv_context_transport(ctx), peer);
    char buf[512];

    while (peer_readable(ctx, peer))
        if (read(fd, buf, sizeof buf) <= 0)
            return 1;
    return 0;
}

/* arg: the options rank 0 calls with (NULL = none). Rank 1 stays out. */
static int gives_up(rdv_context *ctx, int rank, int n, void *arg,
                    rank_slot *me)
{
    int64_t t0 = ranks_now_ms();
    int v[4] = {1, 2, 3, 4}, rc;

    (void)n;
    if (rank == 1)
        return peer_gone(ctx, 0) ? RDV_OK : RDV_ETIMEDOUT;
    rc = rdv_allreduce(ctx, v, v, 4, RDV_INT32, RDV_SUM, arg);
    me->fail_ms = ranks_now_ms() - t0;
    snprintf(me->msg, sizeof me->msg, "%s", rdv_context_errmsg(ctx));
    return rc;
}

static void expect_gives_up(int context_timeout_ms,
                            const rdv_coll_options *o)
{
    ranks_spec s = {.n = 2, .mesh = MESH_SOCKETPAIR,
                    .timeout_ms = context_timeout_ms, .supervise_ms = 30000};
    int hung;
    rank_slot *slots = ranks_run(&s, gives_up, (void *)o, &hung);

    cr_assert_not_null(slots);
    cr_expect_eq(hung, 0);
    cr_log_info("rank 0 after %lld ms: %s", (long long)slots[0].fail_ms,
                slots[0].msg);
    cr_expect_eq(slots[0].status, RDV_ETIMEDOUT, "%s",
                 rdv_status_name(slots[0].status));
    cr_expect_leq(slots[0].fail_ms, 1000, "try once took %lld ms",
                  (long long)slots[0].fail_ms);
    cr_expect(strstr(slots[0].msg, "timed out") &&
                  strstr(slots[0].msg, "peer 1"),
              "%s", slots[0].msg);
    cr_expect_eq(slots[1].status, RDV_OK, "rank 1 never saw rank 0 leave");
    ranks_free(slots, 2);
}

Test(try_once, option_zero_times_out_promptly, .timeout = 60)
{
    rdv_coll_options o = rdv_coll_options_default();

    o.timeout_ms = 0;
    expect_gives_up(30000, &o);
}

Test(try_once, context_zero_makes_the_default_try_once, .timeout = 60)
{
    expect_gives_up(0, NULL);
}

Test(try_once, explicit_default_is_the_contexts_zero, .timeout = 60)
{
    rdv_coll_options o = rdv_coll_options_default();

    cr_expect_eq(o.timeout_ms, RDV_TIMEOUT_DEFAULT);
    expect_gives_up(0, &o);
}

/* Rank 1 enters with the default timeout and sends its byte; rank 0
 * tries once only after that byte is in its socket. */
static int byte_is_there(rdv_context *ctx, int rank, int n, void *arg,
                         rank_slot *me)
{
    rdv_coll_options once = rdv_coll_options_default();
    int rc;

    (void)n;
    (void)arg;
    once.timeout_ms = 0;
    if (rank == 0 && !peer_readable(ctx, 1))
        return RDV_ETIMEDOUT;
    rc = rdv_barrier(ctx, rank == 0 ? &once : NULL);
    /* nothing to move: complete on the one look */
    if (rc == RDV_OK)
        rc = rdv_allreduce(ctx, NULL, NULL, 0, RDV_INT32, RDV_SUM, &once);
    snprintf(me->msg, sizeof me->msg, "%s", rdv_context_errmsg(ctx));
    return rc;
}

Test(try_once, completes_when_the_data_is_there, .timeout = 60)
{
    ranks_spec s = {.n = 2, .mesh = MESH_SOCKETPAIR, .timeout_ms = 30000,
                    .supervise_ms = 30000};
    int hung;
    rank_slot *slots = ranks_run(&s, byte_is_there, NULL, &hung);

    cr_assert_not_null(slots);
    cr_expect_eq(hung, 0);
    for (int r = 0; r < 2; r++)
        cr_expect_eq(slots[r].status, RDV_OK, "rank %d: %d: %s", r,
                     slots[r].status, slots[r].msg);
    ranks_free(slots, 2);
}

Test(try_once, size_one_completes)
{
    rdv_coll_options once = rdv_coll_options_default();
    rdv_context *ctx = ranks_solo(0);
    int v = 7;

    cr_assert_not_null(ctx);
    cr_expect_eq(rdv_context_timeout_ms(ctx), 0);
    once.timeout_ms = 0;
    cr_expect_eq(rdv_barrier(ctx, &once), RDV_OK);
    cr_expect_eq(rdv_allreduce(ctx, &v, &v, 1, RDV_INT32, RDV_SUM, NULL),
                 RDV_OK, "%s", rdv_context_errmsg(ctx));
    cr_expect_eq(v, 7);
    rdv_context_destroy(ctx);
}

Test(try_once, context_default_is_named)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    char err[256];

    cr_expect_eq(o.timeout_ms, RDV_CONTEXT_TIMEOUT_MS);
    o.timeout_ms = RDV_TIMEOUT_DEFAULT;
    cr_assert_eq(rdv_context_create(&o, &ctx, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_expect_eq(rdv_context_timeout_ms(ctx), RDV_CONTEXT_TIMEOUT_MS);
    rdv_context_destroy(ctx);
    o.timeout_ms = RDV_TIMEOUT_NONE;
    cr_assert_eq(rdv_context_create(&o, &ctx, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_expect_eq(rdv_context_timeout_ms(ctx), RDV_TIMEOUT_NONE);
    rdv_context_destroy(ctx);
}
