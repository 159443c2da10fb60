/*
 * stores/tcp_conn.c - the tcp:// store's connections: connect, hello,
 * one request and its reply, reconnect; see tcp_conn.h.
 *
 * Choices:
 *  - Sockets are ours: CLOEXEC and non-blocking from socket(), TCP
 *    NODELAY (every request is a small write waiting for its reply),
 *    written with send(MSG_NOSIGNAL) (a dead server must not raise
 *    SIGPIPE in the caller), and every wait is one ppoll() on the socket
 *    and the cancel eventfd with a deadline in ns (net_wait.c, shared
 *    with redis://). EINTR retries; the deadlines are absolute, so a
 *    signal never stretches or ends a wait.
 *  - A connection carries one request at a time and goes back to the
 *    pool only after its reply arrived, so it never holds a reply
 *    nobody waits for; any failure closes it. Replies whose id is not
 *    the awaited one are dropped anyway: a stale reply can never answer
 *    a later request.
 *  - The server answers a timed request's timeout itself, so the client
 *    waits RDV_TCP_REPLY_GRACE_MS past the deadline for that answer
 *    (it is on the wire within a millisecond or two); only a server
 *    that stays silent longer costs the connection.
 *  - Reconnect: attempts start 1 ms apart and back off to 100 ms with
 *    jitter until the I/O deadline. A refused connect, or a connection
 *    that broke before the request left, is always retried; so is an
 *    idempotent request that was sent. A request that is not idempotent
 *    is never resent once any byte left: the call says its outcome is
 *    unknown. Before sending one on a pooled connection, a zero-timeout
 *    poll catches a server that has since closed it (a restart), so it
 *    goes out on a fresh connection instead.
 *  - The host is resolved on every connect, so a server that moved is
 *    found again, and every address it resolves to is tried in turn.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_conn.h"
#include "self_pid.h"

#define RECONNECT_FIRST_NS 1000000LL /* 1 ms */
#define RECONNECT_MAX_NS 100000000LL /* 100 ms */
#define LAST_TRY_NS 1000000LL       /* a try needs some time */
#define IN_FIRST 65536u
#define IN_KEEP (1u << 20) /* a larger buffer is freed once idle */
/* attempt()'s "try again" beside the rdv_status values (and apart from
 * RDV_TCP_TOO_BIG, which is a reply's) */
#define RETRY 2

int rdv_tcp_pool_init(rdv_tcp_pool *p, const rdv_tcp_conf *conf,
                      char *errbuf, size_t errlen)
{
    int rc;

    memset(p, 0, sizeof *p);
    p->conf = conf;
    if ((rc = rdv_cancel_init(&p->cancel, "tcp store", errbuf, errlen)))
        return rc;
    pthread_mutex_init(&p->lock, NULL);
    return RDV_OK;
}

static void link_close(rdv_tcp_link *l)
{
    if (!l)
        return;
    close(l->fd);
    free(l->in);
    free(l);
}

/* Closes every idle connection. Lock held, or no other call running. */
static void idle_drop(rdv_tcp_pool *p)
{
    while (p->idle) {
        rdv_tcp_link *l = p->idle;

        p->idle = l->next;
        link_close(l);
    }
}

void rdv_tcp_pool_destroy(rdv_tcp_pool *p)
{
    idle_drop(p);
    rdv_cancel_destroy(&p->cancel);
    pthread_mutex_destroy(&p->lock);
}

void rdv_tcp_pool_cancel(rdv_tcp_pool *p)
{
    rdv_cancel_fire(&p->cancel);
}

/* After fork(), drops what the child inherited, without I/O on it. */
static int pool_own(rdv_tcp_pool *p, char *err, size_t errlen)
{
    int rc;

    if (atomic_load(&p->cancel.pid) == rdv_self_pid())
        return RDV_OK;
    pthread_mutex_lock(&p->lock);
    rc = rdv_cancel_adopt(&p->cancel);
    if (rc == 1)
        idle_drop(p);
    pthread_mutex_unlock(&p->lock);
    if (rc < 0) {
        snprintf(err, errlen, "tcp %s: eventfd after fork: %s",
                 p->conf->addr, strerror(errno));
        return rc;
    }
    return RDV_OK;
}

/* One connect to one address by until: 0 with *out, or -errno
 * (-ETIMEDOUT at the deadline, -ECANCELED when cancelled). */
static int connect_one(rdv_tcp_pool *p, const struct addrinfo *a,
                       int64_t until, int *out)
{
    int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    0);
    int one = 1, soerr = 0, rc;
    socklen_t sl = sizeof soerr;

    if (fd < 0)
        return -errno;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
        if (errno != EINPROGRESS && errno != EINTR)
            soerr = errno;
        else if ((rc = rdv_cancel_wait(&p->cancel, fd, POLLOUT, until)) != RDV_OK)
            soerr = rc == RDV_ECANCELED ? ECANCELED : ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            soerr = errno;
    }
    if (soerr) {
        close(fd);
        return -soerr;
    }
    *out = fd;
    return 0;
}

/* A connected socket to the server, trying each address. RDV_OK,
 * RETRY (refused, unreachable: try again later), RDV_ETIMEDOUT or
 * RDV_ECANCELED, with err saying why. */
static int sock_open(rdv_tcp_pool *p, int64_t until, int *fd, char *err,
                     size_t errlen)
{
    struct addrinfo hints = {0}, *ai, *a;
    char port[16];
    int rc = -EHOSTUNREACH;

    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", p->conf->port);
    if ((rc = getaddrinfo(p->conf->host, port, &hints, &ai))) {
        snprintf(err, errlen, "tcp %s: cannot resolve '%s': %s",
                 p->conf->addr, p->conf->host, gai_strerror(rc));
        return RETRY;
    }
    rc = -EHOSTUNREACH;
    for (a = ai; a && rc < 0 && rc != -ECANCELED; a = a->ai_next)
        rc = connect_one(p, a, until, fd);
    freeaddrinfo(ai);
    if (rc == 0)
        return RDV_OK;
    if (rc == -ECANCELED)
        return RDV_ECANCELED;
    snprintf(err, errlen, "tcp %s: connect: %s", p->conf->addr,
             rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
    return rc == -ETIMEDOUT ? RDV_ETIMEDOUT : RETRY;
}

/* Writes buf whole. *sent = 1 once any byte left. RDV_OK, RETRY (the
 * connection broke), RDV_ETIMEDOUT, RDV_ECANCELED. */
static int link_send(rdv_tcp_pool *p, rdv_tcp_link *l, const void *buf,
                     size_t len, int64_t until, int *sent, char *err,
                     size_t errlen)
{
    size_t off = 0;

    while (off < len) {
        ssize_t w = send(l->fd, (const char *)buf + off, len - off,
                         MSG_NOSIGNAL);
        int rc;

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            if ((rc = rdv_cancel_wait(&p->cancel, l->fd, POLLOUT, until)) != RDV_OK) {
                snprintf(err, errlen, "tcp %s: the server took no more "
                         "bytes before the deadline", p->conf->addr);
                return rc;
            }
            continue;
        }
        if (w < 0) {
            snprintf(err, errlen, "tcp %s: send: %s", p->conf->addr,
                     strerror(errno));
            return RETRY;
        }
        *sent = 1;
        off += (size_t)w;
    }
    return RDV_OK;
}

/* Room for need bytes in l->in. 0 or -1. */
static int in_reserve(rdv_tcp_link *l, size_t need)
{
    size_t cap = l->in_cap ? l->in_cap : IN_FIRST;
    unsigned char *in;

    while (cap < need)
        cap *= 2;
    if (cap == l->in_cap)
        return 0;
    in = realloc(l->in, cap);
    if (!in)
        return -1;
    l->in = in;
    l->in_cap = cap;
    return 0;
}

/* Reads until the reply to request id (op) is decoded into *m; frames
 * of other ids are dropped. RDV_OK, RETRY (the server closed or reset
 * the connection), RDV_ETIMEDOUT, RDV_ECANCELED, RDV_EPROTO, RDV_ENOMEM. */
static int link_read(rdv_tcp_pool *p, rdv_tcp_link *l, uint64_t id, int op,
                     int64_t until, rdv_tcp_msg *m, char *err, size_t errlen)
{
    char why[256];

    for (;;) {
        size_t used = 0;
        ssize_t r;
        int rc;

        if (l->used) {
            memmove(l->in, l->in + l->used, l->in_len - l->used);
            l->in_len -= l->used;
            l->used = 0;
        }
        rc = rdv_tcp_decode(l->in, l->in_len, RDV_TCP_BODY_MAX, m, &used,
                            why, sizeof why);
        if (rc == RDV_OK && m->reply && m->id != id) {
            l->used = used; /* a reply nobody waits for: dropped */
            continue;
        }
        if (rc == RDV_OK && (!m->reply || m->op != op)) {
            snprintf(why, sizeof why, "answered a %s with a %s %s",
                     rdv_tcp_op_name(op), rdv_tcp_op_name(m->op),
                     m->reply ? "reply" : "request");
            rc = RDV_EPROTO;
        }
        if (rc == RDV_OK) {
            l->used = used;
            return RDV_OK;
        }
        if (rc != RDV_TCP_NEED_MORE) {
            snprintf(err, errlen, "tcp %s: %s", p->conf->addr, why);
            return RDV_EPROTO;
        }
        if (in_reserve(l, used > l->in_len + 1 ? used : l->in_len + 4096)) {
            snprintf(err, errlen, "tcp %s: out of memory for a reply of %zu "
                     "bytes", p->conf->addr, used);
            return RDV_ENOMEM;
        }
        if ((rc = rdv_cancel_wait_spin(&p->cancel, l->fd, POLLIN,
                                        p->conf->spin_ns, until)) != RDV_OK) {
            snprintf(err, errlen, "tcp %s: no %s reply before the deadline "
                     "(the server is stopped or its replies are lost)",
                     p->conf->addr, rdv_tcp_op_name(op));
            return rc;
        }
        r = recv(l->fd, l->in + l->in_len, l->in_cap - l->in_len, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "tcp %s: %s", p->conf->addr,
                     r == 0 ? "the server closed the connection"
                            : strerror(errno));
            return RETRY;
        }
        l->in_len += (size_t)r;
    }
}

/* The hello on a new connection. RDV_OK (l->max_body set), RETRY, or a
 * final failure: RDV_EAUTH, RDV_ENOTSUP, RDV_EPROTO, ... */
static int link_hello(rdv_tcp_pool *p, rdv_tcp_link *l, int64_t until,
                      char *err, size_t errlen)
{
    const char *tok = p->conf->token ? p->conf->token : "";
    rdv_tcp_buf b = {0};
    rdv_tcp_msg m;
    size_t st = rdv_tcp_begin(&b, RDV_TCP_HELLO, 0);
    int sent = 0, rc;

    rdv_tcp_put_u32(&b, RDV_TCP_MAGIC);
    rdv_tcp_put_u16(&b, RDV_TCP_VERSION);
    rdv_tcp_put_u16(&b, 0);
    rdv_tcp_put_bytes(&b, tok, strlen(tok));
    rdv_tcp_end(&b, st);
    rc = b.failed ? RDV_ENOMEM
                  : link_send(p, l, b.p, b.len, until, &sent, err, errlen);
    if (b.p)
        memset(b.p, 0, b.len); /* the token */
    rdv_tcp_buf_free(&b);
    if (rc == RDV_OK)
        rc = link_read(p, l, 0, RDV_TCP_HELLO, until, &m, err, errlen);
    if (rc != RDV_OK)
        return rc;
    if (m.status != RDV_OK) {
        snprintf(err, errlen, "tcp %s: %.*s", p->conf->addr,
                 (int)m.value.len, (const char *)m.value.p);
        return m.status == RDV_EAUTH || m.status == RDV_ENOTSUP
                   ? m.status
                   : RDV_EPROTO;
    }
    l->max_body = m.max_body;
    return RDV_OK;
}

/* True when the server has closed (or written to) an idle connection. */
static int link_stale(const rdv_tcp_link *l)
{
    struct pollfd pf = {l->fd, POLLIN | POLLRDHUP, 0};

    return poll(&pf, 1, 0) > 0;
}

/* A connection for one call: an idle one, or a new one. */
static int link_take(rdv_tcp_pool *p, int flags, int64_t until,
                     rdv_tcp_link **out, char *err, size_t errlen)
{
    rdv_tcp_link *l;
    int rc;

    pthread_mutex_lock(&p->lock);
    l = p->idle;
    if (l)
        p->idle = l->next;
    pthread_mutex_unlock(&p->lock);
    if (l && !(flags & RDV_TCP_IDEMPOTENT) && link_stale(l)) {
        link_close(l);
        l = NULL;
    }
    if (l) {
        *out = l;
        return RDV_OK;
    }
    l = calloc(1, sizeof *l);
    if (!l)
        return RDV_ENOMEM;
    rc = sock_open(p, until, &l->fd, err, errlen);
    if (rc != RDV_OK) {
        free(l);
        return rc;
    }
    rc = link_hello(p, l, until, err, errlen);
    if (rc != RDV_OK) {
        link_close(l);
        return rc;
    }
    *out = l;
    return RDV_OK;
}

void rdv_tcp_done(rdv_tcp_pool *p, rdv_tcp_reply *rep)
{
    rdv_tcp_link *l = rep->link;

    rep->link = NULL;
    if (!l)
        return;
    if (l->in_len == l->used && l->in_cap > IN_KEEP) {
        free(l->in);
        l->in = NULL;
        l->in_len = l->in_cap = l->used = 0;
    }
    pthread_mutex_lock(&p->lock);
    if (atomic_load(&p->cancel.pid) == rdv_self_pid()) {
        l->next = p->idle;
        p->idle = l;
        l = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    link_close(l); /* made before a fork that has happened since */
}

static void put_timeout(rdv_tcp_buf *req, int64_t deadline)
{
    int64_t left = deadline == RDV_DEADLINE_NONE ? -1
                                                 : deadline - rdv_now_ns();

    if (deadline != RDV_DEADLINE_NONE && left < 0)
        left = 0;
    for (int i = 0; i < 8; i++)
        req->p[RDV_TCP_HDR + (size_t)i] =
            (unsigned char)((uint64_t)left >> (8 * i));
}

/* One try: a connection, the request, its reply. RDV_OK when a reply
 * arrived (rep holds it, whatever its status), else the failure. */
static int attempt(rdv_tcp_pool *p, rdv_tcp_buf *req, int flags,
                   int64_t deadline, int64_t io, rdv_tcp_reply *rep,
                   int *sent, char *err, size_t errlen)
{
    uint64_t id = atomic_fetch_add(&p->next_id, 1) + 1;
    int64_t until = io;
    rdv_tcp_link *l = NULL;
    int rc = link_take(p, flags, io, &l, err, errlen);

    if (rc != RDV_OK)
        return rc;
    if (req->len - RDV_TCP_HDR > l->max_body) {
        snprintf(err, errlen, "tcp %s: a request of %zu bytes is larger "
                 "than the server takes (%u)", p->conf->addr,
                 req->len - RDV_TCP_HDR, l->max_body);
        rep->link = l;
        rdv_tcp_done(p, rep);
        return RDV_EINVAL;
    }
    rdv_tcp_set_id(req->p, id);
    if (flags & RDV_TCP_TIMED) {
        put_timeout(req, deadline);
        if (deadline != RDV_DEADLINE_NONE && deadline > io)
            until = deadline;
        if (until != RDV_DEADLINE_NONE)
            until += RDV_TCP_REPLY_GRACE_MS * 1000000LL;
    }
    rc = link_send(p, l, req->p, req->len, io, sent, err, errlen);
    if (rc == RDV_OK)
        rc = link_read(p, l, id, req->p[0], until, &rep->m, err, errlen);
    if (rc != RDV_OK) {
        link_close(l);
        return rc;
    }
    rep->link = l;
    return RDV_OK;
}

/* Whether a failed try may be repeated; if not, *rc is final and err
 * says so. */
static int may_retry(int *rc, int sent, int flags, char *err, size_t errlen)
{
    int resendable = !sent || (flags & RDV_TCP_IDEMPOTENT);
    size_t o = strlen(err);

    if (*rc != RETRY) {
        if (*rc == RDV_ETIMEDOUT && !resendable)
            snprintf(err + o, errlen - o, " (the request was sent: its "
                     "outcome is unknown)");
        return 0;
    }
    if (!resendable) {
        snprintf(err + o, errlen - o, " (the connection broke after the "
                 "request was sent: its outcome is unknown)");
        *rc = RDV_ECONN;
        return 0;
    }
    return 1;
}

/* Tries until a reply arrives, the failure is final, the I/O deadline
 * passes (RDV_ECONN) or the pool is cancelled. */
static int call_retrying(rdv_tcp_pool *p, rdv_tcp_buf *req, int flags,
                         int64_t deadline, int64_t io, rdv_tcp_reply *rep,
                         int *attempts, char *err, size_t errlen)
{
    int64_t backoff = RECONNECT_FIRST_NS;
    uint64_t seed = (uint64_t)rdv_now_ns() ^ (uint64_t)(uintptr_t)&seed;

    for (;;) {
        int sent = 0, rc;
        int64_t left, nap;

        if (rdv_cancel_fired(&p->cancel))
            return RDV_ECANCELED;
        ++*attempts;
        rc = attempt(p, req, flags, deadline, io, rep, &sent, err, errlen);
        if (rc == RDV_OK || !may_retry(&rc, sent, flags, err, errlen))
            return rc;
        left = io == RDV_DEADLINE_NONE ? INT64_MAX : io - rdv_now_ns();
        if (left < LAST_TRY_NS)
            return RDV_ECONN;
        nap = rdv_jitter(&seed, backoff);
        if (rdv_cancel_sleep(&p->cancel, nap < left - LAST_TRY_NS
                                             ? nap
                                             : left - LAST_TRY_NS,
                             RDV_DEADLINE_NONE) == RDV_ECANCELED)
            return RDV_ECANCELED;
        backoff = backoff * 2 < RECONNECT_MAX_NS ? backoff * 2
                                                 : RECONNECT_MAX_NS;
    }
}

int rdv_tcp_call(rdv_tcp_pool *p, rdv_tcp_buf *req, int flags,
                 int64_t deadline, rdv_tcp_reply *rep, char *err,
                 size_t errlen)
{
    int64_t start = rdv_now_ns();
    int64_t io = (flags & RDV_TCP_TIMED) && deadline > start
                     ? deadline
                     : start + p->conf->timeout_ms * 1000000LL;
    int attempts = 0, rc;
    size_t o;

    err[0] = '\0';
    rep->link = NULL;
    if (req->failed) {
        snprintf(err, errlen, "tcp %s: out of memory for a request",
                 p->conf->addr);
        return RDV_ENOMEM;
    }
    if ((rc = pool_own(p, err, errlen)) != RDV_OK)
        return rc;
    rc = call_retrying(p, req, flags, deadline, io, rep, &attempts, err,
                       errlen);
    if (rc == RDV_OK)
        return rep->m.status;
    if (rc == RDV_ECANCELED) {
        snprintf(err, errlen, "tcp %s: the store was closed", p->conf->addr);
        return RDV_ECANCELED;
    }
    o = strlen(err);
    if (attempts > 1 || rc == RDV_ETIMEDOUT)
        snprintf(err + o, errlen - o, " (%d attempt%s in %lld ms)", attempts,
                 attempts > 1 ? "s" : "",
                 (long long)((rdv_now_ns() - start) / 1000000));
    /* A wait that runs out is answered by the server itself (its
     * RDV_ETIMEDOUT names the keys missing). Silence until the I/O
     * deadline is the server being unreachable: RDV_ETIMEDOUT here would
     * read as "the keys are missing" (rdv_store_check), and a rendezvous
     * would publish again through a server it cannot reach. */
    return rc == RDV_ETIMEDOUT ? RDV_ECONN : rc;
}
