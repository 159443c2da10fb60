/*
 * collectives/coll.c - the plumbing every collective shares: argument
 * checks, the call's deadline, posting and waiting through the
 * transport, and error messages that say which collective, algorithm,
 * step and peer ("allreduce(ring) step 3/6: peer 2 ...").
 *
 * Choices:
 *  - One deadline per call, resolved once at the start, so a call never
 *    takes longer than its timeout however many steps it has.
 *  - Every failure goes through rdv_context_fail(), which makes the
 *    context unusable: after a half-finished collective the byte streams
 *    to the peers are out of step and cannot be trusted again.
 *  - Zero-length messages are skipped on both sides rather than sent.
 *  - What a failed peer did is chosen from the transport's failure
 *    reason (rdv_transport_reason), never read back from its text.
 *  - Options are taken through options.c (struct_size); timeout 0 tries
 *    once, RDV_TIMEOUT_DEFAULT is the context's.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collectives/coll_internal.h"
#include "options.h"
#include "rdv/clock.h"
#include "spin.h"

/* The end of the options' first version: older callers pass no less. */
#define OPTIONS_V1_SIZE                                                     \
    (offsetof(rdv_coll_options, busy_poll) + sizeof(int))

static const char *algo_name(rdv_algo a)
{
    switch (a) {
    case RDV_ALGO_AUTO:
        return "auto";
    case RDV_ALGO_RING:
        return "ring";
    case RDV_ALGO_HALVING_DOUBLING:
        return "halving-doubling";
    case RDV_ALGO_BINOMIAL:
        return "binomial";
    case RDV_ALGO_CHAIN:
        return "chain";
    case RDV_ALGO_DISSEMINATION:
        return "dissemination";
    case RDV_ALGO_RECURSIVE_DOUBLING:
        return "recursive-doubling";
    }
    return NULL;
}

const char *rdv_algo_name(rdv_algo a)
{
    return algo_name(a);
}

void rdv_coll_options_init(rdv_coll_options *o, size_t size)
{
    rdv_coll_options d;

    memset(&d, 0, sizeof d);
    d.timeout_ms = RDV_TIMEOUT_DEFAULT;
    d.algo = RDV_ALGO_AUTO;
    rdv_options_fill(o, size, &d, sizeof d);
}

int rdv_coll_invalid(rdv_coll *c, const char *fmt, ...)
{
    char msg[RDV_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rdv_context_fail(c->ctx, RDV_EINVAL, "%s: %s", c->name, msg);
}

int rdv_coll_begin(rdv_coll *c, rdv_context *ctx, const char *name,
                   const rdv_coll_options *o, const rdv_algo *allowed)
{
    rdv_coll_options opt;
    char why[256];
    rdv_algo want;
    int rc, ok;

    *c = (rdv_coll){.ctx = ctx, .name = name, .algo = "?"};
    if (!ctx)
        return RDV_EINVAL; /* nowhere to put a detail */
    rc = rdv_context_check_usable(ctx);
    if (rc != RDV_OK)
        return rc;
    rdv_coll_options_init(&opt, sizeof opt);
    if (o && rdv_options_take(&opt, sizeof opt, o, OPTIONS_V1_SIZE,
                              "rdv_coll_options", why,
                              sizeof why) != RDV_OK)
        return rdv_coll_invalid(c, "%s", why);
    want = c->requested = opt.algo;
    ok = want == RDV_ALGO_AUTO;
    for (; *allowed != RDV_ALGO_AUTO; allowed++)
        ok |= *allowed == want;
    if (!ok) {
        const char *n = algo_name(want);
        if (n)
            return rdv_coll_invalid(c, "algorithm %s is not available for "
                                       "%s",
                                    n, name);
        return rdv_coll_invalid(c, "unknown algorithm %d", (int)want);
    }
    c->t = rdv_context_transport(ctx);
    c->rank = rdv_context_rank(ctx);
    c->size = rdv_context_size(ctx);
    c->timeout_ms = rdv_context_timeout_for(ctx, opt.timeout_ms);
    c->deadline = rdv_deadline_from_ms(c->timeout_ms);
    c->busy_poll = opt.busy_poll != 0;
    if (!c->t)
        return rdv_context_fail(ctx, RDV_ESTATE, "%s: not connected", name);
    rdv_context_phase(ctx, RDV_PHASE_IN_COLLECTIVE);
    return RDV_OK;
}

void rdv_coll_plan(rdv_coll *c, const char *algo, int nsteps)
{
    c->algo = algo;
    c->nsteps = nsteps;
    c->step = 0;
}

int rdv_coll_check_args(rdv_coll *c, const void *sendbuf, const void *recvbuf,
                        size_t count, rdv_dtype t, int op)
{
    if (!rdv_dtype_valid(t))
        return rdv_coll_invalid(c, "unknown dtype %d", (int)t);
    if (op >= 0 && !rdv_op_valid((rdv_op)op))
        return rdv_coll_invalid(c, "unknown op %d", op);
    if (count > SIZE_MAX / rdv_dtype_size(t) / (size_t)c->size)
        return rdv_coll_invalid(c, "count %zu is too large", count);
    if (count > 0 && !sendbuf)
        return rdv_coll_invalid(c, "sendbuf is NULL with count %zu", count);
    if (count > 0 && !recvbuf)
        return rdv_coll_invalid(c, "recvbuf is NULL with count %zu", count);
    return RDV_OK;
}

void *rdv_coll_alloc(rdv_coll *c, size_t bytes, const char *what)
{
    void *p = malloc(bytes ? bytes : 1);

    if (!p)
        rdv_context_fail(c->ctx, RDV_ENOMEM, "%s(%s): no memory for %zu "
                                             "bytes of %s",
                         c->name, c->algo, bytes, what);
    return p;
}

static int post(rdv_coll *c, rdv_request *req, int peer, int is_send,
                void *buf, size_t len)
{
    int rc;

    *req = (rdv_request){.peer = peer, .is_send = is_send, .buf = buf,
                         .len = len};
    if (len == 0)
        return RDV_OK;
    rc = rdv_transport_post(c->t, req);
    if (rc != RDV_OK)
        return rdv_context_fail(c->ctx, rc, "%s(%s) step %d/%d: cannot "
                                            "post %s peer %d: %s",
                                c->name, c->algo, c->step + 1, c->nsteps,
                                is_send ? "send to" : "recv from", peer,
                                rdv_transport_errmsg(c->t));
    return RDV_OK;
}

int rdv_coll_post_send(rdv_coll *c, rdv_request *req, int peer,
                       const void *buf, size_t len)
{
    return post(c, req, peer, 1, (void *)buf, len);
}

int rdv_coll_post_recv(rdv_coll *c, rdv_request *req, int peer, void *buf,
                       size_t len)
{
    return post(c, req, peer, 0, buf, len);
}

/* The peer a failed wait is about: the transport's culprit (the rank
 * whose connection broke, the one an ABORT from a peer blamed, or the
 * one a timed-out wait was waiting for); the first request's peer when
 * it blames nobody else. */
static int culprit(const rdv_coll *c, rdv_request *const *reqs, size_t n)
{
    int p = rdv_transport_culprit(c->t);

    if (p >= 0 && p < c->size && p != c->rank)
        return p;
    return n ? reqs[0]->peer : -1;
}

/* After a failure, what the sockets say about the other ranks. Moves no
 * data: shutdown and poll only.
 *
 * First this rank's connections are shut down for writing, so every
 * peer sees at once that this rank is out (a failed call leaves the
 * byte streams out of step; nothing more will be sent) instead of
 * waiting for its own timeout. Then it watches the peers' connections
 * for up to RDV_COLL_CLOSE_GRACE_MS (on top of the transport's own
 * ABORT grace, still well inside the "timeout + 1 s" promise), until
 * every peer has closed:
 *  - a killed rank closes all its sockets, so a rank that failed
 *    because a neighbour gave up still names the rank that died first;
 *  - the ranks that gave up close theirs too, so the ones still
 *    connected at the end are the silent ones, even when this rank was
 *    waiting on someone else. */
#define RDV_COLL_CLOSE_GRACE_MS 100
#define RDV_COLL_PROBE_MAX 128

static void peers_after_failure(const rdv_coll *c, char *out, size_t len)
{
    struct pollfd pf[RDV_COLL_PROBE_MAX];
    int peer[RDV_COLL_PROBE_MAX], np = 0, found = 0;
    int64_t end = rdv_now_ns() + (int64_t)RDV_COLL_CLOSE_GRACE_MS * 1000000;
    size_t off = 0;

    out[0] = 0;
    for (int p = 0; p < c->size && np < RDV_COLL_PROBE_MAX; p++) {
        int fd = p == c->rank ? -1 : rdv_transport_peer_fd(c->t, p);
        if (fd >= 0) {
            shutdown(fd, SHUT_WR);
            pf[np] = (struct pollfd){.fd = fd, .events = POLLRDHUP};
            peer[np++] = p;
        }
    }
    for (int round = 0; round < 4 * RDV_COLL_PROBE_MAX; round++) {
        int left = rdv_deadline_left_ms(end);
        int n = poll(pf, (nfds_t)np, round == 0 ? 0 : left);

        for (int i = 0; n > 0 && i < np; i++) {
            if (!(pf[i].revents & (POLLRDHUP | POLLHUP | POLLERR)))
                continue;
            if (off + 16 < len)
                off += (size_t)snprintf(out + off, len - off, "%speer %d",
                                        found ? ", " : "; closed "
                                                       "connections: ",
                                        peer[i]);
            found++;
            pf[i].fd = -pf[i].fd - 1; /* poll ignores negative fds */
        }
        if ((n <= 0 && round > 0) || left == 0 || found == np)
            break;
    }
    for (int i = 0, k = 0; found && i < np; i++)
        if (pf[i].fd >= 0 && off + 16 < len)
            off += (size_t)snprintf(out + off, len - off, "%speer %d",
                                    k++ ? ", " : "; still connected: ",
                                    peer[i]);
}

/* The words for the transport's reason. A relayed abort ("rank 1
 * failed first (reported by ...: peer closed the connection)") blames
 * the culprit, so it says "failed", never "closed". */
static const char *what_peer_did(rdv_fail_reason why)
{
    switch (why) {
    case RDV_FAIL_CLOSED:
        return "closed the connection";
    case RDV_FAIL_RESET:
        return "reset the connection";
    case RDV_FAIL_PROTOCOL:
        return "broke the protocol";
    default:
        return "failed";
    }
}

static int wait_failed(rdv_coll *c, int rc, rdv_request *const *reqs,
                       size_t n)
{
    const char *detail = rdv_transport_errmsg(c->t);
    rdv_fail_reason why = rdv_transport_reason(c->t);
    int peer = culprit(c, reqs, n);
    char where[64], gone[512];

    snprintf(where, sizeof where, "%s(%s) step %d/%d", c->name, c->algo,
             c->step + 1, c->nsteps);
    peers_after_failure(c, gone, sizeof gone);
    if (why == RDV_FAIL_TIMEOUT && c->timeout_ms == 0)
        return rdv_context_fail(c->ctx, rc, "%s: timed out trying once "
                                            "(timeout 0) waiting for peer "
                                            "%d (%s)%s",
                                where, peer, detail, gone);
    if (why == RDV_FAIL_TIMEOUT)
        return rdv_context_fail(c->ctx, rc, "%s: timed out after %d ms "
                                            "waiting for peer %d (%s)%s",
                                where, c->timeout_ms, peer, detail, gone);
    if (why == RDV_FAIL_IO && rdv_transport_culprit(c->t) == c->rank)
        return rdv_context_fail(c->ctx, rc, "%s: I/O error on rank %d (%s)%s",
                                where, c->rank, detail, gone);
    return rdv_context_fail(c->ctx, rc, "%s: peer %d %s (%s)%s", where, peer,
                            what_peer_did(why), detail, gone);
}

/* Busy-poll mode: zero-timeout polls until `any` (or all) of the
 * requests are complete, or the deadline (rdv_spin with the whole call's
 * time as its budget). The blocking wait that follows then only
 * collects the outcome (or reports the timeout). */
typedef struct busy_look {
    rdv_coll *c;
    rdv_request *const *act;
    size_t k;
    int any;
} busy_look;

static int busy_check(void *arg)
{
    const busy_look *l = arg;
    rdv_event evs[16];
    size_t done = 0;
    int rc;

    for (size_t i = 0; i < l->k; i++)
        done += !l->act[i]->active;
    if (done == l->k || (l->any && done > 0))
        return 1;
    rc = rdv_transport_poll(l->c->t, evs, 16, rdv_now_ns());
    return rc < 0 ? rc : 0;
}

static int spin(rdv_coll *c, rdv_request *const *act, size_t k, int any)
{
    busy_look l = {c, act, k, any};
    int64_t now = rdv_now_ns();
    int rc = rdv_spin(busy_check, &l, c->deadline - now, c->deadline);

    return rc < 0 ? wait_failed(c, rc, act, k) : RDV_OK;
}

/* The requests still in flight (at most 8: no algorithm has more). */
static size_t active_only(rdv_request *const *reqs, size_t n,
                          rdv_request *act[8])
{
    size_t k = 0;

    for (size_t i = 0; i < n && k < 8; i++)
        if (reqs[i] && reqs[i]->active)
            act[k++] = reqs[i];
    return k;
}

int rdv_coll_wait(rdv_coll *c, rdv_request *const *reqs, size_t n)
{
    rdv_request *act[8];
    size_t k;
    int rc;

    k = active_only(reqs, n, act);
    if (k == 0)
        return RDV_OK;
    if (c->busy_poll && (rc = spin(c, act, k, 0)) != RDV_OK)
        return rc;
    rc = rdv_transport_wait(c->t, act, k, c->deadline);
    if (rc != RDV_OK)
        return wait_failed(c, rc, act, k);
    return RDV_OK;
}

int rdv_coll_wait_any(rdv_coll *c, rdv_request *const *reqs, size_t n)
{
    rdv_request *act[8];
    rdv_event evs[16];
    size_t k;
    int rc;

    k = active_only(reqs, n, act);
    if (k == 0)
        return RDV_OK;
    if (c->busy_poll && (rc = spin(c, act, k, 1)) != RDV_OK)
        return rc;
    for (;;) {
        for (size_t i = 0; i < k; i++)
            if (!act[i]->active && act[i]->status == RDV_OK)
                return RDV_OK;
        /* past the deadline: one last look, and the usual timeout */
        if (rdv_now_ns() >= c->deadline)
            return rdv_coll_wait(c, act, k);
        rc = rdv_transport_poll(c->t, evs, 16, c->deadline);
        if (rc < 0)
            return wait_failed(c, rc, act, k);
    }
}

int rdv_coll_sendrecv(rdv_coll *c, int to, const void *sbuf, size_t slen,
                      int from, void *rbuf, size_t rlen)
{
    rdv_request s, r;
    rdv_request *both[2] = {&r, &s};
    int rc;

    rc = rdv_coll_post_recv(c, &r, from, rbuf, rlen);
    if (rc == RDV_OK)
        rc = rdv_coll_post_send(c, &s, to, sbuf, slen);
    if (rc == RDV_OK)
        rc = rdv_coll_wait(c, both, 2);
    return rc;
}

void rdv_coll_block(size_t count, int parts, int b, size_t *off, size_t *len)
{
    size_t q = count / (size_t)parts, rem = count % (size_t)parts;
    size_t ub = (size_t)b;

    *off = ub * q + (ub < rem ? ub : rem);
    *len = q + (ub < rem ? 1 : 0);
}

int rdv_coll_log2_ceil(int n)
{
    int l = 0;

    while ((1 << l) < n)
        l++;
    return l;
}

size_t rdv_coll_chunk_bytes(size_t esize)
{
    /* Large enough that per-segment overhead (a post and a wait) is
     * small next to the copy, small enough that a ring of 4-8 ranks
     * overlaps several segments. 128 KiB to 4 MiB measured within the
     * noise of a loaded 2-core machine; retune with `rdv bench`. */
    size_t b = 256 * 1024;

    return b - b % esize;
}
