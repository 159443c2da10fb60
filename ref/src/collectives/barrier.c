/*
 * collectives/barrier.c - rdv_barrier by dissemination: in round k
 * every rank sends one byte to rank + 2^k and receives one from
 * rank - 2^k, ceil(log2 n) rounds. After the last round every rank has
 * heard, directly or not, from every other one, so nobody leaves before
 * everyone has arrived. No root, so no rank is a hot spot.
 */
#include "collectives/coll_internal.h"

int rdv_barrier(rdv_context *ctx, const rdv_coll_options *o)
{
    static const rdv_algo allowed[] = {RDV_ALGO_DISSEMINATION,
                                       RDV_ALGO_AUTO};
    rdv_coll c;
    char out = 'b', in = 0;
    int rc = rdv_coll_begin(&c, ctx, "barrier", o, allowed);

    if (rc != RDV_OK)
        return rc;
    rdv_coll_plan(&c, "dissemination", rdv_coll_log2_ceil(c.size));
    for (c.step = 0; c.step < c.nsteps && rc == RDV_OK; c.step++) {
        int d = 1 << c.step;
        rc = rdv_coll_sendrecv(&c, rdv_coll_mod(c.rank + d, c.size), &out, 1,
                               rdv_coll_mod(c.rank - d, c.size), &in, 1);
    }
    return rc;
}
