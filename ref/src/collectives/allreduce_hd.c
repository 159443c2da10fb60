/*
 * collectives/allreduce_hd.c - allreduce by recursive halving-doubling
 * (Rabenseifner): a reduce-scatter by recursive halving, then an
 * allgather by recursive doubling, 2 log2(p) steps for p a power of two.
 *
 * Non-powers of two are folded: with p the largest power of two <= n and
 * e = n - p, the first 2e ranks pair up (2i, 2i+1); the even one hands
 * its whole vector to the odd one, which reduces it and stands in for
 * both during the halving-doubling; the result goes back at the end.
 * That adds two steps and one full-vector transfer each way, which is
 * why the ring takes over for large messages.
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
    char *buf; /* recvbuf: works in place */
    char *tmp;
    size_t es;
    rdv_dtype t;
    rdv_op op;
    int p;     /* power of two taking part */
    int v;     /* virtual rank in [0, p), -1 when folded out */
    size_t lo[32], hi[32]; /* range held before each halving step */
} hd_run;

static int real_rank(const hd_run *h, int v)
{
    int extra = h->c->size - h->p;

    return v < extra ? 2 * v + 1 : v + extra;
}

static int halve(hd_run *h, int steps, size_t count)
{
    size_t lo = 0, hi = count;
    int rc = RDV_OK;

    for (int k = 0; k < steps && rc == RDV_OK; k++) {
        int mask = h->p >> (k + 1);
        int peer = real_rank(h, h->v ^ mask);
        size_t mid = lo + (hi - lo) / 2;
        size_t klo = (h->v & mask) ? mid : lo, khi = (h->v & mask) ? hi : mid;
        size_t slo = (h->v & mask) ? lo : mid, shi = (h->v & mask) ? mid : hi;

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

static int dbl(hd_run *h, int steps)
{
    int rc = RDV_OK;

    for (int k = steps - 1; k >= 0 && rc == RDV_OK; k--) {
        int mask = h->p >> (k + 1);
        int peer = real_rank(h, h->v ^ mask);
        size_t mid = h->lo[k] + (h->hi[k] - h->lo[k]) / 2;
        size_t klo = (h->v & mask) ? mid : h->lo[k];
        size_t khi = (h->v & mask) ? h->hi[k] : mid;
        size_t olo = (h->v & mask) ? h->lo[k] : mid;
        size_t ohi = (h->v & mask) ? mid : h->hi[k];

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
    int n = c->size, r = c->rank, extra, steps, folded;
    size_t bytes;
    int rc = RDV_OK;

    h.es = rdv_dtype_size(t);
    bytes = count * h.es;
    h.p = 1 << (rdv_coll_log2_ceil(n + 1) - 1);
    extra = n - h.p;
    steps = rdv_coll_log2_ceil(h.p);
    folded = extra > 0;
    rdv_coll_plan(c, "halving-doubling", 2 * steps + 2 * folded);
    if (r < 2 * extra)
        h.v = (r & 1) ? r / 2 : -1;
    else
        h.v = r - extra;
    if (sendbuf != recvbuf && bytes)
        memcpy(recvbuf, sendbuf, bytes);
    if (count == 0)
        return RDV_OK;
    h.tmp = rdv_coll_alloc(c, folded && (r & 1) && r < 2 * extra
                                  ? bytes
                                  : (count + 1) / 2 * h.es,
                           "receive buffer");
    if (!h.tmp)
        return RDV_ENOMEM;
    if (folded) {
        if (h.v < 0) {
            rc = rdv_coll_sendrecv(c, r + 1, h.buf, bytes, r + 1, NULL, 0);
        } else if (r < 2 * extra) {
            rc = rdv_coll_sendrecv(c, r - 1, NULL, 0, r - 1, h.tmp, bytes);
            if (rc == RDV_OK)
                rdv_reduce_apply(h.buf, h.buf, h.tmp, count, t, op);
        }
        c->step++;
    }
    if (rc == RDV_OK && h.v >= 0)
        rc = halve(&h, steps, count);
    if (rc == RDV_OK && h.v >= 0)
        rc = dbl(&h, steps);
    if (rc == RDV_OK && folded) {
        c->step = c->nsteps - 1;
        if (h.v < 0)
            rc = rdv_coll_sendrecv(c, r + 1, NULL, 0, r + 1, h.buf, bytes);
        else if (r < 2 * extra)
            rc = rdv_coll_sendrecv(c, r - 1, h.buf, bytes, r - 1, NULL, 0);
    }
    free(h.tmp);
    return rc;
}
