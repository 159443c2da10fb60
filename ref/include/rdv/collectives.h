/*
 * rdv/collectives.h - collectives over a connected context.
 *
 * Every rank of the context makes the same calls in the same order with
 * the same count, type, op and root. Each call takes options; passing
 * NULL means "the context's timeout, automatic algorithm".
 *
 * Determinism: the reduction order is fixed by the algorithm and the
 * ranks, never by arrival order, so every rank ends with bit-identical
 * floating-point results.
 *
 * Errors: a dead peer gives RDV_EPEER, a silent one RDV_ETIMEDOUT; the
 * context's detail names the collective, the algorithm, the step and
 * the peer: "allreduce(ring) step 3/6: peer 2 closed the connection".
 * After any failure the context is unusable (RDV_ESTATE).
 *
 * Buffers: count is in elements. count 0 and size 1 are valid no-ops
 * (apart from copying to recvbuf). In-place allreduce passes the same
 * pointer for sendbuf and recvbuf.
 */
#ifndef RDV_COLLECTIVES_H
#define RDV_COLLECTIVES_H

#include <stddef.h>

#include "rdv/context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rdv_dtype {
    RDV_INT32,
    RDV_INT64,
    RDV_FLOAT,
    RDV_DOUBLE,
} rdv_dtype;

typedef enum rdv_op {
    RDV_SUM,
    RDV_PROD,
    RDV_MIN,
    RDV_MAX,
} rdv_op;

typedef enum rdv_algo {
    RDV_ALGO_AUTO = 0,
    RDV_ALGO_RING,
    RDV_ALGO_HALVING_DOUBLING,
    RDV_ALGO_BINOMIAL, /* broadcast */
    RDV_ALGO_CHAIN,    /* broadcast */
    RDV_ALGO_DISSEMINATION, /* barrier */
} rdv_algo;

typedef struct rdv_coll_options {
    int timeout_ms; /* 0 = the context's timeout (a collective is never
                       "try once"); < 0 = no limit */
    rdv_algo algo;
} rdv_coll_options;

size_t rdv_dtype_size(rdv_dtype t);
const char *rdv_dtype_name(rdv_dtype t);
const char *rdv_op_name(rdv_op op);
/* "ring", "halving-doubling", ...; "auto" for RDV_ALGO_AUTO, NULL for an
 * unknown value. */
const char *rdv_algo_name(rdv_algo a);

int rdv_barrier(rdv_context *ctx, const rdv_coll_options *o);

/* buf holds count elements on every rank; root's are sent to all. */
int rdv_broadcast(rdv_context *ctx, void *buf, size_t count, rdv_dtype t,
                  int root, const rdv_coll_options *o);

/* sendbuf: count elements; recvbuf: size * count, rank-major. */
int rdv_allgather(rdv_context *ctx, const void *sendbuf, void *recvbuf,
                  size_t count, rdv_dtype t, const rdv_coll_options *o);

/* sendbuf: count elements; recvbuf: this rank's block of the reduced
 * result. Blocks are split as evenly as possible: rank r gets
 * count / size elements plus one more if r < count % size. */
int rdv_reduce_scatter(rdv_context *ctx, const void *sendbuf,
                       void *recvbuf, size_t count, rdv_dtype t, rdv_op op,
                       const rdv_coll_options *o);

int rdv_allreduce(rdv_context *ctx, const void *sendbuf, void *recvbuf,
                  size_t count, rdv_dtype t, rdv_op op,
                  const rdv_coll_options *o);

#ifdef __cplusplus
}
#endif
#endif
