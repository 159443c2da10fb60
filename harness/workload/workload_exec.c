/*
 * harness/workload/workload_exec.c - the collective steps of a workload.
 *
 * Each step fills its inputs from (seed, rank), calls the collective,
 * and compares every output element with the closed form from
 * workload_values.c; the first mismatch is kept as the step's note. The
 * output digest lets the parent check that ranks agree bit for bit.
 * Non-root broadcast buffers start filled with a value no input can
 * take, so a rank that never received the data cannot pass by accident.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rdv/collectives.h"
#include "rdv/clock.h"
#include "workload/workload_exec.h"
#include "workload/workload_values.h"

#define BCAST_SENTINEL 1000

/* Checks buf[0..n) against the expected elements first..first+n-1 and
 * records the verdict and the first mismatch. */
static void verify(const rdv_step *st, const rdv_step_env *env,
                   const void *buf, size_t n, size_t first,
                   rdv_expect_kind kind, int src, rdv_step_out *out)
{
    int64_t want = 0;
    size_t bad = rdv_values_check(buf, st, env->seed, env->nranks, kind, src,
                                  first, n, &want);

    if (bad < n && out->correct) {
        out->correct = 0;
        snprintf(out->note, sizeof out->note, "rank %d: %s: element %zu%s "
                 "is %.17g, expected %lld", env->rank, st->name, first + bad,
                 kind == RDV_EXPECT_INPUT ? " from its source rank" : "",
                 rdv_value_load(buf, st->type, bad), (long long)want);
    }
}

static int fail_step(const rdv_step *st, int rc, const char *why,
                     char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s: %s", st->name, rdv_status_name(rc), why);
    return rc;
}

/* ---- one collective, through librdv or env->ops ----------------------
 * Each leaves the implementation's words about a failure in why. */

#define WHY_MAX RDV_DETAIL_MAX

static int lib_said(const rdv_step_env *env, int rc, char *why)
{
    if (rc)
        snprintf(why, WHY_MAX, "%s", rdv_context_errmsg(env->ctx));
    return rc;
}

static int coll_barrier(const rdv_step_env *env, const rdv_coll_options *o,
                        char *why)
{
    if (env->ops)
        return env->ops->barrier(env->ops_arg, why, WHY_MAX);
    return lib_said(env, rdv_barrier(env->ctx, o), why);
}

int rdv_step_barrier(const rdv_step_env *env, char *why, size_t whylen)
{
    char said[WHY_MAX] = "";
    int rc = coll_barrier(env, NULL, said);

    snprintf(why, whylen, "%s", said);
    return rc;
}

int rdv_step_sum(const rdv_step_env *env, int64_t *v, char *why,
                 size_t whylen)
{
    char said[WHY_MAX] = "";
    int64_t mine = *v;
    int rc = env->ops ? env->ops->allreduce(env->ops_arg, &mine, v, 1,
                                            RDV_INT64, RDV_SUM, said,
                                            WHY_MAX)
                      : lib_said(env, rdv_allreduce(env->ctx, &mine, v, 1,
                                                    RDV_INT64, RDV_SUM,
                                                    NULL),
                                 said);

    snprintf(why, whylen, "%s", said);
    return rc;
}

static int coll_reduce(const rdv_step *st, const rdv_step_env *env,
                       const rdv_coll_options *o, const void *send,
                       void *recv, char *why)
{
    int rs = st->kind == RDV_STEP_REDUCE_SCATTER;

    if (env->ops && rs && !env->ops->reduce_scatter) {
        snprintf(why, WHY_MAX, "%s offers no reduce_scatter",
                 env->ops->name);
        return RDV_ENOTSUP;
    }
    if (env->ops && rs)
        return env->ops->reduce_scatter(env->ops_arg, send, recv, st->count,
                                        st->type, st->op, why, WHY_MAX);
    if (env->ops)
        return env->ops->allreduce(env->ops_arg, send, recv, st->count,
                                   st->type, st->op, why, WHY_MAX);
    if (rs)
        return lib_said(env, rdv_reduce_scatter(env->ctx, send, recv,
                                                st->count, st->type, st->op,
                                                o), why);
    return lib_said(env, rdv_allreduce(env->ctx, send, recv, st->count,
                                       st->type, st->op, o), why);
}

static int coll_broadcast(const rdv_step *st, const rdv_step_env *env,
                          const rdv_coll_options *o, void *buf, char *why)
{
    if (env->ops)
        return env->ops->broadcast(env->ops_arg, buf, st->count, st->type,
                                   st->root, why, WHY_MAX);
    return lib_said(env, rdv_broadcast(env->ctx, buf, st->count, st->type,
                                       st->root, o), why);
}

static int coll_allgather(const rdv_step *st, const rdv_step_env *env,
                          const rdv_coll_options *o, const void *send,
                          void *recv, char *why)
{
    if (env->ops)
        return env->ops->allgather(env->ops_arg, send, recv, st->count,
                                   st->type, why, WHY_MAX);
    return lib_said(env, rdv_allgather(env->ctx, send, recv, st->count,
                                       st->type, o), why);
}

/* The block of a count-element vector that rank r gets from
 * reduce_scatter (rdv/collectives.h: count / size, one more if r <
 * count % size). */
static void scatter_block(size_t count, int nranks, int r, size_t *first,
                          size_t *n)
{
    size_t base = count / (size_t)nranks, extra = count % (size_t)nranks;
    size_t ur = (size_t)r;

    *n = base + (ur < extra ? 1 : 0);
    *first = ur * base + (ur < extra ? ur : extra);
}

static int run_reduce(const rdv_step *st, const rdv_step_env *env,
                      const rdv_coll_options *o, void *send, void *recv,
                      rdv_step_out *out, char *why)
{
    size_t first = 0, n = st->count;
    int rc;

    rdv_values_fill(send, st, env->seed, env->rank, env->nranks, st->count);
    if (st->kind == RDV_STEP_REDUCE_SCATTER)
        scatter_block(st->count, env->nranks, env->rank, &first, &n);
    rc = coll_reduce(st, env, o, send, recv, why);
    if (rc == RDV_OK) {
        out->correct = 1;
        verify(st, env, recv, n, first, RDV_EXPECT_REDUCED, 0, out);
        out->digest = rdv_digest(recv, n * rdv_dtype_size(st->type));
    }
    return rc;
}

static int run_broadcast(const rdv_step *st, const rdv_step_env *env,
                         const rdv_coll_options *o, void *buf,
                         rdv_step_out *out, char *why)
{
    int rc;

    if (env->rank == st->root)
        rdv_values_fill(buf, st, env->seed, env->rank, env->nranks,
                        st->count);
    else
        rdv_values_set_all(buf, st->type, st->count, BCAST_SENTINEL);
    rc = coll_broadcast(st, env, o, buf, why);
    if (rc == RDV_OK) {
        out->correct = 1;
        verify(st, env, buf, st->count, 0, RDV_EXPECT_INPUT, st->root, out);
        out->digest = rdv_digest(buf, st->count * rdv_dtype_size(st->type));
    }
    return rc;
}

static int run_allgather(const rdv_step *st, const rdv_step_env *env,
                         const rdv_coll_options *o, void *send, void *recv,
                         rdv_step_out *out, char *why)
{
    size_t es = rdv_dtype_size(st->type);
    size_t total = st->count * (size_t)env->nranks;
    int rc;

    rdv_values_fill(send, st, env->seed, env->rank, env->nranks, st->count);
    rc = coll_allgather(st, env, o, send, recv, why);
    if (rc != RDV_OK)
        return rc;
    out->correct = 1;
    for (int r = 0; r < env->nranks; r++)
        verify(st, env, (const char *)recv + (size_t)r * st->count * es,
               st->count, 0, RDV_EXPECT_INPUT, r, out);
    out->digest = rdv_digest(recv, total * es);
    return rc;
}

/* Step buffers. Large ones are mapped directly and asked for huge pages:
 * a 4 MiB buffer then costs two page faults instead of a thousand, and
 * every rank of every run fills one. */
#define HUGE_MIN (2u << 20)
#define PAGE 4096u

/* Faults in the pages of [p, p + len) with one madvise instead of a trap
 * per page (a rank is a fresh fork; on a VM a trap costs about 9 µs a
 * page, the madvise half that, and a page already there only its walk).
 * The rank's heap is never trimmed (run/rank.c), so a page a step
 * populated is there for every later step. Where the library's own
 * blocks land between steps (its transport buffers grow as messages
 * do) decides where the next step's buffers go, so each buffer is
 * populated where it is rather than a guess up front. A kernel without
 * MADV_POPULATE_WRITE (before 5.14) leaves it to the traps. */
void rdv_step_populate(void *p, size_t len)
{
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + len + PAGE - 1) & ~(uintptr_t)(PAGE - 1);

    if (len >= PAGE)
        madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
}

/* Large buffers start on a 2 MiB boundary (mapped with room to spare,
 * the ends trimmed) so that every whole huge page in them can be one. */
void *rdv_step_buf_alloc(size_t len)
{
    size_t span, head;
    char *p;

    if (len < HUGE_MIN) {
        if ((p = malloc(len)))
            rdv_step_populate(p, len);
        return p;
    }
    len = (len + 4095) & ~(size_t)4095; /* the tail trim must be aligned */
    span = len + HUGE_MIN;
    p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    head = (HUGE_MIN - (uintptr_t)p % HUGE_MIN) % HUGE_MIN;
    if (head)
        munmap(p, head);
    munmap(p + head + len, span - head - len);
    madvise(p + head, len, MADV_HUGEPAGE); /* a hint: fine if refused */
    return p + head;
}

/* The lengths of st's send and receive buffers (a spare byte each). A
 * broadcast works in place, in its send buffer. */
static void buf_lens(const rdv_step *st, int nranks, size_t *send,
                     size_t *recv)
{
    size_t es = rdv_dtype_size(st->type);
    size_t nrecv = st->kind == RDV_STEP_ALLGATHER ? st->count * (size_t)nranks
                   : st->kind == RDV_STEP_BROADCAST ? 0
                                                    : st->count;

    *send = st->count * es + 1;
    *recv = nrecv * es + 1;
}

size_t rdv_workload_heap_bytes(const rdv_workload *w, int nranks)
{
    size_t most = 0;

    for (int i = 0; i < w->nsteps; i++) {
        size_t send, recv, heap;

        if (w->steps[i].kind == RDV_STEP_STORE)
            continue; /* its values are the store's to allocate */
        buf_lens(&w->steps[i], nranks, &send, &recv);
        heap = (send < HUGE_MIN ? send : 0) + (recv < HUGE_MIN ? recv : 0);
        most = heap > most ? heap : most;
    }
    return most;
}

void rdv_step_buf_free(void *p, size_t len)
{
    if (len < HUGE_MIN)
        free(p);
    else if (p)
        munmap(p, len);
}

/* Never returns: the supervisor's deadline is what ends this rank. */
static void spin_forever(void)
{
    for (;;)
        pause();
}

int rdv_step_run(const rdv_step *st, const rdv_step_env *env,
                 rdv_step_out *out, char *err, size_t errlen)
{
    rdv_coll_options o = rdv_coll_options_default();
    size_t send_len, recv_len;
    void *send = NULL, *recv = NULL;
    char why[WHY_MAX] = "";
    int rc = RDV_OK;

    o.algo = st->algo;
    if (st->kind == RDV_STEP_STORE)
        return rdv_step_run_store(st, env, out, err, errlen);
    if (st->kind == RDV_STEP_SPIN && (st->root < 0 || st->root == env->rank))
        spin_forever();
    buf_lens(st, env->nranks, &send_len, &recv_len);
    send = rdv_step_buf_alloc(send_len);
    recv = rdv_step_buf_alloc(recv_len);
    if (!send || !recv) {
        rc = RDV_ENOMEM;
        snprintf(err, errlen, "%s: out of memory for %zu elements",
                 st->name, ((send_len > recv_len ? send_len : recv_len) - 1) /
                               rdv_dtype_size(st->type));
        goto done;
    }
    out->t_enter_ns = rdv_now_ns();
    switch (st->kind) {
    case RDV_STEP_BARRIER:
    case RDV_STEP_SPIN: /* the ranks that do not spin wait for it here */
        rc = coll_barrier(env, &o, why);
        out->correct = 1;
        break;
    case RDV_STEP_ALLREDUCE:
    case RDV_STEP_REDUCE_SCATTER:
        rc = run_reduce(st, env, &o, send, recv, out, why);
        break;
    case RDV_STEP_BROADCAST:
        rc = run_broadcast(st, env, &o, send, out, why);
        break;
    case RDV_STEP_ALLGATHER:
        rc = run_allgather(st, env, &o, send, recv, out, why);
        break;
    case RDV_STEP_STORE:
        break;
    }
    out->t_exit_ns = rdv_now_ns();
    out->ran = rc == RDV_OK;
    if (rc)
        fail_step(st, rc, why, err, errlen);
done:
    rdv_step_buf_free(send, send_len);
    rdv_step_buf_free(recv, recv_len);
    return rc;
}
