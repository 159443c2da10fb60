/*
 * collectives/ring.c - the ring engine behind reduce_scatter, allgather
 * and allreduce(ring).
 *
 * The vector is split into `size` blocks (rdv_coll_block). Every rank
 * sends to its right neighbour and receives from its left one.
 *   reduce-scatter step s (0..n-2): send block r-s-1, receive block
 *     r-s-2 and reduce it with this rank's own input, so after n-1 steps
 *     rank r holds block r reduced over all ranks;
 *   allgather step s (0..n-2): send block r-s, receive block r-s-1.
 * Block b is reduced in one fixed order (starting at rank b+1, going
 * round the ring) and only its owner holds the final value, which the
 * allgather copies verbatim: every rank ends with identical bits.
 *
 * Pipelining: each step is cut into chunks, and the steps' chunks form
 * one sequence of segments. At any time one send (to the right) and one
 * recv (from the left) are in flight, and the recv of segment i+1 is
 * posted before segment i is reduced. The send of segment i forwards
 * what segment i - chunks received, so it is posted as soon as that
 * chunk has been reduced, not when the whole step is over. Sends and
 * recvs are one segment each, so the two sides' messages match one for
 * one (the transport frames every request). A recv lands in one of two
 * chunk buffers (reduce) or straight in place (gather). The loop waits
 * for whichever request finishes first (rdv_coll_wait_any).
 */
#include <string.h>
#include <stdlib.h>

#include "collectives/coll_internal.h"

typedef struct ring_run {
    rdv_coll *c;
    const rdv_ring *g;
    size_t es;
    int n, r;
    int rs_steps;
    size_t celems;  /* elements per chunk */
    size_t nchunks; /* chunks per step */
    size_t nseg;
    char *tmp[2];   /* reduce-scatter receive buffers, one chunk each */
    int tmpk;
    char *work;     /* out mode: one scratch block per step but the last */
    size_t maxblock;
    rdv_request sq, rq;
    size_t send_at, recv_at; /* segment posted, or nseg when idle */
    size_t next_send, next_recv, recv_done;
} ring_run;

typedef struct seg {
    int step;
    int is_rs;
    int block;
    size_t off;   /* element offset of the block in the vector */
    size_t start; /* element offset of the chunk in the block */
    size_t len;   /* elements, 0 for an empty segment */
} seg;

static seg seg_at(const ring_run *w, size_t i, int is_send)
{
    seg s = {.step = (int)(i / w->nchunks)};
    size_t blen;
    int k;

    s.is_rs = s.step < w->rs_steps;
    k = s.is_rs ? s.step + 1 : s.step - w->rs_steps;
    s.block = rdv_coll_mod(w->r - k - (is_send ? 0 : 1), w->n);
    rdv_coll_block(w->g->total, w->n, s.block, &s.off, &blen);
    s.start = (i % w->nchunks) * w->celems;
    s.len = s.start < blen ? blen - s.start : 0;
    if (s.len > w->celems)
        s.len = w->celems;
    return s;
}

/* Where the block reduced at reduce-scatter step `step` lives. In out
 * mode every step but the last has its own scratch block, so a block
 * still being sent is never overwritten by a later step's reduction. */
static char *acc_at(const ring_run *w, int step, const seg *s)
{
    if (!w->g->out)
        return w->g->dst + s->off * w->es;
    if (step == w->rs_steps - 1)
        return w->g->out;
    return w->work + (size_t)step * w->maxblock * w->es;
}

static const char *send_ptr(const ring_run *w, const seg *s)
{
    if (!s->is_rs)
        return w->g->dst + (s->off + s->start) * w->es;
    if (s->step == 0)
        return w->g->src + (s->off + s->start) * w->es;
    return acc_at(w, s->step - 1, s) + s->start * w->es;
}

static size_t skip_empty(const ring_run *w, size_t i, int is_send)
{
    while (i < w->nseg && seg_at(w, i, is_send).len == 0)
        i++;
    return i;
}

/* A send forwards what the recv one step earlier produced. */
static int send_ready(const ring_run *w, size_t i)
{
    return i < w->nchunks || i - w->nchunks < w->recv_done;
}

static int post_recv_next(ring_run *w)
{
    seg s;
    char *buf;

    w->next_recv = skip_empty(w, w->next_recv, 0);
    if (w->next_recv >= w->nseg) {
        w->recv_done = w->nseg;
        return RDV_OK;
    }
    s = seg_at(w, w->next_recv, 0);
    buf = s.is_rs ? w->tmp[w->tmpk]
                  : w->g->dst + (s.off + s.start) * w->es;
    w->recv_at = w->next_recv++;
    w->c->step = s.step;
    return rdv_coll_post_recv(w->c, &w->rq, rdv_coll_mod(w->r - 1, w->n),
                              buf, s.len * w->es);
}

/* One send per segment: the transport frames every request and the
 * receiver posts exactly the same segments, so the lengths must match
 * one for one (merging ready chunks on one side only would not). */
static int post_send_next(ring_run *w)
{
    seg s;

    w->next_send = skip_empty(w, w->next_send, 1);
    if (w->next_send >= w->nseg || !send_ready(w, w->next_send))
        return RDV_OK;
    s = seg_at(w, w->next_send, 1);
    w->send_at = w->next_send++;
    w->c->step = s.step;
    return rdv_coll_post_send(w->c, &w->sq, rdv_coll_mod(w->r + 1, w->n),
                              send_ptr(w, &s), s.len * w->es);
}

/* Recv of segment i is complete: queue the next recv into the other
 * buffer, then reduce this one while it arrives. */
static int finish_recv(ring_run *w)
{
    size_t i = w->recv_at;
    seg s = seg_at(w, i, 0);
    const char *in = w->tmp[w->tmpk];
    int rc;

    w->recv_at = w->nseg;
    w->tmpk ^= s.is_rs;
    w->recv_done = i + 1;
    rc = post_recv_next(w);
    if (rc == RDV_OK && s.is_rs)
        rdv_reduce_apply(acc_at(w, s.step, &s) + s.start * w->es,
                         w->g->src + (s.off + s.start) * w->es, in, s.len,
                         w->g->type, w->g->op);
    if (w->recv_at == w->nseg && w->next_recv >= w->nseg)
        w->recv_done = w->nseg;
    return rc;
}

/* The event loop: wait for whichever of the send and the recv finishes
 * first, so neither direction ever waits for the other (two ranks each
 * blocked on a send to the other, with no recv posted, would deadlock
 * once the socket buffers fill). */
static int drive(ring_run *w)
{
    rdv_request *both[2] = {&w->rq, &w->sq};
    int rc = post_recv_next(w);

    if (rc == RDV_OK)
        rc = post_send_next(w);
    while (rc == RDV_OK && (w->recv_at < w->nseg || w->send_at < w->nseg)) {
        size_t at = w->recv_at < w->nseg ? w->recv_at : w->send_at;

        w->c->step = (int)(at / w->nchunks);
        rc = rdv_coll_wait_any(w->c, both, 2);
        if (rc == RDV_OK && w->recv_at < w->nseg && !w->rq.active)
            rc = finish_recv(w);
        if (rc == RDV_OK && w->send_at < w->nseg && !w->sq.active)
            w->send_at = w->nseg;
        if (rc == RDV_OK && w->send_at == w->nseg)
            rc = post_send_next(w);
    }
    return rc;
}

int rdv_ring_run(rdv_coll *c, const rdv_ring *g)
{
    ring_run w = {.c = c, .g = g, .n = c->size, .r = c->rank};
    size_t maxblock, boff, chunk;
    int rc;

    w.es = rdv_dtype_size(g->type);
    w.rs_steps = g->rs ? w.n - 1 : 0;
    rdv_coll_block(g->total, w.n, 0, &boff, &maxblock);
    w.maxblock = maxblock;
    chunk = rdv_coll_chunk_bytes(w.es) / w.es;
    w.celems = maxblock < chunk ? maxblock : chunk;
    w.nchunks = w.celems ? (maxblock + w.celems - 1) / w.celems : 0;
    w.nseg = w.nchunks * (size_t)(w.rs_steps + (g->ag ? w.n - 1 : 0));
    w.send_at = w.recv_at = w.nseg;
    if (w.nseg == 0)
        return RDV_OK;
    if (g->rs) {
        w.tmp[0] = rdv_coll_alloc(c, 2 * w.celems * w.es, "chunk buffers");
        if (!w.tmp[0])
            return RDV_ENOMEM;
        w.tmp[1] = w.tmp[0] + w.celems * w.es;
    }
    if (g->rs && g->out && w.rs_steps > 1) {
        w.work = rdv_coll_alloc(c, (size_t)(w.rs_steps - 1) * maxblock * w.es,
                                "scratch");
        if (!w.work) {
            free(w.tmp[0]);
            return RDV_ENOMEM;
        }
    }
    rc = drive(&w);
    free(w.work);
    free(w.tmp[0]);
    return rc;
}
