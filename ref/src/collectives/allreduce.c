/*
 * collectives/allreduce.c - rdv_allreduce: argument checks and the
 * choice between halving-doubling (few, large-latency steps: small
 * messages) and the ring (bandwidth-optimal: large messages).
 *
 * The crossover is by message size in bytes and is the same on every
 * rank (it depends only on count, type and size), so all ranks always
 * pick the same algorithm. RDV_COLL_HD_MAX_BYTES below was measured
 * with `rdv bench allreduce --algo ring|hd` on a loaded 2-core VM over
 * TCP loopback (see the measurements in the comment there).
 */
#include <string.h>

#include "collectives/coll_internal.h"

/* Measured crossover (p50 latency, TCP loopback, 2 shared cores):
 * halving-doubling wins up to 32 KiB at N=2 and N=4 and the ring from
 * 64 KiB on; non-powers of two fold a full vector twice, so the ring
 * pays off earlier there (half the threshold). */
#define RDV_COLL_HD_MAX_BYTES (32u * 1024u)

#define RDV_COLL_RD_MAX_BYTES 2048u

static rdv_algo choose(const rdv_coll *c, size_t bytes)
{
    size_t limit = RDV_COLL_HD_MAX_BYTES;

    if (bytes <= RDV_COLL_RD_MAX_BYTES)
        return RDV_ALGO_RECURSIVE_DOUBLING;
    if (c->size & (c->size - 1))
        limit /= 2;
    return bytes <= limit ? RDV_ALGO_HALVING_DOUBLING : RDV_ALGO_RING;
}

int rdv_allreduce(rdv_context *ctx, const void *sendbuf, void *recvbuf,
                  size_t count, rdv_dtype t, rdv_op op,
                  const rdv_coll_options *o)
{
    static const rdv_algo allowed[] = {RDV_ALGO_RING,
                                       RDV_ALGO_HALVING_DOUBLING,
                                       RDV_ALGO_RECURSIVE_DOUBLING,
                                       RDV_ALGO_AUTO};
    rdv_coll c;
    rdv_algo a;
    int rc = rdv_coll_begin(&c, ctx, "allreduce", o, allowed);

    if (rc == RDV_OK)
        rc = rdv_coll_check_args(&c, sendbuf, recvbuf, count, t, (int)op);
    if (rc != RDV_OK)
        return rc;
    a = rdv_coll_requested(o);
    if (a == RDV_ALGO_AUTO)
        a = choose(&c, count * rdv_dtype_size(t));
    if (c.size == 1) {
        if (count && sendbuf != recvbuf)
            memmove(recvbuf, sendbuf, count * rdv_dtype_size(t));
        return RDV_OK;
    }
    if (a == RDV_ALGO_RING)
        return rdv_allreduce_ring(&c, sendbuf, recvbuf, count, t, op);
    if (a == RDV_ALGO_RECURSIVE_DOUBLING)
        return rdv_allreduce_rd(&c, sendbuf, recvbuf, count, t, op);
    return rdv_allreduce_hd(&c, sendbuf, recvbuf, count, t, op);
}
