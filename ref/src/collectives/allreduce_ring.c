/*
 * collectives/allreduce_ring.c - allreduce as a pipelined ring
 * reduce-scatter followed by a ring allgather (ring.c runs both phases
 * as one pipeline), 2(n-1) steps.
 *
 * Bandwidth-optimal: each rank sends and receives 2(n-1)/n of the
 * vector, so it wins for large messages; its 2(n-1) latency terms lose
 * to halving-doubling for small ones (allreduce.c picks).
 *
 * Out-of-place needs no copy: the first step reads sendbuf and every
 * reduction writes recvbuf; the one block a rank never reduces is
 * overwritten by the allgather.
 */
#include "collectives/coll_internal.h"

int rdv_allreduce_ring(rdv_coll *c, const void *sendbuf, void *recvbuf,
                       size_t count, rdv_dtype t, rdv_op op)
{
    rdv_ring g = {.total = count, .type = t, .op = op, .rs = 1, .ag = 1,
                  .src = sendbuf, .dst = recvbuf};

    rdv_coll_plan(c, "ring", 2 * (c->size - 1));
    return rdv_ring_run(c, &g);
}
