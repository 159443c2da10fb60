/*
 * collectives/coll_internal.h - what the collective algorithms share.
 *
 * A collective call is an rdv_coll: the context, the absolute deadline
 * and the name/algorithm/step that every error message carries. The
 * algorithms only move bytes through rdv_coll_post_send/recv and
 * rdv_coll_wait (the transport's post/wait, never raw sockets), so both
 * transport backends run the same code.
 *
 * Wire rule every algorithm keeps: for each ordered pair of ranks, the
 * sequence of message lengths one sends equals the sequence the other
 * receives. Zero-length messages are never put on the wire (both sides
 * skip them), so the byte streams stay in step across calls.
 */
#ifndef RDV_COLL_INTERNAL_H
#define RDV_COLL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "context_internal.h"
#include "rdv/collectives.h"
#include "rdv/transport.h"

typedef struct rdv_coll {
    rdv_context *ctx;
    rdv_transport *t;
    const char *name; /* "allreduce" */
    const char *algo; /* "ring" */
    int rank;
    int size;
    int timeout_ms;   /* as resolved, for messages */
    int64_t deadline; /* absolute CLOCK_MONOTONIC ns */
    int step;         /* 0-based; reported 1-based */
    int nsteps;
    int busy_poll;    /* spin instead of sleeping in waits */
    rdv_algo requested; /* the options' algorithm (RDV_ALGO_AUTO = none) */
} rdv_coll;

/* Starts a call: validates ctx (RDV_EINVAL when NULL), the options
 * (o may be NULL: the defaults; their struct_size as rdv_options_take()
 * checks it) and their algorithm against the `allowed` list (terminated
 * by RDV_ALGO_AUTO), checks the context is usable and resolves the
 * deadline. On success c->requested holds the options' algorithm and
 * c->algo is still "?"; the caller names it with rdv_coll_plan(). */
int rdv_coll_begin(rdv_coll *c, rdv_context *ctx, const char *name,
                   const rdv_coll_options *o, const rdv_algo *allowed);

/* Records the algorithm and the step count for messages. */
void rdv_coll_plan(rdv_coll *c, const char *algo, int nsteps);

/* Argument errors: RDV_EINVAL, "allreduce: sendbuf is NULL with count 4".
 * The context becomes unusable like after any failure, because peers may
 * already be inside the call. */
int rdv_coll_invalid(rdv_coll *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Checks the type, op (pass op < 0 to skip) and buffer arguments common
 * to the data collectives. */
int rdv_coll_check_args(rdv_coll *c, const void *sendbuf, const void *recvbuf,
                        size_t count, rdv_dtype t, int op);

/* Allocation that fails the call with RDV_ENOMEM naming what for. */
void *rdv_coll_alloc(rdv_coll *c, size_t bytes, const char *what);

/* Post one request at the current step. A zero-length request is not
 * posted: req->active stays 0 and waiting on it is a no-op. */
int rdv_coll_post_send(rdv_coll *c, rdv_request *req, int peer,
                       const void *buf, size_t len);
int rdv_coll_post_recv(rdv_coll *c, rdv_request *req, int peer, void *buf,
                       size_t len);

/* Waits for the given requests (inactive ones are ignored) until the
 * call's deadline. On failure the context is failed with a detail naming
 * the collective, algorithm, step and peer, and the status returned. */
int rdv_coll_wait(rdv_coll *c, rdv_request *const *reqs, size_t n);

/* Like rdv_coll_wait, but returns as soon as one of the requests that
 * were active is complete (check ->active to see which). Keeps a send
 * and a recv streaming without either waiting for the other. */
int rdv_coll_wait_any(rdv_coll *c, rdv_request *const *reqs, size_t n);

/* Send to one peer and receive from another (possibly the same) at the
 * current step, both in flight at once. */
int rdv_coll_sendrecv(rdv_coll *c, int to, const void *sbuf, size_t slen,
                      int from, void *rbuf, size_t rlen);

/* Block b of `count` elements split over `parts`: the first count % parts
 * blocks get one extra element. Offsets and lengths are in elements. */
void rdv_coll_block(size_t count, int parts, int b, size_t *off,
                    size_t *len);

/* (a - b) mod n for ring arithmetic on ranks. */
static inline int rdv_coll_mod(int a, int n)
{
    int m = a % n;
    return m < 0 ? m + n : m;
}

/* Number of rounds of a log-depth algorithm: ceil(log2(n)), 0 for n <= 1. */
int rdv_coll_log2_ceil(int n);

/* Reduction kernels (reduce.c): out[i] = a[i] op b[i] for n elements.
 * out may alias a or b exactly. Integer sum and prod wrap (computed in
 * the unsigned type). min/max keep a unless b compares strictly lower /
 * higher. */
void rdv_reduce_apply(void *out, const void *a, const void *b, size_t n,
                      rdv_dtype t, rdv_op op);
int rdv_dtype_valid(rdv_dtype t);
int rdv_op_valid(rdv_op op);

/* Pipeline segment size for the chunked algorithms (ring, chain), in
 * bytes, rounded to a multiple of esize. */
size_t rdv_coll_chunk_bytes(size_t esize);

/* The ring engine (ring.c): a reduce-scatter phase and/or an allgather
 * phase run as one pipeline of chunked segments, so a send to the right
 * neighbour, a recv from the left one and the reduction of the previous
 * chunk overlap. Used by reduce_scatter, allgather and allreduce(ring).
 *
 * Block b of the data is rdv_coll_block(total, size, b). After the
 * reduce-scatter phase rank r owns block r fully reduced; only the owner
 * computes a block, so the allgather phase distributes exact bits.
 */
typedef struct rdv_ring {
    size_t total;    /* elements in the full vector */
    rdv_dtype type;
    rdv_op op;
    int rs;          /* run the reduce-scatter phase */
    int ag;          /* run the allgather phase */
    const char *src; /* rs: this rank's input, total elements */
    char *dst;       /* total elements: rs results (unless out) and ag */
    char *out;       /* rs without ag: only this rank's block lands here,
                        intermediate blocks use scratch */
} rdv_ring;

int rdv_ring_run(rdv_coll *c, const rdv_ring *g);

/* Folding n ranks into a power of two p (fold.c). v is this rank's
 * virtual rank in [0, p), or -1 for a rank that sits the middle out. */
typedef struct rdv_fold {
    int p, extra, steps; /* steps = log2(p) */
    int v, rank;
} rdv_fold;

void rdv_fold_plan(rdv_fold *f, int rank, int size);
int rdv_fold_real(const rdv_fold *f, int v);
/* The step before: tmp must hold count elements on the odd ranks. */
int rdv_fold_in(rdv_coll *c, const rdv_fold *f, char *buf, char *tmp,
                size_t count, rdv_dtype t, rdv_op op);
/* The step after (the call's last step). */
int rdv_fold_out(rdv_coll *c, const rdv_fold *f, char *buf, size_t bytes);

/* The allreduce algorithms, called by rdv_allreduce after argument
 * checks, with size > 1. */
int rdv_allreduce_ring(rdv_coll *c, const void *sendbuf, void *recvbuf,
                       size_t count, rdv_dtype t, rdv_op op);
int rdv_allreduce_hd(rdv_coll *c, const void *sendbuf, void *recvbuf,
                     size_t count, rdv_dtype t, rdv_op op);
int rdv_allreduce_rd(rdv_coll *c, const void *sendbuf, void *recvbuf,
                     size_t count, rdv_dtype t, rdv_op op);

#endif
