/*
 * collectives/allreduce_hd.c - allreduce by recursive halving-doubling
 * (Rabenseifner): a reduce-scatter by recursive halving, then an
 * allgather by recursive doubling, 2 log2(p) steps for p a power of two.
 *
 * Non-powers of two are folded (fold.c): the first 2(n-p) ranks pair
 * up, one of each pair hands its vector to the other and gets the result
 * back at the end. That adds two steps and one full-vector transfer each
 * way, which is why the ring takes over earlier for those sizes.
 *
 * Halving: at step k, virtual rank v exchanges with v ^ (p >> (k+1)),
 * keeps the lower half of its current range when that bit is clear and
 * the upper half otherwise, sends the other half and reduces what it
 * receives into the half it keeps. Partners always hold the same range,
 * so halves agree for any count (odd lengths, empty ranges). After
 * log2(p) steps each element was reduced by exactly one rank, in an
 * order fixed by the pairing; doubling then copies those exact bits to
 * everyone, so all ranks end bit-identical.
 */
#include <stdlib.h>
#include <string.h>

#include "collectives/coll_internal.h"

typedef struct hd_run {
    rdv_coll *c;
    rdv_fold f;
    char *buf; /* recvbuf: works in place */
    char *tmp;
    size_t es;
    rdv_dtype t;
    rdv_op op;
    size_t lo[32], hi[32]; /* range held before each halving step */
} hd_run;

static int halve(hd_run *h, size_t count)
{
    size_t lo = 0, hi = count;
    int v = h->f.v, rc = RDV_OK;

    for (int k = 0; k < h->f.steps && rc == RDV_OK; k++) {
        int mask = h->f.p >> (k + 1);
        int peer = rdv_fold_real(&h->f, v ^ mask);
        size_t mid = lo + (hi - lo) / 2;
        size_t klo = (v & mask) ? mid : lo, khi = (v & mask) ? hi : mid;
        size_t slo = (v & mask) ? lo : mid, shi = (v & mask) ? mid : hi;

        h->lo[k] = lo;
        h->hi[k] = hi;
        rc = rdv_coll_sendrecv(h->c, peer, h->buf + slo * h->es,
                               (shi - slo) * h->es, peer, h->tmp,
                               (khi - klo) * h->es);
        if (rc == RDV_OK)
            rdv_reduce_apply(h->buf + klo * h->es, h->buf + klo * h->es,
                             h->tmp, khi - klo, h->t, h->op);
        lo = klo;
        hi = khi;
        h->c->step++;
    }
    return rc;
}

static int dbl(hd_run *h)
{
    int v = h->f.v, rc = RDV_OK;

    for (int k = h->f.steps - 1; k >= 0 && rc == RDV_OK; k--) {
        int mask = h->f.p >> (k + 1);
        int peer = rdv_fold_real(&h->f, v ^ mask);
        size_t mid = h->lo[k] + (h->hi[k] - h->lo[k]) / 2;
        size_t klo = (v & mask) ? mid : h->lo[k];
        size_t khi = (v & mask) ? h->hi[k] : mid;
        size_t olo = (v & mask) ? h->lo[k] : mid;
        size_t ohi = (v & mask) ? mid : h->hi[k];

        rc = rdv_coll_sendrecv(h->c, peer, h->buf + klo * h->es,
                               (khi - klo) * h->es, peer,
                               h->buf + olo * h->es, (ohi - olo) * h->es);
        h->c->step++;
    }
    return rc;
}

int rdv_allreduce_hd(rdv_coll *c, const void *sendbuf, void *recvbuf,
                     size_t count, rdv_dtype t, rdv_op op)
{
    hd_run h = {.c = c, .buf = recvbuf, .t = t, .op = op};
    size_t bytes;
    int rc;

    h.es = rdv_dtype_size(t);
    bytes = count * h.es;
    rdv_fold_plan(&h.f, c->rank, c->size);
    rdv_coll_plan(c, "halving-doubling",
                  2 * h.f.steps + 2 * (h.f.extra > 0));
    if (sendbuf != recvbuf && bytes)
        memcpy(recvbuf, sendbuf, bytes);
    if (count == 0)
        return RDV_OK;
    h.tmp = rdv_coll_alloc(c, h.f.extra ? bytes : (count + 1) / 2 * h.es,
                           "receive buffer");
    if (!h.tmp)
        return RDV_ENOMEM;
    rc = rdv_fold_in(c, &h.f, h.buf, h.tmp, count, t, op);
    if (rc == RDV_OK && h.f.v >= 0)
        rc = halve(&h, count);
    if (rc == RDV_OK && h.f.v >= 0)
        rc = dbl(&h);
    if (rc == RDV_OK)
        rc = rdv_fold_out(c, &h.f, h.buf, bytes);
    free(h.tmp);
    return rc;
}
