/*
 * collectives/allreduce_rd.c - allreduce by recursive doubling, for the
 * smallest messages: log2(p) steps, in each of which partners swap
 * their whole vectors and both reduce. Half the steps of
 * halving-doubling, at the price of sending the full vector every step,
 * which only pays while latency dominates (allreduce.c picks).
 *
 * Determinism without an owner: in every step both partners compute
 * (the lower group's partial) op (the upper group's partial) with the
 * same operands in the same order, so by induction every rank of a
 * group holds the same bits after each step, and all ranks at the end.
 * Non-powers of two are folded in first (fold.c).
 */
#include <stdlib.h>
#include <string.h>

#include "collectives/coll_internal.h"

int rdv_allreduce_rd(rdv_coll *c, const void *sendbuf, void *recvbuf,
                     size_t count, rdv_dtype t, rdv_op op)
{
    size_t bytes = count * rdv_dtype_size(t);
    char *buf = recvbuf, *tmp;
    rdv_fold f;
    int rc;

    rdv_fold_plan(&f, c->rank, c->size);
    rdv_coll_plan(c, "recursive-doubling", f.steps + 2 * (f.extra > 0));
    if (sendbuf != recvbuf && bytes)
        memcpy(recvbuf, sendbuf, bytes);
    if (count == 0)
        return RDV_OK;
    tmp = rdv_coll_alloc(c, bytes, "receive buffer");
    if (!tmp)
        return RDV_ENOMEM;
    rc = rdv_fold_in(c, &f, buf, tmp, count, t, op);
    for (int k = 0; k < f.steps && f.v >= 0 && rc == RDV_OK; k++) {
        int peer = rdv_fold_real(&f, f.v ^ (1 << k));
        rc = rdv_coll_sendrecv(c, peer, buf, bytes, peer, tmp, bytes);
        if (rc == RDV_OK && (f.v & (1 << k)))
            rdv_reduce_apply(buf, tmp, buf, count, t, op);
        else if (rc == RDV_OK)
            rdv_reduce_apply(buf, buf, tmp, count, t, op);
        c->step++;
    }
    if (rc == RDV_OK)
        rc = rdv_fold_out(c, &f, buf, bytes);
    free(tmp);
    return rc;
}
