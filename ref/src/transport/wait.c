/*
 * transport/wait.c - rdv_transport_wait: driving I/O until requests
 * complete, and what happens at the deadline.
 *
 * The timeout grace. When the deadline passes with requests pending,
 * this rank has failed, but it may not be the rank to blame: in
 * "0 waits on 2, 2 waits on the stopped 1" both 0 and 2 time out at
 * about the same moment, and only 2 can name 1. So at the deadline the
 * rank at once sends every peer an ABORT naming the peer it waits for
 * (abort.c), then keeps driving I/O for RDV_TRANSPORT_GRACE_MS more:
 *  - an ABORT that arrives in the grace and names another rank fails
 *    the wait with it (RDV_EPEER, that culprit first): 0 hears 2's
 *    "waiting for 1" whichever of the two reached its deadline first,
 *    as long as they are less than the grace apart;
 *  - an ABORT naming this rank is only noted: it comes from a rank
 *    that waited on this one, and this rank's own timeout says more;
 *  - otherwise the grace ends in RDV_ETIMEDOUT naming the pending peers
 *    - also when they completed in the grace: the peers were already
 *    told this rank gave up, so carrying on would only fail later with
 *    a worse message.
 * Sending the ABORT at the deadline rather than after the grace is what
 * makes the order of the two deadlines not matter.
 */
#include <stdio.h>

#include "dataplane.h"
#include "rdv/clock.h"
#include "spin.h"

/* What a spinning wait looks at (rdv_spin's check). */
typedef struct spin_look {
    rdv_transport *t;
    rdv_request *const *reqs;
    size_t n;
} spin_look;

/* One zero-timeout poll; 1 once every request is complete, one has
 * failed or the transport has (the wait's loop then says which). */
static int spin_check(void *arg)
{
    spin_look *l = arg;
    rdv_event evs[64];
    int ret = rdv_transport_poll(l->t, evs, 64, 0);

    if (ret < 0 || l->t->failed)
        return 1;
    for (size_t i = 0; i < l->n; i++)
        if (l->reqs[i]->active && l->reqs[i]->status >= 0)
            return 0;
    return 1;
}

/* The peer a pending wait blames: the first one that has not itself
 * blamed this rank (a peer that gave up on us is waiting too). */
static int pending_culprit(const rdv_transport *t, rdv_request *const *reqs,
                           size_t n)
{
    int first = -1;

    for (size_t i = 0; i < n; i++) {
        const rdv_request *r = reqs[i];
        int d = r->is_send ? DIR_SEND : DIR_RECV;

        if (!r->active)
            continue;
        if (!t->peers[r->peer].d[d].blamed)
            return r->peer;
        if (first < 0)
            first = r->peer;
    }
    return first >= 0 ? first : t->rank;
}

/* "recv from rank 1 (127.0.0.1:4000) at 0 of 8 bytes, ...": the
 * culprit's request first, as coll.c's culprit() takes the first rank. */
static void pending_list(const rdv_transport *t, rdv_request *const *reqs,
                         size_t n, int culprit, char *list, size_t cap)
{
    size_t off = 0, shown = 0;

    list[0] = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n && off < cap - 1; i++) {
            const rdv_request *r = reqs[i];

            if (!r->active || (r->peer == culprit) != (pass == 0))
                continue;
            if (shown++ == 4) {
                off += (size_t)snprintf(list + off, cap - off, ", ...");
                return;
            }
            off += (size_t)snprintf(
                list + off, cap - off, "%s%s rank %d (%s) at %zu of %zu bytes",
                off ? ", " : "",
                rdv_dp_dir_words(r->is_send ? DIR_SEND : DIR_RECV), r->peer,
                t->peers[r->peer].desc, r->done, r->len);
        }
    }
}

static int ms_since(int64_t started)
{
    return (int)((rdv_now_ns() - started) / 1000000);
}

/* The deadline passed: tell the peers now, then listen for the grace. */
static void grace_begin(rdv_transport *t, rdv_request *const *reqs,
                        size_t n, int64_t started)
{
    char list[RDV_FRAME_ABORT_MAX / 2], why[RDV_FRAME_ABORT_MAX];
    int c = pending_culprit(t, reqs, n);

    pending_list(t, reqs, n, c, list, sizeof list);
    snprintf(why, sizeof why, "timed out after %d ms: %s", ms_since(started),
             list);
    t->grace = 1;
    rdv_dp_abort_peers(t, c, why);
}

static int grace_end(rdv_transport *t, rdv_request *const *reqs, size_t n,
                     int64_t started, size_t pending)
{
    char list[RDV_DETAIL_MAX / 2];
    int c = pending_culprit(t, reqs, n);

    if (pending == 0) {
        /* everything arrived, but only after the peers were told */
        c = n ? reqs[0]->peer : t->rank;
        return rdv_dp_fail(t, RDV_FAIL_TIMEOUT, c,
                           "wait timed out: the requests (first: %s rank "
                           "%d) completed only %d ms after the wait began, "
                           "inside the grace after its deadline",
                           rdv_dp_dir_words(reqs[0]->is_send), c,
                           ms_since(started));
    }
    pending_list(t, reqs, n, c, list, sizeof list);
    return rdv_dp_fail(t, RDV_FAIL_TIMEOUT, c, "wait timed out after %d ms: %s",
                       ms_since(started), list);
}

int rdv_transport_wait(rdv_transport *t, rdv_request *const *reqs,
                       size_t n, int64_t deadline)
{
    int64_t started = rdv_now_ns(), until = deadline;
    rdv_event evs[64];
    int looked = 0, ret;

    if ((ret = rdv_transport_check_pid(t)) != RDV_OK)
        return ret;
    for (;;) {
        size_t pending = 0;

        if (t->failed)
            return t->failed;
        for (size_t i = 0; i < n; i++) {
            if (reqs[i]->status < 0)
                return reqs[i]->status;
            pending += reqs[i]->active != 0;
        }
        if (t->grace && (pending == 0 || rdv_now_ns() >= until))
            return grace_end(t, reqs, n, started, pending);
        if (pending == 0)
            return RDV_OK;
        /* a deadline already passed still gets one look (timeout 0) */
        if (!t->grace && looked && rdv_now_ns() >= deadline) {
            grace_begin(t, reqs, n, started);
            until = rdv_now_ns() +
                    (int64_t)RDV_TRANSPORT_GRACE_MS * 1000000;
        }
        /* the first look is the spin, when asked for (and not late) */
        if (!looked && t->spin_ns > 0) {
            spin_look l = {t, reqs, n};

            looked = 1;
            if (rdv_spin(spin_check, &l, t->spin_ns, deadline) != 0)
                continue;
        }
        looked = 1;
        ret = rdv_transport_poll(t, evs, 64, until);
        if (ret < 0)
            return ret;
    }
}
