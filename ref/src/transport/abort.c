/*
 * transport/abort.c - how a transport fails: it tells its peers, then
 * lets go of every buffer.
 *
 * Why: a rank that fails used to just stop, so a rank waiting on it
 * could only time out or see EOF and blame it, and the blame cascaded
 * away from the rank that really failed (0 waits on 2, 2 waits on the
 * dead 1: 0 said "peer 2"). Now the failing rank sends each peer an
 * ABORT frame naming the culprit - the peer that failed it, or the
 * culprit an ABORT it received named - so the root cause travels
 * transitively and the receiver's error names it first.
 *
 * Rules for sending ABORT:
 *  - best effort and never blocking (MSG_DONTWAIT | MSG_NOSIGNAL, a
 *    few hundred bytes into what is normally an empty socket buffer);
 *  - only at a frame boundary of the send direction. A frame half on
 *    the wire, or a send the backend still holds (whose progress is
 *    unknown), means the socket is shut down for writing instead: the
 *    peer sees EOF mid-frame rather than a garbled stream;
 *  - before deciding, the completions already queued are accounted
 *    (the rest of poll's batch, then the backend's ready events) so a
 *    send that did finish counts as finished. Rendezvous events drained
 *    this way are dropped: the transport is failed anyway.
 *  - ABORT bypasses the io hook: it models the network, while ABORT is
 *    the failing rank's last word.
 *
 * Every failure has a reason (transport.h: closed, reset, timeout,
 * aborted, protocol, io) kept beside the culprit; the reason decides
 * the status, in one table here, so the two can never disagree.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "dataplane.h"
#include "rdv/clock.h"

void rdv_dp_abort_peers(rdv_transport *t, int culprit, const char *reason)
{
    unsigned char frame[RDV_FRAME_HDR + RDV_FRAME_ABORT_MAX];

    for (int i = 0; i < t->size; i++) {
        tpeer *p = &t->peers[i];
        tdir *x = &p->d[DIR_SEND];
        ssize_t n = -1;
        size_t len;

        if (i == t->rank || p->fd < 0 || p->tx_closed)
            continue;
        p->tx_closed = 1;
        if (!x->busy && x->fdone == 0) {
            len = rdv_frame_abort(frame, x->seq, culprit, reason);
            do
                n = send(p->fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL);
            while (n < 0 && errno == EINTR); /* nothing moved: retry */
            if (n == (ssize_t)len)
                continue;
        }
        shutdown(p->fd, SHUT_WR);
    }
}

/* Accounts the completions that are already there (see the head). */
static void drain(rdv_transport *t)
{
    const rdv_event *rest = t->rest;
    int nrest = t->nrest;
    rdv_event evs[64];

    t->rest = NULL;
    t->nrest = 0;
    for (int i = 0; i < nrest; i++)
        rdv_dp_account(t, &rest[i]);
    for (int round = 0; round < 4; round++) {
        int n = t->ops->poll(t->be, evs, 64, rdv_now_ns());

        for (int i = 0; i < n; i++)
            rdv_dp_account(t, &evs[i]);
        if (n < 64)
            break;
    }
}

/* Nothing may write into a posted buffer after the failing call
 * returns. */
static void cancel_all(rdv_transport *t, int status)
{
    for (int i = 0; i < t->size; i++) {
        tpeer *p = &t->peers[i];

        if (p->fd >= 0)
            t->ops->forget(t->be, p->fd);
        for (int d = 0; d < 2; d++) {
            tdir *x = &p->d[d];

            if (x->req) {
                x->req->status = status;
                x->req->active = 0;
                x->req = NULL;
            }
            x->busy = 0;
            x->hold = 0;
        }
    }
    t->nheld = 0;
}

/* Each reason with its one status, and its name. */
static const struct {
    int status;
    const char *name;
} reasons[] = {
    [RDV_FAIL_NONE] = {RDV_OK, "none"},
    [RDV_FAIL_CLOSED] = {RDV_EPEER, "closed"},
    [RDV_FAIL_RESET] = {RDV_EPEER, "reset"},
    [RDV_FAIL_TIMEOUT] = {RDV_ETIMEDOUT, "timeout"},
    [RDV_FAIL_ABORTED] = {RDV_EPEER, "aborted"},
    [RDV_FAIL_PROTOCOL] = {RDV_EPROTO, "protocol"},
    [RDV_FAIL_IO] = {RDV_EIO, "io"},
};

int rdv_fail_status(rdv_fail_reason reason)
{
    return (unsigned)reason < sizeof reasons / sizeof reasons[0]
               ? reasons[reason].status
               : RDV_EIO;
}

const char *rdv_fail_reason_name(rdv_fail_reason reason)
{
    return (unsigned)reason < sizeof reasons / sizeof reasons[0]
               ? reasons[reason].name
               : "unknown";
}

/* Fails the transport with the detail fmt; the peers' ABORT carries
 * root, the cause as first stated (NULL: the detail itself), so blame
 * relayed from rank to rank never wraps another rank's wrapping. */
static int fail_with(rdv_transport *t, rdv_fail_reason reason, int culprit,
                     const char *root, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail_with(rdv_transport *t, rdv_fail_reason reason, int culprit,
                     const char *root, const char *fmt, ...)
{
    int status = rdv_fail_status(reason);
    va_list ap;

    if (t->failed)
        return status;
    va_start(ap, fmt);
    vsnprintf(t->detail, sizeof t->detail, fmt, ap);
    va_end(ap);
    t->failed = status;
    t->culprit = culprit;
    t->reason = reason;
    t->grace = 0;
    drain(t);
    rdv_dp_abort_peers(t, culprit, root ? root : t->detail);
    cancel_all(t, status);
    return status;
}

int rdv_dp_fail(rdv_transport *t, rdv_fail_reason reason, int culprit,
                const char *fmt, ...)
{
    char detail[sizeof t->detail];
    va_list ap;

    if (t->failed)
        return rdv_fail_status(reason);
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return fail_with(t, reason, culprit, NULL, "%s", detail);
}

int rdv_dp_abort_received(rdv_transport *t, int peer,
                          const unsigned char *payload, size_t len)
{
    tpeer *p = &t->peers[peer];
    tdir *x = &p->d[DIR_RECV];
    char why[RDV_FRAME_ABORT_MAX];
    int c;

    if (rdv_frame_abort_parse(payload, len, &c, why, sizeof why) < 0)
        return rdv_dp_fail(t, RDV_FAIL_PROTOCOL, peer,
                           "recv from rank %d (%s): malformed ABORT frame",
                           peer, p->desc);
    if (c < 0 || c >= t->size)
        c = peer;
    if (c == t->rank) {
        if (t->grace) {
            x->blamed = 1; /* nothing more comes from peer */
            return RDV_OK;
        }
        return fail_with(t, RDV_FAIL_ABORTED, c, why,
                         "rank %d (%s) gave up on this rank (%d): %s", peer,
                         p->desc, t->rank, why);
    }
    if (c == peer)
        return fail_with(t, RDV_FAIL_ABORTED, c, why,
                         "rank %d (%s) failed: %s", peer, p->desc, why);
    return fail_with(t, RDV_FAIL_ABORTED, c, why,
                     "rank %d failed first (reported by rank %d at %s: %s)",
                     c, peer, p->desc, why);
}
