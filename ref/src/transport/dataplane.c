/*
 * transport/dataplane.c - post, poll and wait: every request moves as
 * one frame (frame.h) through the backend's send and recv.
 *
 * Why frames: a bare byte stream cannot tell a peer's message from a
 * different-sized one (mismatched collective calls) or from "I gave
 * up"; a header per message turns the first into RDV_EPROTO naming both
 * lengths and the second into an ABORT naming the rank that failed
 * first (abort.c). Payloads up to RDV_FRAME_SMALL ride in one transfer
 * with their header through the direction's bounce buffer (one copy of
 * at most 4 KiB, no extra syscall); larger ones send the header, then
 * the caller's buffer in place.
 *
 * Everything both backends must agree on is here, once: short transfers
 * are resubmitted, the io hook is asked before every transfer (so
 * faults look the same on io_uring and epoll) and sees the WIRE stream
 * (headers included: "reset after n bytes" counts what crossed the
 * socket), EOF and resets become errors naming the peer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "dataplane.h"
#include "rdv/store_ops.h"

const char *rdv_dp_dir_words(int d)
{
    return d == DIR_SEND ? "send to" : "recv from";
}

static uint64_t data_tag(int peer, int d)
{
    return RDV_TAG_TRANSPORT | ((uint64_t)peer << 1) | (uint64_t)d;
}

/* Hands the next chunk of the frame in peer's direction d to the
 * backend, after asking the io hook how much may move and whether to
 * wait. */
static int issue(rdv_transport *t, int peer, int d, int64_t now)
{
    tpeer *p = &t->peers[peer];
    tdir *x = &p->d[d];
    const rdv_request *r = x->req;
    size_t want = x->seg_len - x->seg_done;
    unsigned char *at = x->seg + x->seg_done;
    int ret;

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
            return rdv_dp_fail(t, RDV_EPEER, peer,
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
    if (d == DIR_SEND)
        ret = t->ops->send(t->be, p->fd, at, want, data_tag(peer, d));
    else
        ret = t->ops->recv(t->be, p->fd, at, want, data_tag(peer, d),
                           RDV_DEADLINE_NONE);
    if (ret < 0)
        return rdv_dp_fail(t, RDV_EIO, peer,
                           "%s rank %d (%s): cannot submit: %s",
                           rdv_dp_dir_words(d), peer, p->desc,
                           strerror(-ret));
    x->busy = 1;
    return RDV_OK;
}

/* Sets up the frame of r: the header (and a small payload) in the
 * bounce buffer first. */
static void frame_start(tdir *x, const rdv_request *r, int d)
{
    size_t body = r->len <= RDV_FRAME_SMALL ? r->len : 0;

    x->stage = SEG_HEAD;
    x->known = 0;
    x->seg = x->bounce;
    x->seg_len = RDV_FRAME_HDR + body;
    x->seg_done = 0;
    x->fdone = 0;
    if (d == DIR_SEND) {
        rdv_frame_encode(x->bounce, RDV_FRAME_DATA, x->seq, r->len);
        if (body)
            memcpy(x->bounce + RDV_FRAME_HDR, r->buf, body);
    }
}

static void frame_done(tdir *x)
{
    x->req->done = x->req->len;
    x->req->active = 0;
    x->req = NULL;
    x->seq++;
    x->fdone = 0;
}

/* The frame's payload goes on in the caller's buffer. */
static void frame_body(tdir *x)
{
    x->stage = SEG_BODY;
    x->seg = x->req->buf;
    x->seg_len = x->req->len;
    x->seg_done = 0;
}

int rdv_transport_post(rdv_transport *t, rdv_request *req)
{
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
    t->peers[req->peer].d[d].req = req;
    frame_start(&t->peers[req->peer].d[d], req, d);
    return issue(t, req->peer, d, rdv_now_ns());
}

/* n more wire bytes moved in x. */
static void advance(rdv_transport *t, tdir *x, int d, size_t n)
{
    x->seg_done += n;
    x->fdone += n;
    x->moved += n;
    if (d == DIR_SEND)
        t->sent += n;
    else
        t->received += n;
    if (x->stage == SEG_BODY)
        x->req->done = x->seg_done;
    else if (x->stage == SEG_HEAD && x->seg_done > RDV_FRAME_HDR)
        x->req->done = x->seg_done - RDV_FRAME_HDR;
}

/* The header of the frame coming from peer is in the bounce buffer. */
static int recv_header(rdv_transport *t, int peer)
{
    tpeer *p = &t->peers[peer];
    tdir *x = &p->d[DIR_RECV];
    rdv_frame f;
    uint32_t raw;

    if (rdv_frame_decode(x->bounce, &f, &raw) < 0)
        return rdv_dp_fail(t, RDV_EPROTO, peer,
                           "recv from rank %d (%s): not an rdv frame "
                           "(first word 0x%08x) after %llu bytes",
                           peer, p->desc, raw,
                           (unsigned long long)(x->moved - x->seg_done));
    x->known = 1;
    if (f.kind == RDV_FRAME_ABORT) {
        if (f.len < 4 || f.len > RDV_FRAME_ABORT_MAX)
            return rdv_dp_fail(t, RDV_EPROTO, peer,
                               "recv from rank %d (%s): ABORT frame of "
                               "%llu bytes (4 to %d allowed)",
                               peer, p->desc, (unsigned long long)f.len,
                               RDV_FRAME_ABORT_MAX);
        x->stage = SEG_ABORT;
        x->seg_len = RDV_FRAME_HDR + (size_t)f.len;
        return RDV_OK;
    }
    if (f.seq != x->seq)
        return rdv_dp_fail(t, RDV_EPROTO, peer,
                           "recv from rank %d (%s): message #%u arrived "
                           "where #%u was due (a stale or foreign stream?)",
                           peer, p->desc, f.seq, x->seq);
    if (f.len != x->req->len)
        return rdv_dp_fail(t, RDV_EPROTO, peer,
                           "rank %d (%s) sent a %llu-byte message where "
                           "this rank expected %zu (mismatched collective "
                           "calls?)",
                           peer, p->desc, (unsigned long long)f.len,
                           x->req->len);
    if (x->req->len > RDV_FRAME_SMALL)
        frame_body(x);
    return RDV_OK;
}

static int recv_step(rdv_transport *t, int peer)
{
    tdir *x = &t->peers[peer].d[DIR_RECV];
    int ret;

    if (x->stage == SEG_HEAD && !x->known &&
        x->seg_done >= RDV_FRAME_HDR &&
        (ret = recv_header(t, peer)) != RDV_OK)
        return ret;
    if (x->seg_done < x->seg_len)
        return issue(t, peer, DIR_RECV, rdv_now_ns());
    if (x->stage == SEG_ABORT)
        return rdv_dp_abort_received(t, peer);
    if (x->stage == SEG_HEAD)
        memcpy(x->req->buf, x->bounce + RDV_FRAME_HDR, x->req->len);
    frame_done(x);
    return RDV_OK;
}

static int send_step(rdv_transport *t, int peer)
{
    tdir *x = &t->peers[peer].d[DIR_SEND];

    if (x->seg_done < x->seg_len)
        return issue(t, peer, DIR_SEND, rdv_now_ns());
    if (x->stage == SEG_HEAD && x->req->len > RDV_FRAME_SMALL) {
        frame_body(x);
        return issue(t, peer, DIR_SEND, rdv_now_ns());
    }
    frame_done(x);
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
    if (ev->res < 0) {
        int e = -ev->res;

        return rdv_dp_fail(t,
                           (e == ECONNRESET || e == EPIPE) ? RDV_EPEER
                                                           : RDV_EIO,
                           peer, "%s rank %d (%s): %s after %zu of %zu bytes",
                           rdv_dp_dir_words(d), peer, p->desc, strerror(e),
                           x->req->done, x->req->len);
    }
    if (ev->res == 0 && d == DIR_RECV)
        return rdv_dp_fail(t, RDV_EPEER, peer,
                           "recv from rank %d (%s): peer closed the "
                           "connection after %zu of %zu bytes",
                           peer, p->desc, x->req->done, x->req->len);
    advance(t, x, d, (size_t)ev->res);
    return d == DIR_RECV ? recv_step(t, peer) : send_step(t, peer);
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
        int64_t wake = t->nheld ? release_held(t, deadline) : deadline;
        int n = t->ops->poll(t->be, evs, max, wake);
        int kept = 0;

        if (n == -EEXIST)
            return rdv_dp_fail(t, RDV_EIO, t->rank,
                               "transport poll (%s): the ring is "
                               "single-issuer and this is not the thread "
                               "that connected the context",
                               t->ops->name);
        if (n < 0)
            return rdv_dp_fail(t, RDV_EIO, t->rank,
                               "transport poll (%s): %s", t->ops->name,
                               strerror(-n));
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
