/*
 * test_exchange.c - the record-exchange seam (rdv/exchange.h) as an
 * outside bootstrap sees it: this file uses only the public headers and
 * links the shared librdv. The exchange is a "board" in a shared
 * mapping made before fork: each rank posts its record (or that it
 * dropped out), waits until every rank has posted, and copies the
 * records out. Forked ranks, real sockets, a real mesh:
 *   - every rank's record delivered: the mesh is up, an allreduce over
 *     it is right, the exchange ran exactly once per rank, no store;
 *   - a rank whose bind value is no address drops out: the exchange is
 *     still called there (without a record), so the others fail
 *     naming it instead of waiting;
 *   - records delivered in the wrong slots: RDV_EPROTO naming the slot;
 *   - an exchange that fails: its status and message, on the caller;
 *   - a job of one still takes part once; a used context drops out;
 *   - NULL arguments: RDV_EINVAL, the exchange is not called.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rdv/collectives.h"
#include "rdv/exchange.h"

#define MAXN 8

typedef struct board {
    int n;
    int swap;                /* deliver slots 1 and 2 crossed */
    int arrived;             /* ranks that posted (atomic) */
    int calls[MAXN];         /* exchange calls per rank */
    int dropped[MAXN];       /* posted without a record */
    char reason[MAXN][256];  /* the reason a rank dropped out with */
    uint8_t rec[MAXN][RDV_EXCHANGE_RECORD_SIZE];
    int status[MAXN];        /* what the connect returned */
    int sum_ok[MAXN];        /* the allreduce over the mesh was right */
    char msg[MAXN][RDV_DETAIL_MAX];
} board;

static board *board_new(int n)
{
    board *b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    cr_assert_neq(b, MAP_FAILED);
    memset(b, 0, sizeof *b);
    b->n = n;
    return b;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The exchange: post, wait for every rank (10 s), copy out. */
static int board_exchange(void *arg, const rdv_exchange *x)
{
    board *b = arg;
    int64_t deadline = now_ms() + 10000;
    const struct timespec tick = {0, 1000000};

    b->calls[x->rank]++;
    if (x->mine) {
        memcpy(b->rec[x->rank], x->mine, x->record_size);
    } else {
        b->dropped[x->rank] = 1;
        snprintf(b->reason[x->rank], sizeof b->reason[0], "%s", x->reason);
    }
    __atomic_add_fetch(&b->arrived, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&b->arrived, __ATOMIC_SEQ_CST) < b->n) {
        if (now_ms() > deadline) {
            snprintf(x->err, x->errlen, "%d of %d ranks posted in 10 s",
                     __atomic_load_n(&b->arrived, __ATOMIC_SEQ_CST), b->n);
            return RDV_ETIMEDOUT;
        }
        nanosleep(&tick, NULL);
    }
    for (int k = 0; k < b->n; k++)
        if (b->dropped[k]) {
            snprintf(x->err, x->errlen, "rank %d dropped out", k);
            return RDV_EPEER;
        }
    for (int k = 0; k < b->n; k++) {
        int from = b->swap && (k == 1 || k == 2) ? 3 - k : k;

        memcpy((uint8_t *)x->all + (size_t)k * x->record_size, b->rec[from],
               x->record_size);
    }
    return RDV_OK;
}

static rdv_context *context(int rank, int n, const char *bind)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx = NULL;
    char err[256];

    o.rank = rank;
    o.size = n;
    o.job = "exchange";
    o.bind = bind;
    o.timeout_ms = 10000;
    return rdv_context_create(&o, &ctx, err, sizeof err) == RDV_OK ? ctx
                                                                   : NULL;
}

/* One rank: connect through the board, then an allreduce of rank + 1. */
static void rank_main(board *b, int rank, const char *bind)
{
    rdv_context *ctx = context(rank, b->n, bind);
    int v = rank + 1, sum = 0;

    b->status[rank] = ctx ? rdv_context_connect_full_mesh_exchange(
                                ctx, board_exchange, b)
                          : RDV_ENOMEM;
    snprintf(b->msg[rank], sizeof b->msg[0], "%s",
             ctx ? rdv_context_errmsg(ctx) : "context not created");
    if (b->status[rank] == RDV_OK &&
        rdv_allreduce(ctx, &v, &sum, 1, RDV_INT32, RDV_SUM, NULL) == RDV_OK)
        b->sum_ok[rank] = sum == b->n * (b->n + 1) / 2;
    rdv_context_destroy(ctx);
}

/* Forks the ranks (bad_rank binds to a name that is no address) and
 * waits for them all. */
static void run_ranks(board *b, int bad_rank)
{
    pid_t pids[MAXN];

    for (int r = 0; r < b->n; r++) {
        pids[r] = fork();
        cr_assert_geq(pids[r], 0);
        if (pids[r] == 0) {
            rank_main(b, r, r == bad_rank ? "no-such-if0" : "127.0.0.1");
            exit(0);
        }
    }
    for (int r = 0; r < b->n; r++) {
        int st = 0;

        cr_assert_eq(waitpid(pids[r], &st, 0), pids[r]);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "rank %d ended with status 0x%x", r, st);
    }
}

Test(exchange, every_record_delivered, .timeout = 60)
{
    board *b = board_new(4);

    run_ranks(b, -1);
    for (int r = 0; r < b->n; r++) {
        cr_expect_eq(b->status[r], RDV_OK, "rank %d: %s: %s", r,
                     rdv_strerror(b->status[r]), b->msg[r]);
        cr_expect(b->sum_ok[r], "rank %d: allreduce over the mesh", r);
        cr_expect_eq(b->calls[r], 1, "rank %d: exchange called %d times", r,
                     b->calls[r]);
    }
    munmap(b, sizeof *b);
}

Test(exchange, a_rank_that_fails_first_drops_out, .timeout = 60)
{
    board *b = board_new(3);

    run_ranks(b, 2);
    cr_expect_eq(b->status[2], RDV_EINVAL, "rank 2: %s: %s",
                 rdv_strerror(b->status[2]), b->msg[2]);
    cr_expect(strstr(b->msg[2], "no-such-if0"), "rank 2: %s", b->msg[2]);
    cr_expect(b->dropped[2] && strstr(b->reason[2], "no-such-if0"),
              "rank 2 dropped out with reason \"%s\"", b->reason[2]);
    for (int r = 0; r < b->n; r++) {
        cr_expect_eq(b->calls[r], 1, "rank %d: exchange called %d times", r,
                     b->calls[r]);
        if (r != 2)
            cr_expect(b->status[r] == RDV_EPEER &&
                          strstr(b->msg[r], "record exchange: rank 2 "
                                            "dropped out"),
                      "rank %d: %s: %s", r, rdv_strerror(b->status[r]),
                      b->msg[r]);
    }
    munmap(b, sizeof *b);
}

Test(exchange, records_in_the_wrong_slots_are_refused, .timeout = 60)
{
    board *b = board_new(3);

    b->swap = 1;
    run_ranks(b, -1);
    for (int r = 0; r < b->n; r++)
        cr_expect(b->status[r] == RDV_EPROTO &&
                      strstr(b->msg[r], "of the record exchange"),
                  "rank %d: %s: %s", r, rdv_strerror(b->status[r]),
                  b->msg[r]);
    munmap(b, sizeof *b);
}

static int failing_exchange(void *arg, const rdv_exchange *x)
{
    (*(int *)arg)++;
    snprintf(x->err, x->errlen, "launcher gone (rank %d of %d)", x->rank,
             x->size);
    return RDV_ECONN;
}

static int positive_exchange(void *arg, const rdv_exchange *x)
{
    (void)x;
    (*(int *)arg)++;
    return 1;
}

Test(exchange, a_failed_exchange_is_the_callers_error)
{
    rdv_context *ctx = context(1, 2, "127.0.0.1");
    int calls = 0;

    cr_assert_not_null(ctx);
    cr_expect_eq(rdv_context_connect_full_mesh_exchange(ctx, failing_exchange,
                                                        &calls),
                 RDV_ECONN);
    cr_expect_eq(calls, 1);
    cr_expect_str_eq(rdv_context_errmsg(ctx), "rank 1: record exchange: "
                                              "launcher gone (rank 1 of 2)");
    cr_expect_eq(rdv_context_connect_full_mesh_exchange(ctx, failing_exchange,
                                                        &calls),
                 RDV_ESTATE, "a failed context is unusable");
    rdv_context_destroy(ctx);

    ctx = context(0, 2, "127.0.0.1");
    cr_assert_not_null(ctx);
    cr_expect_eq(rdv_context_connect_full_mesh_exchange(
                     ctx, positive_exchange, &calls),
                 RDV_EIO, "a return value that is no rdv_status");
    rdv_context_destroy(ctx);
}

Test(exchange, a_job_of_one_takes_part_once)
{
    board *b = board_new(1);
    rdv_context *ctx = context(0, 1, NULL);

    cr_assert_not_null(ctx);
    cr_expect_eq(rdv_context_connect_full_mesh_exchange(ctx, board_exchange,
                                                        b),
                 RDV_OK, "%s", rdv_context_errmsg(ctx));
    cr_expect_eq(b->calls[0], 1);
    cr_expect_eq(b->dropped[0], 0);
    /* used now: the next call drops out, the exchange still hears of it */
    b->arrived = 0;
    cr_expect_eq(rdv_context_connect_full_mesh_exchange(ctx, board_exchange,
                                                        b),
                 RDV_ESTATE);
    cr_expect_eq(b->calls[0], 2);
    cr_expect(b->dropped[0] && strstr(b->reason[0], "already connected"),
              "dropped out with reason \"%s\"", b->reason[0]);
    rdv_context_destroy(ctx);
    munmap(b, sizeof *b);
}

Test(exchange, null_arguments)
{
    rdv_context *ctx = context(0, 2, "127.0.0.1");
    int calls = 0;

    cr_assert_not_null(ctx);
    cr_expect_eq(rdv_context_connect_full_mesh_exchange(NULL,
                                                        failing_exchange,
                                                        &calls),
                 RDV_EINVAL);
    cr_expect_eq(rdv_context_connect_full_mesh_exchange(ctx, NULL, &calls),
                 RDV_EINVAL);
    cr_expect_eq(calls, 0, "the exchange was called on bad arguments");
    rdv_context_destroy(ctx);
}
