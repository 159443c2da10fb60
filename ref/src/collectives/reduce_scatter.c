/*
 * collectives/reduce_scatter.c - rdv_reduce_scatter, the ring
 * reduce-scatter phase of ring.c on its own (n-1 steps).
 *
 * recvbuf only holds this rank's block, so the blocks reduced on the way
 * live in two scratch blocks that alternate step by step; the last step
 * reduces straight into recvbuf. sendbuf is never written.
 */
#include <string.h>

#include "collectives/coll_internal.h"

int rdv_reduce_scatter(rdv_context *ctx, const void *sendbuf, void *recvbuf,
                       size_t count, rdv_dtype t, rdv_op op,
                       const rdv_coll_options *o)
{
    static const rdv_algo allowed[] = {RDV_ALGO_RING, RDV_ALGO_AUTO};
    rdv_coll c;
    size_t off, len;
    int rc = rdv_coll_begin(&c, ctx, "reduce_scatter", o, allowed);

    if (rc == RDV_OK)
        rc = rdv_coll_check_args(&c, sendbuf, recvbuf, count, t, (int)op);
    if (rc != RDV_OK)
        return rc;
    rdv_coll_plan(&c, "ring", c.size - 1);
    if (c.size == 1) {
        rdv_coll_block(count, 1, 0, &off, &len);
        if (len && sendbuf != recvbuf)
            memmove(recvbuf, sendbuf, len * rdv_dtype_size(t));
        return RDV_OK;
    }
    return rdv_ring_run(&c, &(rdv_ring){.total = count, .type = t, .op = op,
                                        .rs = 1, .src = sendbuf,
                                        .out = recvbuf});
}
