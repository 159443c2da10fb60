/*
 * rdv/collectives.h - collectives over a connected context.
 *
 * Every rank of the context makes the same calls in the same order with
 * the same count, type, op, root and algorithm. Each call takes options
 * (rdv_coll_options_default(), then set what you need); passing NULL
 * means the defaults: the context's timeout, automatic algorithm.
 *
 * Algorithms (one file each under src/collectives/):
 *   barrier         dissemination, ceil(log2 n) rounds of 1-byte messages
 *   broadcast       binomial tree up to 256 KiB, then a pipelined chain
 *   allgather       ring, n-1 steps, chunked so sends and recvs overlap
 *   reduce_scatter  ring, n-1 steps, chunked
 *   allreduce       recursive doubling up to 32 KiB, recursive
 *                   halving-doubling up to 256 KiB (2 ranks) or 2 MiB
 *                   (both fold the extra ranks of a non-power-of-two
 *                   in), then a pipelined ring (reduce-scatter +
 *                   allgather, 2(n-1) steps); crossovers measured in
 *                   allreduce.c
 * The automatic choice depends only on the byte count and n, so every
 * rank picks the same one. rdv_coll_options.algo forces one; asking for
 * an algorithm a collective does not have is RDV_EINVAL.
 *
 * Determinism: the reduction order is fixed by the algorithm and the
 * ranks, never by arrival order. In the ring and halving-doubling each
 * element is reduced by exactly one rank and its bits are copied to the
 * others; in recursive doubling both partners of a step compute the
 * same expression (lower group's partial first). Either way every rank
 * ends with bit-identical floating-point results. Different algorithms
 * may round differently; all ranks of a call pick the same one.
 * Integer sum and prod wrap modulo 2^32 / 2^64. min/max on floats keep
 * the first operand unless the other compares strictly lower/higher.
 *
 * Errors: RDV_OK or a negative rdv_status. A dead peer gives RDV_EPEER,
 * a silent one RDV_ETIMEDOUT (the whole call is bounded by its timeout,
 * never a hang). On such a failure the rank shuts its connections down
 * for writing (its peers learn at once that it is out) and watches the
 * others' connections for up to 100 ms, so that every survivor can name
 * the culprit even when it was waiting on another rank: a killed rank
 * shows up as closed, a silent one as still connected once the others
 * have given up. rdv_context_errmsg() names the collective, algorithm,
 * step and peer, says what the peer did (chosen from the transport's
 * failure reason: closed the connection, reset the connection, broke
 * the protocol, failed, or timed out waiting for it), then those lists:
 *   "allreduce(ring) step 3/6: peer 2 closed the connection (recv from
 *    rank 2 (127.0.0.1:40123): ...); closed connections: peer 2, peer 0"
 *   "barrier(dissemination) step 2/2: timed out after 1000 ms waiting
 *    for peer 3 (...); closed connections: peer 0, peer 3; still
 *    connected: peer 2"
 * Bad arguments give RDV_EINVAL naming the argument ("broadcast: root 5
 * is not a rank (size 4)"). After any failure, argument errors included
 * (the other ranks may already be inside the call), the context is
 * unusable: later calls return RDV_ESTATE. A NULL context is RDV_EINVAL.
 *
 * Buffers: count is in elements. count 0 and size 1 are valid (apart
 * from copying to recvbuf); buffers may be NULL when count is 0.
 * In-place allreduce passes the same pointer for sendbuf and recvbuf;
 * in-place allgather passes sendbuf == recvbuf + rank * count elements.
 * Otherwise send and receive buffers must not overlap. Buffers are the
 * caller's; the library allocates scratch space per call and frees it.
 *
 * Phases: each call enters RDV_PHASE_IN_COLLECTIVE through the context's
 * hooks before it moves any byte.
 *
 * Threads and fork: a context, and so every collective on it, is used by
 * one thread at a time, in the process that connected it.
 */
#ifndef RDV_COLLECTIVES_H
#define RDV_COLLECTIVES_H

#include <stddef.h>
#include <stdint.h>

#include "rdv/context.h"
#include "rdv/export.h"

RDV_API_BEGIN

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
    RDV_ALGO_RING,              /* allreduce, allgather, reduce_scatter */
    RDV_ALGO_HALVING_DOUBLING,  /* allreduce */
    RDV_ALGO_BINOMIAL,          /* broadcast */
    RDV_ALGO_CHAIN,             /* broadcast */
    RDV_ALGO_DISSEMINATION,     /* barrier */
    RDV_ALGO_RECURSIVE_DOUBLING, /* allreduce */
} rdv_algo;

/* Options grow as rdv_context_options do (see rdv/context.h):
 * struct_size is the caller's sizeof, set by rdv_coll_options_init() /
 * _default(); a struct_size the library cannot take (0, below the first
 * version, garbage, or unknown newer fields set) fails the call with
 * RDV_EINVAL like any bad argument.
 *
 * timeout_ms is the whole call's budget, read as everywhere in librdv:
 *   RDV_TIMEOUT_DEFAULT  the context's timeout (the default);
 *   > 0                  the limit; < 0 none;
 *   0                    try once: every step of the call gets one look
 *                        at the sockets, so the call completes only if
 *                        each step's data is already there when it looks
 *                        (always so for size 1 or count 0, which move no
 *                        bytes); otherwise RDV_ETIMEDOUT within the
 *                        transport's grace (well under a second), and,
 *                        as after any failure, the context is unusable.
 * A context created with timeout 0 makes every call that uses the
 * default try once. */
typedef struct rdv_coll_options {
    uint32_t struct_size; /* set by rdv_coll_options_init() */
    int timeout_ms; /* see above; RDV_TIMEOUT_DEFAULT by default */
    rdv_algo algo;  /* RDV_ALGO_AUTO = by size */
    int busy_poll;  /* nonzero: spin on the transport (zero-timeout polls)
                       instead of sleeping until a completion. Saves the
                       wake-up latency on an idle machine, burns a core
                       per rank; opt-in, never worth it when ranks share
                       cores. */
} rdv_coll_options;

/* Fills the size bytes at o (pass sizeof *o) with the defaults:
 * RDV_TIMEOUT_DEFAULT, RDV_ALGO_AUTO, no busy poll, and struct_size =
 * size. Thread-safe. */
void rdv_coll_options_init(rdv_coll_options *o, size_t size);

/* The defaults for this header's struct, by value; inline for the same
 * reason as rdv_context_options_default(). */
static inline rdv_coll_options rdv_coll_options_default(void)
{
    rdv_coll_options o;

    rdv_coll_options_init(&o, sizeof o);
    return o;
}

/* Element size in bytes; 0 for an unknown type. */
size_t rdv_dtype_size(rdv_dtype t);
/* "int32", "int64", "float", "double"; NULL for an unknown value. */
const char *rdv_dtype_name(rdv_dtype t);
/* "sum", "prod", "min", "max"; NULL for an unknown value. */
const char *rdv_op_name(rdv_op op);
/* "ring", "halving-doubling", ...; "auto" for RDV_ALGO_AUTO, NULL for an
 * unknown value. */
const char *rdv_algo_name(rdv_algo a);

/* Returns once every rank has entered the barrier. */
int rdv_barrier(rdv_context *ctx, const rdv_coll_options *o);

/* buf holds count elements on every rank; root's are sent to all,
 * byte for byte. */
int rdv_broadcast(rdv_context *ctx, void *buf, size_t count, rdv_dtype t,
                  int root, const rdv_coll_options *o);

/* sendbuf: count elements; recvbuf: size * count, rank-major. */
int rdv_allgather(rdv_context *ctx, const void *sendbuf, void *recvbuf,
                  size_t count, rdv_dtype t, const rdv_coll_options *o);

/* sendbuf: count elements (not modified); recvbuf: this rank's block of
 * the reduced result. Blocks are split as evenly as possible: rank r
 * gets count / size elements plus one more if r < count % size, at
 * element offset r * (count / size) + min(r, count % size). */
int rdv_reduce_scatter(rdv_context *ctx, const void *sendbuf,
                       void *recvbuf, size_t count, rdv_dtype t, rdv_op op,
                       const rdv_coll_options *o);

/* recvbuf (count elements) gets the element-wise reduction of every
 * rank's sendbuf, identical on all ranks. sendbuf is not modified
 * unless it is recvbuf (in place). */
int rdv_allreduce(rdv_context *ctx, const void *sendbuf, void *recvbuf,
                  size_t count, rdv_dtype t, rdv_op op,
                  const rdv_coll_options *o);

RDV_API_END
#endif
