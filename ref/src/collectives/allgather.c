/*
 * collectives/allgather.c - rdv_allgather over the ring (n-1 steps):
 * the allgather phase of ring.c with equal blocks of `count` elements.
 *
 * This rank's block is copied into place first (skipped when sendbuf
 * already is recvbuf + rank * count, the in-place form), then every
 * step forwards the block received the step before, chunked so sends
 * and recvs overlap.
 */
#include <string.h>

#include "collectives/coll_internal.h"

int rdv_allgather(rdv_context *ctx, const void *sendbuf, void *recvbuf,
                  size_t count, rdv_dtype t, const rdv_coll_options *o)
{
    static const rdv_algo allowed[] = {RDV_ALGO_RING, RDV_ALGO_AUTO};
    rdv_coll c;
    size_t es;
    char *mine;
    int rc = rdv_coll_begin(&c, ctx, "allgather", o, allowed);

    if (rc == RDV_OK)
        rc = rdv_coll_check_args(&c, sendbuf, recvbuf, count, t, -1);
    if (rc != RDV_OK)
        return rc;
    rdv_coll_plan(&c, "ring", c.size - 1);
    es = rdv_dtype_size(t);
    if (count == 0)
        return RDV_OK;
    mine = (char *)recvbuf + (size_t)c.rank * count * es;
    if (mine != sendbuf)
        memmove(mine, sendbuf, count * es);
    if (c.size == 1)
        return RDV_OK;
    return rdv_ring_run(&c, &(rdv_ring){.total = count * (size_t)c.size,
                                        .type = t, .ag = 1,
                                        .dst = recvbuf});
}
