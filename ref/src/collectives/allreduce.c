/*
 * collectives/allreduce.c - rdv_allreduce: argument checks and the
 * choice of algorithm by message size.
 *
 *   bytes <= 32 KiB              recursive doubling  log2(p) steps
 *   bytes <= 256 KiB (n = 2)     halving-doubling    2 log2(p) steps
 *         <= 2 MiB   (n >= 3)
 *   larger                       ring                2(n-1) pipelined steps
 *
 * The choice depends only on count, type and size, so every rank picks
 * the same algorithm (and so the same rounding).
 *
 * Measured with `rdv bench allreduce -n 2,3,4 --algo rd|hd|ring` (float
 * sum, rendezvous TCP mesh over 127.0.0.1, uring) on a 2-core VM shared
 * with other jobs. Latency (p50 us) at load average 7-20:
 *
 *             N=2: 16K   32K   64K  256K |  N=4: 16K   64K  256K
 *   rd              37    35    76   230 |       176   344   947
 *   hd              51    55    64   163 |       202   252   623
 *   ring            52    56    64   163 |       277   327   622
 *
 * Bus bandwidth (GB/s) at load average 5:
 *
 *             N=2: 512K   1M    2M    4M  |  N=4: 512K   1M    2M    4M   8M
 *   hd            2.28  1.72  2.73  2.40  |       1.29  1.74  1.31  0.99 0.91
 *   ring          2.43  2.74  2.87  2.35  |       0.62  1.21  1.10  0.92 0.99
 *
 * N=3 (folding) ranked like N=4. With two ranks the ring's two steps
 * are as few as halving-doubling's and its reductions overlap the
 * transfers, so it wins from 512 KiB; with more ranks than cores each of
 * the ring's 2(n-1) steps waits for a neighbour to be scheduled, and
 * halving-doubling (as few bytes for a power of two, fewer steps) wins
 * up to about 2 MiB. On a machine with a core per rank the ring should
 * take over earlier; rerun the bench to retune.
 */
#include <string.h>

#include "collectives/coll_internal.h"

#define RDV_COLL_RD_MAX_BYTES (32u * 1024u)
#define RDV_COLL_HD_MAX_BYTES_PAIR (256u * 1024u)
#define RDV_COLL_HD_MAX_BYTES (2u * 1024u * 1024u)

static rdv_algo choose(size_t bytes, int size)
{
    if (bytes <= RDV_COLL_RD_MAX_BYTES)
        return RDV_ALGO_RECURSIVE_DOUBLING;
    if (bytes <= (size == 2 ? RDV_COLL_HD_MAX_BYTES_PAIR
                            : RDV_COLL_HD_MAX_BYTES))
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
    a = c.requested;
    if (a == RDV_ALGO_AUTO)
        a = choose(count * rdv_dtype_size(t), c.size);
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
