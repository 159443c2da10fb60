/*
 * collectives/fold.c - folding a non-power-of-two rank count into the
 * largest power of two p <= n, for the recursive allreduce algorithms
 * (halving-doubling and recursive doubling).
 *
 * With e = n - p, the first 2e ranks pair up as (2i, 2i+1). Before the
 * power-of-two part, the even one sends its whole vector to the odd one,
 * which reduces (even's elements first, so the order is fixed) and then
 * stands in for both as virtual rank i; ranks from 2e on are virtual
 * rank r - e. Afterwards the odd one sends the finished vector back, so
 * the even one gets the same bits. One step each way, and only when
 * n is not a power of two.
 */
#include "collectives/coll_internal.h"

void rdv_fold_plan(rdv_fold *f, int rank, int size)
{
    f->p = 1 << (rdv_coll_log2_ceil(size + 1) - 1);
    f->extra = size - f->p;
    f->steps = rdv_coll_log2_ceil(f->p);
    if (rank < 2 * f->extra)
        f->v = (rank & 1) ? rank / 2 : -1;
    else
        f->v = rank - f->extra;
    f->rank = rank;
}

int rdv_fold_real(const rdv_fold *f, int v)
{
    return v < f->extra ? 2 * v + 1 : v + f->extra;
}

int rdv_fold_in(rdv_coll *c, const rdv_fold *f, char *buf, char *tmp,
                size_t count, rdv_dtype t, rdv_op op)
{
    size_t bytes = count * rdv_dtype_size(t);
    int r = f->rank, rc = RDV_OK;

    if (f->extra == 0)
        return RDV_OK;
    if (f->v < 0)
        rc = rdv_coll_sendrecv(c, r + 1, buf, bytes, r + 1, NULL, 0);
    else if (r < 2 * f->extra) {
        rc = rdv_coll_sendrecv(c, r - 1, NULL, 0, r - 1, tmp, bytes);
        if (rc == RDV_OK)
            rdv_reduce_apply(buf, tmp, buf, count, t, op);
    }
    c->step++;
    return rc;
}

int rdv_fold_out(rdv_coll *c, const rdv_fold *f, char *buf, size_t bytes)
{
    int r = f->rank;

    if (f->extra == 0)
        return RDV_OK;
    c->step = c->nsteps - 1;
    if (f->v < 0)
        return rdv_coll_sendrecv(c, r + 1, NULL, 0, r + 1, buf, bytes);
    if (r < 2 * f->extra)
        return rdv_coll_sendrecv(c, r - 1, buf, bytes, r - 1, NULL, 0);
    return RDV_OK;
}
