/*
 * test_matrix.c - every collective x type x op x count, on N forked
 * ranks for N in {1, 2, 3, 4, 5, 8}, one fork per N.
 *
 * Each rank runs the same list of calls, checks every output against
 * closed-form values (values.c) and records a digest of it; the parent
 * then requires the digests of allreduce, broadcast and allgather to be
 * identical on every rank (bit-identical floats). Counts are 0, 1, 7
 * and 4096 for everything, and 1M elements for the calls where size
 * matters (sum allreduce, reduce_scatter, allgather, broadcast per type,
 * halving-doubling and recursive doubling once each). RDV_TEST_SHRINK=1
 * drops the 1M cases and N=8 for valgrind. Odd N run over socketpairs,
 * N=2 over loopback TCP pairs made by the parent, N=4 and 8 over the
 * real rendezvous (hash:?shared=1, 127.0.0.1), so every kind of mesh is
 * exercised.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ranks.h"
#include "rdv/collectives.h"
#include "values.h"

#define BIG (1u << 20)
#define BARRIERS 8

typedef struct job {
    uint64_t seed;
    atomic_int *arrived; /* shared: one counter per barrier */
} job;

typedef struct call {
    rdv_context *ctx;
    int rank, n;
    uint64_t seed;
    rank_slot *me;
    int busy; /* busy_poll option */
    char what[160];
} call;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        abort();
    memset(p, 0xa5, n ? n : 1);
    return p;
}

static int fail(call *c, int rc, const char *why)
{
    rank_note(c->me, "%s: %s", c->what,
              rc ? rdv_context_errmsg(c->ctx) : why);
    return 1;
}

static void digest(call *c, const void *buf, size_t bytes)
{
    if (c->me->ndigest < RANKS_DIGESTS)
        c->me->digest[c->me->ndigest++] = values_digest(buf, bytes);
}

static int do_allreduce(call *c, rdv_dtype t, rdv_op op, size_t count,
                        rdv_algo algo, int inplace)
{
    size_t es = rdv_dtype_size(t), bytes = count * es;
    char *in = xmalloc(bytes), *out = inplace ? in : xmalloc(bytes);
    char why[256] = "";
    rdv_coll_options o = rdv_coll_options_default();
    int rc, bad;

    o.algo = algo;
    o.busy_poll = c->busy;
    snprintf(c->what, sizeof c->what, "allreduce(%s) %s %s count %zu %s%s",
             rdv_algo_name(algo), rdv_dtype_name(t), rdv_op_name(op), count,
             inplace ? "in-place" : "out-of-place",
             c->busy ? " busy-poll" : "");
    values_fill(in, t, op, c->seed, c->rank, 0, count);
    rc = rdv_allreduce(c->ctx, in, out, count, t, op, &o);
    bad = rc || values_check_reduced(out, t, op, c->seed, c->n, 0, count,
                                     why, sizeof why);
    if (!bad && !inplace)
        bad = values_check_input(in, t, op, c->seed, c->rank, 0, count, why,
                                 sizeof why);
    if (!bad)
        digest(c, out, bytes);
    if (out != in)
        free(out);
    free(in);
    return bad ? fail(c, rc, why) : 0;
}

static int do_reduce_scatter(call *c, rdv_dtype t, rdv_op op, size_t count)
{
    size_t es = rdv_dtype_size(t), q = count / (size_t)c->n;
    size_t rem = count % (size_t)c->n, r = (size_t)c->rank;
    size_t off = r * q + (r < rem ? r : rem), len = q + (r < rem);
    char *in = xmalloc(count * es), *out = xmalloc(len * es);
    char why[256] = "";
    int rc, bad;

    snprintf(c->what, sizeof c->what, "reduce_scatter %s %s count %zu",
             rdv_dtype_name(t), rdv_op_name(op), count);
    values_fill(in, t, op, c->seed, c->rank, 0, count);
    rc = rdv_reduce_scatter(c->ctx, in, out, count, t, op, NULL);
    bad = rc || values_check_reduced(out, t, op, c->seed, c->n, off, len,
                                     why, sizeof why);
    if (!bad)
        bad = values_check_input(in, t, op, c->seed, c->rank, 0, count, why,
                                 sizeof why);
    free(out);
    free(in);
    return bad ? fail(c, rc, why) : 0;
}

/* inplace: the input already sits at recvbuf + rank * count. */
static int do_allgather(call *c, rdv_dtype t, size_t count, int inplace)
{
    size_t es = rdv_dtype_size(t);
    char *in = xmalloc(count * es), *out = xmalloc(count * es * c->n);
    char why[256] = "";
    const void *send = in;
    int rc, bad;

    snprintf(c->what, sizeof c->what, "allgather %s count %zu%s",
             rdv_dtype_name(t), count, inplace ? " in-place" : "");
    values_fill(in, t, RDV_SUM, c->seed, c->rank, 0, count);
    if (inplace) {
        send = out + (size_t)c->rank * count * es;
        memcpy(out + (size_t)c->rank * count * es, in, count * es);
    }
    rc = rdv_allgather(c->ctx, send, out, count, t, NULL);
    bad = rc;
    for (int b = 0; b < c->n && !bad; b++)
        bad = values_check_input(out + (size_t)b * count * es, t, RDV_SUM,
                                 c->seed, b, 0, count, why, sizeof why);
    if (!bad)
        digest(c, out, count * es * c->n);
    free(out);
    free(in);
    return bad ? fail(c, rc, why) : 0;
}

static int do_broadcast(call *c, rdv_dtype t, size_t count, int root,
                        rdv_algo algo)
{
    size_t es = rdv_dtype_size(t);
    char *buf = xmalloc(count * es);
    char why[256] = "";
    rdv_coll_options o = rdv_coll_options_default();
    int rc, bad;

    o.algo = algo;
    o.busy_poll = c->busy;
    snprintf(c->what, sizeof c->what, "broadcast(%s) %s count %zu root %d%s",
             rdv_algo_name(algo), rdv_dtype_name(t), count, root,
             c->busy ? " busy-poll" : "");
    if (c->rank == root)
        values_fill(buf, t, RDV_MAX, c->seed, root, 0, count);
    rc = rdv_broadcast(c->ctx, buf, count, t, root, &o);
    bad = rc || values_check_input(buf, t, RDV_MAX, c->seed, root, 0, count,
                                   why, sizeof why);
    if (!bad)
        digest(c, buf, count * es);
    free(buf);
    return bad ? fail(c, rc, why) : 0;
}

static int do_barriers(call *c, atomic_int *arrived)
{
    for (int i = 0; i < BARRIERS; i++) {
        int rc;
        snprintf(c->what, sizeof c->what, "barrier %d", i);
        atomic_fetch_add(&arrived[i], 1);
        rc = rdv_barrier(c->ctx, NULL);
        if (rc)
            return fail(c, rc, "");
        if (atomic_load(&arrived[i]) != c->n)
            return fail(c, 0, "left before every rank arrived");
    }
    return 0;
}

static int small_cases(call *c, rdv_dtype t, size_t count)
{
    static const rdv_algo ar[] = {RDV_ALGO_AUTO, RDV_ALGO_RING,
                                  RDV_ALGO_HALVING_DOUBLING,
                                  RDV_ALGO_RECURSIVE_DOUBLING};
    static const rdv_algo bc[] = {RDV_ALGO_AUTO, RDV_ALGO_BINOMIAL,
                                  RDV_ALGO_CHAIN};
    int bad = 0;

    for (int op = RDV_SUM; op <= RDV_MAX && !bad; op++) {
        for (int a = 0; a < 4 && !bad; a++)
            for (int inplace = 0; inplace < 2 && !bad; inplace++)
                bad = do_allreduce(c, t, (rdv_op)op, count, ar[a], inplace);
        if (!bad)
            bad = do_reduce_scatter(c, t, (rdv_op)op, count);
    }
    for (int inplace = 0; inplace < 2 && !bad; inplace++)
        bad = do_allgather(c, t, count, inplace);
    for (int a = 0; a < 3 && !bad; a++)
        bad = do_broadcast(c, t, count, (int)((count + (size_t)a) % c->n),
                           bc[a]);
    return bad;
}

static int big_cases(call *c, rdv_dtype t)
{
    int bad = do_allreduce(c, t, RDV_SUM, BIG, RDV_ALGO_AUTO, 0);

    if (!bad)
        bad = do_reduce_scatter(c, t, RDV_SUM, BIG);
    if (!bad)
        bad = do_allgather(c, t, BIG / (size_t)c->n, 0);
    if (!bad)
        bad = do_broadcast(c, t, BIG, c->n - 1, RDV_ALGO_AUTO);
    if (!bad && t == RDV_FLOAT)
        bad = do_allreduce(c, t, RDV_SUM, BIG + 3, RDV_ALGO_HALVING_DOUBLING,
                           1);
    if (!bad && t == RDV_DOUBLE)
        bad = do_allreduce(c, t, RDV_SUM, BIG / 4, RDV_ALGO_RECURSIVE_DOUBLING,
                           0);
    return bad;
}

static int matrix_rank(rdv_context *ctx, int rank, int n, void *arg,
                       rank_slot *me)
{
    static const size_t counts[] = {0, 1, 7, 4096};
    job *j = arg;
    call c = {.ctx = ctx, .rank = rank, .n = n, .seed = j->seed, .me = me};
    int bad = do_barriers(&c, j->arrived);

    for (int t = RDV_INT32; t <= RDV_DOUBLE && !bad; t++) {
        for (size_t k = 0; k < 4 && !bad; k++)
            bad = small_cases(&c, (rdv_dtype)t,
                              ranks_shrunk() && counts[k] > 300 ? 300
                                                                : counts[k]);
        if (!bad && !ranks_shrunk())
            bad = big_cases(&c, (rdv_dtype)t);
    }
    /* the opt-in busy-poll mode takes the same paths */
    c.busy = 1;
    if (!bad)
        bad = small_cases(&c, RDV_FLOAT, 4096);
    if (!bad && !ranks_shrunk())
        bad = do_allreduce(&c, RDV_DOUBLE, RDV_SUM, BIG, RDV_ALGO_RING, 0);
    return bad;
}

static void run_matrix(int n)
{
    ranks_spec s = {.n = n,
                    .mesh = n % 2   ? MESH_SOCKETPAIR
                            : n > 2 ? MESH_RENDEZVOUS
                                    : MESH_TCP,
                    .timeout_ms = 60000, .supervise_ms = 300000};
    job j = {.seed = 0x5eed0000u + (uint64_t)n};
    int hung;
    rank_slot *slots;

    if (ranks_shrunk() && n > 5)
        cr_skip_test("RDV_TEST_SHRINK: N=%d skipped", n);
    j.arrived = mmap(NULL, sizeof(atomic_int) * BARRIERS,
                     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                     0);
    cr_assert_neq(j.arrived, MAP_FAILED);
    memset(j.arrived, 0, sizeof(atomic_int) * BARRIERS);
    slots = ranks_run(&s, matrix_rank, &j, &hung);
    cr_assert_not_null(slots);
    cr_expect_eq(hung, 0, "%d ranks hung", hung);
    for (int r = 0; r < n; r++) {
        cr_expect(slots[r].done && slots[r].status == 0, "rank %d: %s", r,
                  slots[r].msg[0] ? slots[r].msg : "did not finish");
        cr_expect_eq(slots[r].ndigest, slots[0].ndigest,
                     "rank %d ran %d calls, rank 0 %d", r, slots[r].ndigest,
                     slots[0].ndigest);
        for (int k = 0; k < slots[0].ndigest && k < slots[r].ndigest; k++)
            if (slots[r].digest[k] != slots[0].digest[k]) {
                cr_expect_fail("rank %d's output of call %d differs from "
                               "rank 0's (not bit-identical)",
                               r, k);
                break;
            }
    }
    ranks_free(slots, n);
    munmap(j.arrived, sizeof(atomic_int) * BARRIERS);
}

Test(collectives_matrix, n1, .timeout = 600) { run_matrix(1); }
Test(collectives_matrix, n2, .timeout = 600) { run_matrix(2); }
Test(collectives_matrix, n3, .timeout = 600) { run_matrix(3); }
Test(collectives_matrix, n4, .timeout = 600) { run_matrix(4); }
Test(collectives_matrix, n5, .timeout = 600) { run_matrix(5); }
Test(collectives_matrix, n8, .timeout = 600) { run_matrix(8); }
