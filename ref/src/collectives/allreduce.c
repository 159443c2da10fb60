/*
 * collectives/allreduce.c - rdv_allreduce: argument checks and the
 * choice of algorithm by message size.
 *
 *   bytes <= 32 KiB    recursive doubling  log2(p) steps, full vector
 *   bytes <= 256 KiB   halving-doubling    2 log2(p) steps, halves
 *   larger             ring                2(n-1) pipelined steps
 *
 * The choice depends only on count, type and size, so every rank picks
 * the same algorithm (and so the same rounding).
 *
 * Measured with `rdv bench allreduce -n 2,3,4 --algo rd|hd|ring` (float
 * sum, p50, rendezvous TCP mesh over 127.0.0.1, 2 cores shared with
 * other jobs at load average 7-20, so only the ordering is meaningful):
 *
 *   p50 us     N=2: 16K   32K   64K  256K   1M   4M | N=4: 16K  64K  256K  512K   1M
 *   rd              37    35    76   230  2967      |      176  344   947  2314 11616
 *   hd              51    55    64   163   523 7513 |      202  252   623  2299  6662
 *   ring            52    56    64   163   654 5291 |      277  327   622  1030  2259
 *
 * N=3 (folding) ranked the same way, with recursive doubling ahead even
 * further. Halving-doubling moves as few bytes as the ring for a power
 * of two but does not overlap its reductions with the transfers; the
 * ring's pipelining wins from about 512 KiB on. On an idle machine the
 * crossovers move towards smaller sizes (fewer scheduling delays per
 * step favour the ring's many short steps); rerun the bench to retune.
 */
#include <string.h>

#include "collectives/coll_internal.h"

#define RDV_COLL_RD_MAX_BYTES (32u * 1024u)
#define RDV_COLL_HD_MAX_BYTES (256u * 1024u)

static rdv_algo choose(size_t bytes)
{
    if (bytes <= RDV_COLL_RD_MAX_BYTES)
        return RDV_ALGO_RECURSIVE_DOUBLING;
    if (bytes <= RDV_COLL_HD_MAX_BYTES)
        return RDV_ALGO_HALVING_DOUBLING;
    return RDV_ALGO_RING;
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
        a = choose(count * rdv_dtype_size(t));
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
