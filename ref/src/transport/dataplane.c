/*
 * transport/dataplane.c - post, poll and wait: every request moves as
 * one frame (frame.h) through the backend's send and recv.
 *
 * Why frames: a bare byte stream cannot carry "I gave up" next to the
 * data; with a header per send, a failing rank can append an ABORT
 * naming the rank that failed first (abort.c), and bytes from something
 * that is not an rdv peer are RDV_EPROTO instead of data. Frames are
 * stream segments, not messages (see rdv_transport_post): the receiver
 * is a buffered reader, and no per-message length check is possible
 * while ring.c sends several chunks as one message.
 *
 * Cost: a payload up to RDV_FRAME_SMALL rides in one send with its
 * header (one copy of at most 64 KiB, no extra transfer; dataplane.h
 * says why 64); a larger one sends the header, then the caller's buffer
 * in place. A recv reads a header and a small payload in one go into
 * the bounce buffer, and large stretches of payload straight into the
 * caller's buffer. Bounce buffers start small and grow to what their
 * direction's requests need, between requests (bounce_fit). On
 * io_uring a send is first tried straight from the calling thread
 * (send_now): a frame the socket takes completes at once, so a 4 B
 * allreduce at N=2 costs one send() and one io_uring_enter per call
 * per rank (submit the recv and sleep until it is done) instead of an
 * enter that returned for the send's completion and a second one for
 * the recv (about 1.5 per call before).
 *
 * Everything both backends must agree on is here, once: short transfers
 * are resubmitted, the io hook is asked before every transfer (so
 * faults look the same on io_uring and epoll) and sees the WIRE stream
 * (headers included: "reset after n bytes" counts what crossed the
 * socket), EOF and resets become errors naming the peer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dataplane.h"
#include "rdv/clock.h"

const char *rdv_dp_dir_words(int d)
{
    return d == DIR_SEND ? "send to" : "recv from";
}

static uint64_t data_tag(int peer, int d)
{
    return RDV_TAG_TRANSPORT | ((uint64_t)peer << 1) | (uint64_t)d;
}

/* The part of issue() before the transfer: 1 with the chunk to move
 * in *want and *at; else what issue() returns now (RDV_OK: nothing to
 * move yet, the peer was told this rank gave up or the hook holds the
 * chunk; or the failure of an injected reset). */
static int issue_one(rdv_transport *t, int peer, int d, int64_t now,
                     size_t *wantp, unsigned char **atp)
{
    tpeer *p = &t->peers[peer];
    tdir *x = &p->d[d];
    const rdv_request *r = x->req;
    size_t want = x->seg_len - x->seg_done;

    if (d == DIR_SEND && p->tx_closed)
        return RDV_OK; /* the peer was told this rank gave up */
    if (x->hold) {
        if (now < x->hold)
            return RDV_OK;
        x->hold = 0;
        t->nheld--;
        want = x->chunk;
    } else if (t->hooks && t->hooks->io) {
        int64_t delay = 0;
        int64_t n = t->hooks->io(t->hooks->arg, peer, d == DIR_SEND,
                                 x->moved, want, &delay);

        if (n < 0) {
            shutdown(p->fd, SHUT_RDWR);
            return rdv_dp_fail(t, RDV_FAIL_RESET, peer,
                               "%s rank %d (%s): connection reset (injected) "
                               "after %zu of %zu bytes",
                               rdv_dp_dir_words(d), peer, p->desc, r->done,
                               r->len);
        }
        if (n > 0 && (size_t)n < want)
            want = (size_t)n;
        if (delay > 0) {
            x->hold = now + delay;
            x->chunk = want;
            t->nheld++;
            return RDV_OK;
        }
    }
    *wantp = want;
    *atp = x->seg + x->seg_done;
    return 1;
}

static void advance(rdv_transport *t, tdir *x, int d, size_t n);
static int send_next(tdir *x);

/* A transfer in peer's direction d ended in -e (errno): the peer's
 * fault for a reset, this rank's connection's for anything else. */
static int transfer_failed(rdv_transport *t, int peer, int d, int e)
{
    tpeer *p = &t->peers[peer];

    return rdv_dp_fail(t,
                       (e == ECONNRESET || e == EPIPE) ? RDV_FAIL_RESET
                                                       : RDV_FAIL_IO,
                       peer, "%s rank %d (%s): %s after %zu of %zu bytes",
                       rdv_dp_dir_words(d), peer, p->desc, strerror(e),
                       p->d[d].req->done, p->d[d].req->len);
}

/* A send straight from this call, for a backend whose ops do not try
 * at once (io_uring): the bytes the socket took, or -errno (-EAGAIN:
 * none); either way the backend's op then waits for room or meets the
 * error again. A frame that fits in the
 * socket buffer then needs no completion, so the next wait's
 * io_uring_enter submits the recv and sleeps until it is done, instead
 * of returning for the send's completion first and entering again.
 * Only the data plane writes to a peer's socket between frames (abort.c
 * too, only at a frame boundary with no send in the backend), so no
 * queued send can be overtaken. */
static int send_now(const tpeer *p, const void *buf, size_t len)
{
    ssize_t n;

    do
        n = send(p->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR); /* nothing moved: retry */
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return n > 0 ? (int)n : -EAGAIN;
}

/* Hands the next chunk of the frame in peer's direction d to the
 * backend, after asking the io hook how much may move and whether to
 * wait. A send the socket takes at once (send_now) moves on to the
 * frame's next chunk here, asking the hook again, until the frame is
 * done or a chunk must wait in the backend. */
static int issue(rdv_transport *t, int peer, int d, int64_t now)
{
    for (;;) {
        tpeer *p = &t->peers[peer];
        tdir *x = &p->d[d];
        size_t want = 0;
        unsigned char *at = NULL;
        int ret;

        if ((ret = issue_one(t, peer, d, now, &want, &at)) != 1)
            return ret;
        if (d == DIR_SEND && !t->ops->tries_at_once) {
            int res = send_now(p, at, want);

            if (res >= 0) {
                advance(t, x, d, (size_t)res);
                if (x->seg_done < x->seg_len || send_next(x)) {
                    now = rdv_now_ns();
                    continue; /* the rest, or the body: ask the hook */
                }
                return RDV_OK;
            }
            /* EAGAIN, or an error (EPIPE, ECONNRESET): the backend's
             * send meets it again, and reports it as a completion in
             * order, after any recv that came first, such as a peer's
             * ABORT naming the rank to blame. */
        }
        if (d == DIR_SEND)
            ret = t->ops->send(t->be, p->fd, at, want, data_tag(peer, d));
        else
            ret = t->ops->recv(t->be, p->fd, at, want, data_tag(peer, d),
                               RDV_DEADLINE_NONE);
        if (ret != RDV_OK) /* a local failure: this rank is to blame */
            return rdv_dp_fail(t, RDV_FAIL_IO, t->rank,
                               "%s rank %d (%s): cannot submit on %s: %s",
                               rdv_dp_dir_words(d), peer, p->desc,
                               t->ops->name, t->ops->errmsg(t->be));
        x->busy = 1;
        return RDV_OK;
    }
}

/* Sets up the frame of send request r: the header (and a small
 * payload) in the bounce buffer first. */
static void frame_start(tdir *x, const rdv_request *r)
{
    size_t body = r->len <= RDV_FRAME_SMALL ? r->len : 0;

    x->stage = SEG_HEAD;
    x->seg = x->bounce;
    x->seg_len = RDV_FRAME_HDR + body;
    x->seg_done = 0;
    x->fdone = 0;
    rdv_frame_encode(x->bounce, RDV_FRAME_DATA, x->seq, r->len);
    if (body)
        memcpy(x->bounce + RDV_FRAME_HDR, r->buf, body);
}

static void req_done(tdir *x)
{
    x->req->done = x->req->len;
    x->req->active = 0;
    x->req = NULL;
}

static void frame_done(tdir *x)
{
    req_done(x);
    x->seq++;
    x->fdone = 0;
}

static int recv_pump(rdv_transport *t, int peer);

/* Grows the bounce buffer of peer's direction d for a request of len
 * bytes, keeping what it buffers: a header and a small payload; for a
 * large request, a send's header (its payload goes from the caller's
 * buffer) or a recv's header and the RDV_DP_DIRECT bytes it reads
 * through the bounce (recv_more). Called between requests, when no
 * transfer uses it. */
static int bounce_fit(rdv_transport *t, int peer, int d, size_t len)
{
    tdir *x = &t->peers[peer].d[d];
    size_t body = len <= RDV_FRAME_SMALL ? len
                  : d == DIR_SEND        ? 0
                                         : RDV_DP_DIRECT;
    size_t need = RDV_FRAME_HDR + body;
    size_t cap = x->bcap ? x->bcap : RDV_DP_BOUNCE_MIN;
    unsigned char *b;

    if (x->bounce && x->bcap >= need)
        return RDV_OK;
    while (cap < need)
        cap *= 2;
    if (cap > RDV_DP_BOUNCE)
        cap = RDV_DP_BOUNCE;
    if (!(b = realloc(x->bounce, cap))) {
        snprintf(t->detail, sizeof t->detail,
                 "%s rank %d: out of memory for its %zu-byte buffer",
                 rdv_dp_dir_words(d), peer, cap);
        return RDV_ENOMEM;
    }
    x->bounce = b;
    x->bcap = cap;
    return RDV_OK;
}

int rdv_transport_post(rdv_transport *t, rdv_request *req)
{
    tdir *x;
    int d, ret;

    if ((ret = rdv_transport_check_pid(t)) != RDV_OK)
        return ret;
    if (t->failed)
        return RDV_ESTATE;
    d = req->is_send ? DIR_SEND : DIR_RECV;
    if (req->peer < 0 || req->peer >= t->size || req->peer == t->rank ||
        t->peers[req->peer].fd < 0) {
        snprintf(t->detail, sizeof t->detail,
                 "%s rank %d: no connection (this is rank %d of %d)",
                 rdv_dp_dir_words(d), req->peer, t->rank, t->size);
        return RDV_EINVAL;
    }
    if (t->peers[req->peer].d[d].req) {
        snprintf(t->detail, sizeof t->detail,
                 "%s rank %d: a request in that direction is already in "
                 "flight",
                 rdv_dp_dir_words(d), req->peer);
        return RDV_EINVAL;
    }
    req->done = 0;
    req->status = RDV_OK;
    req->active = req->len > 0;
    if (!req->active)
        return RDV_OK; /* nothing goes on the wire, on either side */
    x = &t->peers[req->peer].d[d];
    if ((ret = bounce_fit(t, req->peer, d, req->len)) != RDV_OK) {
        req->active = 0;
        return ret;
    }
    x->req = req;
    if (d == DIR_RECV)
        return recv_pump(t, req->peer); /* may be buffered already */
    frame_start(x, req);
    return issue(t, req->peer, d, rdv_now_ns());
}

/* n more wire bytes moved in x. */
static void advance(rdv_transport *t, tdir *x, int d, size_t n)
{
    x->seg_done += n;
    x->fdone += n;
    x->moved += n;
    if (d == DIR_SEND) {
        t->sent += n;
        x->req->done = x->stage == SEG_BODY ? x->seg_done
                       : x->seg_done > RDV_FRAME_HDR
                           ? x->seg_done - RDV_FRAME_HDR
                           : 0;
    } else {
        t->received += n;
        if (x->stage == SEG_BODY) {
            x->req->done += n;
            x->frame_left -= n;
        } else {
            x->blen += n;
        }
    }
}

/* A header from peer is at bounce[boff]: consume it. */
static int recv_header(rdv_transport *t, int peer)
{
    tpeer *p = &t->peers[peer];
    tdir *x = &p->d[DIR_RECV];
    rdv_frame f;
    uint32_t raw;

    if (rdv_frame_decode(x->bounce + x->boff, &f, &raw) < 0)
        return rdv_dp_fail(t, RDV_FAIL_PROTOCOL, peer,
                           "recv from rank %d (%s): not an rdv frame "
                           "(first word 0x%08x) after %llu bytes",
                           peer, p->desc, raw,
                           (unsigned long long)(x->moved -
                                                (x->blen - x->boff)));
    x->boff += RDV_FRAME_HDR;
    if (f.kind == RDV_FRAME_ABORT) {
        if (f.len < 4 || f.len > RDV_FRAME_ABORT_MAX)
            return rdv_dp_fail(t, RDV_FAIL_PROTOCOL, peer,
                               "recv from rank %d (%s): ABORT frame of "
                               "%llu bytes (4 to %d allowed)",
                               peer, p->desc, (unsigned long long)f.len,
                               RDV_FRAME_ABORT_MAX);
        x->abort_len = (size_t)f.len;
        return RDV_OK;
    }
    if (f.seq != x->seq || f.len == 0)
        return rdv_dp_fail(t, RDV_FAIL_PROTOCOL, peer,
                           "recv from rank %d (%s): message #%u of %llu "
                           "bytes arrived where #%u was due (a stale or "
                           "foreign stream?)",
                           peer, p->desc, f.seq, (unsigned long long)f.len,
                           x->seq);
    x->seq++;
    x->frame_left = f.len;
    return RDV_OK;
}

/* Reads more from peer: a stretch of payload of RDV_DP_DIRECT bytes or
 * more straight into the caller's buffer, anything else (headers, small
 * payloads, an ABORT) into the bounce buffer, asking for no more than
 * this request and one header could use (for a large request, the
 * header and RDV_DP_DIRECT bytes: copying 64 KiB of every chunk of a
 * 4 MiB allreduce through the bounce cost 10-25% of its time). */
static int recv_more(rdv_transport *t, int peer)
{
    tdir *x = &t->peers[peer].d[DIR_RECV];
    size_t rem = x->req->len - x->req->done;
    size_t have = x->blen - x->boff, want;

    if (have == 0 && !x->abort_len && x->frame_left >= RDV_DP_DIRECT &&
        rem >= RDV_DP_DIRECT) {
        x->stage = SEG_BODY;
        x->seg = (unsigned char *)x->req->buf + x->req->done;
        x->seg_len = x->frame_left < rem ? (size_t)x->frame_left : rem;
    } else {
        memmove(x->bounce, x->bounce + x->boff, have);
        x->boff = 0;
        x->blen = have;
        /* a large recv reads its frame's header and only the start of
         * the payload here: the rest goes straight to the caller */
        want = x->abort_len                ? x->abort_len - have
               : rem <= RDV_FRAME_SMALL ? RDV_FRAME_HDR + rem
                                        : RDV_FRAME_HDR + RDV_DP_DIRECT;
        x->stage = SEG_HEAD;
        x->seg = x->bounce + have;
        x->seg_len = x->bcap - have;
        if (want < x->seg_len)
            x->seg_len = want;
    }
    x->seg_done = 0;
    return issue(t, peer, DIR_RECV, rdv_now_ns());
}

/* Moves what the bounce buffer holds into the request, header by
 * header, then reads more unless the request is complete. */
static int recv_pump(rdv_transport *t, int peer)
{
    tdir *x = &t->peers[peer].d[DIR_RECV];
    rdv_request *r = x->req;
    int ret;

    while (!x->blamed) {
        size_t have = x->blen - x->boff, n;

        if (r->done == r->len) {
            req_done(x);
            return RDV_OK;
        }
        if (x->abort_len) {
            if (have < x->abort_len)
                return recv_more(t, peer);
            n = x->abort_len;
            x->abort_len = 0;
            x->boff += n;
            ret = rdv_dp_abort_received(t, peer, x->bounce + x->boff - n, n);
            if (ret != RDV_OK)
                return ret;
            continue;
        }
        if (x->frame_left == 0) {
            if (have < RDV_FRAME_HDR)
                return recv_more(t, peer);
            if ((ret = recv_header(t, peer)) != RDV_OK)
                return ret;
            continue;
        }
        if (have == 0)
            return recv_more(t, peer);
        n = r->len - r->done;
        if (n > have)
            n = have;
        if (n > x->frame_left)
            n = (size_t)x->frame_left;
        memcpy((char *)r->buf + r->done, x->bounce + x->boff, n);
        x->boff += n;
        x->frame_left -= n;
        r->done += n;
    }
    return RDV_OK; /* blamed in the grace: nothing more comes */
}

/* The send's current transfer is complete: 1 when the frame goes on
 * (its body after a large frame's header), 0 when it is done. */
static int send_next(tdir *x)
{
    if (x->stage == SEG_HEAD && x->req->len > RDV_FRAME_SMALL) {
        x->stage = SEG_BODY;
        x->seg = x->req->buf;
        x->seg_len = x->req->len;
        x->seg_done = 0;
        return 1;
    }
    frame_done(x);
    return 0;
}

static int send_step(rdv_transport *t, int peer)
{
    tdir *x = &t->peers[peer].d[DIR_SEND];

    if (x->seg_done < x->seg_len || send_next(x))
        return issue(t, peer, DIR_SEND, rdv_now_ns());
    return RDV_OK;
}

static int event_peer(const rdv_transport *t, const rdv_event *ev, int *d)
{
    int peer = (int)((ev->tag & ~RDV_TAG_TRANSPORT) >> 1);

    *d = (int)(ev->tag & 1);
    return peer >= 0 && peer < t->size ? peer : -1;
}

/* One completion of a data-plane op. */
static int complete(rdv_transport *t, const rdv_event *ev)
{
    int d, peer = event_peer(t, ev, &d);
    tpeer *p;
    tdir *x;

    if (peer < 0)
        return RDV_OK;
    p = &t->peers[peer];
    x = &p->d[d];
    x->busy = 0;
    if (!x->req)
        return RDV_OK;
    if (ev->res < 0 && d == DIR_SEND && p->tx_closed)
        return RDV_OK; /* our own shutdown after the deadline */
    if (ev->res < 0)
        return transfer_failed(t, peer, d, -ev->res);
    if (ev->res == 0 && d == DIR_RECV)
        return rdv_dp_fail(t, RDV_FAIL_CLOSED, peer,
                           "recv from rank %d (%s): peer closed the "
                           "connection after %zu of %zu bytes",
                           peer, p->desc, x->req->done, x->req->len);
    advance(t, x, d, (size_t)ev->res);
    return d == DIR_RECV ? recv_pump(t, peer) : send_step(t, peer);
}

void rdv_dp_account(rdv_transport *t, const rdv_event *ev)
{
    int d, peer = event_peer(t, ev, &d);
    tdir *x;

    if (peer < 0 || !(ev->tag & RDV_TAG_TRANSPORT))
        return;
    x = &t->peers[peer].d[d];
    x->busy = 0;
    if (d != DIR_SEND || !x->req || ev->res <= 0)
        return;
    advance(t, x, d, (size_t)ev->res);
    if (x->seg_done == x->seg_len &&
        (x->stage == SEG_BODY || x->req->len <= RDV_FRAME_SMALL))
        frame_done(x);
}

/* Submits held transfers whose delay is over; returns the next due. */
static int64_t release_held(rdv_transport *t, int64_t deadline)
{
    int64_t now = rdv_now_ns();

    for (int i = 0; t->nheld > 0 && i < t->size; i++) {
        for (int d = 0; d < 2; d++) {
            tdir *x = &t->peers[i].d[d];

            if (!x->hold)
                continue;
            if (issue(t, i, d, now) != RDV_OK)
                return deadline;
            if (x->hold && x->hold < deadline)
                deadline = x->hold;
        }
    }
    return deadline;
}

int rdv_transport_poll(rdv_transport *t, rdv_event *evs, int max,
                       int64_t deadline)
{
    int ret;

    if ((ret = rdv_transport_check_pid(t)) != RDV_OK)
        return ret;
    for (;;) {
        int64_t wake = deadline;
        int n, kept = 0;

        if (t->nheld) {
            uint64_t sent = t->sent;
            int failed = t->failed;

            wake = release_held(t, deadline);
            /* a held send that went out at once (send_now) has no
             * event to wait for: its request may be complete, or the
             * transport failed; the caller looks */
            if (!failed && t->failed)
                return t->failed;
            if (t->sent != sent)
                return 0;
        }
        n = t->ops->poll(t->be, evs, max, wake);

        if (n < 0)
            return rdv_dp_fail(t, RDV_FAIL_IO, t->rank,
                               "transport poll (%s): %s", t->ops->name,
                               t->ops->errmsg(t->be));
        for (int i = 0; i < n; i++) {
            if (!(evs[i].tag & RDV_TAG_TRANSPORT)) {
                evs[kept++] = evs[i];
                continue;
            }
            if (t->failed)
                continue;
            /* a failure still accounts the sends queued behind it */
            t->rest = evs + i + 1;
            t->nrest = n - i - 1;
            ret = complete(t, &evs[i]);
            t->rest = NULL;
            t->nrest = 0;
            if (ret != RDV_OK)
                return ret;
        }
        if (kept > 0 || n > 0 || rdv_now_ns() >= deadline)
            return kept;
    }
}
