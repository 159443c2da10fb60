/*
 * collectives/broadcast.c - rdv_broadcast: a binomial tree for small
 * messages, a pipelined chain for large ones.
 *
 * Ranks are renumbered relative to the root (v = rank - root mod n).
 * Binomial: v receives from v minus its lowest set bit, then sends to
 * v + 2^j for every 2^j below that bit, largest subtree first; all its
 * sends are in flight at once. ceil(log2 n) rounds, each moving the
 * whole message: latency-optimal.
 * Chain: v receives chunk i from v-1 while it forwards chunk i-1 to v+1,
 * so after the pipeline fills every link carries data at once and the
 * time is about (chunks + n - 2) chunk transfers: bandwidth-optimal.
 * Both send the root's bytes verbatim.
 */
#include "collectives/coll_internal.h"

/* Above this many bytes the chain's pipelining beats the tree's
 * log2(n) full-message hops (the chunk size makes n-2 extra chunks
 * cheap next to log2(n) - 1 extra messages). */
#define RDV_COLL_BINOMIAL_MAX_BYTES (256u * 1024u)

static int real_rank(const rdv_coll *c, int root, int v)
{
    return rdv_coll_mod(v + root, c->size);
}

static int binomial(rdv_coll *c, char *buf, size_t bytes, int root)
{
    rdv_request req[32];
    int v = rdv_coll_mod(c->rank - root, c->size), rounds = c->nsteps;
    int mask = 1, nsend = 0, rc = RDV_OK;

    while (mask < c->size && !(v & mask))
        mask <<= 1;
    if (v != 0) {
        c->step = rounds - rdv_coll_log2_ceil(mask) - 1;
        rc = rdv_coll_sendrecv(c, 0, NULL, 0, real_rank(c, root, v - mask),
                               buf, bytes);
    }
    for (mask >>= 1; mask > 0 && rc == RDV_OK; mask >>= 1) {
        if (v + mask >= c->size)
            continue;
        c->step = rounds - rdv_coll_log2_ceil(mask) - 1;
        rc = rdv_coll_post_send(c, &req[nsend++],
                                real_rank(c, root, v + mask), buf, bytes);
    }
    for (int i = 0; i < nsend && rc == RDV_OK; i++) {
        rdv_request *one = &req[i];
        c->step = rounds - rdv_coll_log2_ceil(c->size) + i;
        rc = rdv_coll_wait(c, &one, 1);
    }
    return rc;
}

static int chain(rdv_coll *c, char *buf, size_t bytes, size_t chunk,
                 int root)
{
    rdv_request sq = {0}, rq = {0};
    rdv_request *s = &sq, *r = &rq;
    int v = rdv_coll_mod(c->rank - root, c->size), rc = RDV_OK;
    int prev = real_rank(c, root, v - 1), next = real_rank(c, root, v + 1);
    size_t nch = (size_t)c->nsteps;

    if (v > 0)
        rc = rdv_coll_post_recv(c, &rq, prev, buf,
                                bytes < chunk ? bytes : chunk);
    for (size_t i = 0; i < nch && rc == RDV_OK; i++) {
        size_t off = i * chunk, len = bytes - off < chunk ? bytes - off : chunk;
        c->step = (int)i;
        if (v > 0) {
            rc = rdv_coll_wait(c, &r, 1);
            if (rc == RDV_OK && i + 1 < nch) {
                size_t o2 = off + chunk;
                rc = rdv_coll_post_recv(c, &rq, prev, buf + o2,
                                        bytes - o2 < chunk ? bytes - o2
                                                           : chunk);
            }
        }
        if (rc == RDV_OK && v + 1 < c->size) {
            rc = rdv_coll_wait(c, &s, 1);
            if (rc == RDV_OK)
                rc = rdv_coll_post_send(c, &sq, next, buf + off, len);
        }
    }
    if (rc == RDV_OK)
        rc = rdv_coll_wait(c, &s, 1);
    return rc;
}

int rdv_broadcast(rdv_context *ctx, void *buf, size_t count, rdv_dtype t,
                  int root, const rdv_coll_options *o)
{
    static const rdv_algo allowed[] = {RDV_ALGO_BINOMIAL, RDV_ALGO_CHAIN,
                                       RDV_ALGO_AUTO};
    rdv_coll c;
    rdv_algo a;
    size_t bytes, chunk;
    int rc = rdv_coll_begin(&c, ctx, "broadcast", o, allowed);

    if (rc == RDV_OK && count > 0 && !buf)
        rc = rdv_coll_invalid(&c, "buf is NULL with count %zu", count);
    if (rc == RDV_OK)
        rc = rdv_coll_check_args(&c, "", "", count, t, -1);
    if (rc == RDV_OK && (root < 0 || root >= c.size))
        rc = rdv_coll_invalid(&c, "root %d is not a rank (size %d)", root,
                              c.size);
    if (rc != RDV_OK)
        return rc;
    bytes = count * rdv_dtype_size(t);
    a = c.requested;
    if (a == RDV_ALGO_AUTO)
        a = bytes <= RDV_COLL_BINOMIAL_MAX_BYTES ? RDV_ALGO_BINOMIAL
                                                 : RDV_ALGO_CHAIN;
    if (a == RDV_ALGO_BINOMIAL) {
        rdv_coll_plan(&c, "binomial", rdv_coll_log2_ceil(c.size));
        return bytes && c.size > 1 ? binomial(&c, buf, bytes, root) : RDV_OK;
    }
    chunk = rdv_coll_chunk_bytes(rdv_dtype_size(t));
    rdv_coll_plan(&c, "chain", (int)((bytes + chunk - 1) / chunk));
    return bytes && c.size > 1 ? chain(&c, buf, bytes, chunk, root) : RDV_OK;
}
