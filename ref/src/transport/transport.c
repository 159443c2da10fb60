/*
 * transport/transport.c - the data plane above the backend seam.
 *
 * It owns one socket per peer and at most one request per peer and
 * direction, which is what keeps a single send in flight per socket and
 * messages in posting order. Everything both backends must agree on is
 * here, once: short transfers are resubmitted, the io hook is asked
 * before every transfer (so faults look the same on io_uring and
 * epoll), EOF and resets become errors naming the peer, and any failure
 * cancels every operation still in flight so no posted buffer is
 * written after rdv_transport_wait() returns.
 *
 * The backend is chosen in one place, backend_choose().
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rdv/store_ops.h"
#include "sockaddr.h"
#include "transport.h"

enum { DIR_RECV = 0, DIR_SEND = 1 };

typedef struct tpeer {
    int fd;
    char desc[64];
    rdv_request *req[2];
    uint64_t moved[2];
    int busy[2];        /* an op is in the backend */
    int64_t hold[2];    /* io hook delay: submit at this time, 0 = none */
    size_t chunk[2];    /* bytes the held transfer may move */
} tpeer;

struct rdv_transport {
    const rdv_backend_ops *ops;
    rdv_backend *be;
    pid_t pid;
    int rank, size;
    tpeer *peers;
    const rdv_hooks *hooks;
    int failed; /* the status that failed it, 0 while healthy */
    int nheld;
    uint64_t sent, received;
    char detail[RDV_DETAIL_MAX];
};

static int tfail(rdv_transport *t, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int backend_choose(const char *name, const rdv_backend_ops **ops,
                          rdv_backend **be, char *errbuf, size_t errlen)
{
    char why[256] = "";
    int ret;

    if (!name || !*name)
        name = getenv("RDV_TRANSPORT");
    if (name && *name && strcmp(name, "uring") && strcmp(name, "epoll")) {
        snprintf(errbuf, errlen,
                 "unknown transport \"%s\" (want uring or epoll)", name);
        return RDV_EINVAL;
    }
    if (!name || !*name || !strcmp(name, "uring")) {
        ret = rdv_backend_uring.create(be, why, sizeof why);
        if (ret == 0) {
            *ops = &rdv_backend_uring;
            return RDV_OK;
        }
        if (name && *name) {
            snprintf(errbuf, errlen,
                     "RDV_TRANSPORT=uring forced but unavailable: %s", why);
            return ret == -ENOMEM ? RDV_ENOMEM : RDV_ENOTSUP;
        }
        if (ret != -EPERM && ret != -ENOSYS && ret != -EINVAL) {
            snprintf(errbuf, errlen, "%s", why);
            return ret == -ENOMEM ? RDV_ENOMEM : RDV_EIO;
        }
    }
    ret = rdv_backend_epoll.create(be, why, sizeof why);
    if (ret < 0) {
        snprintf(errbuf, errlen, "%s", why);
        return ret == -ENOMEM ? RDV_ENOMEM : RDV_EIO;
    }
    *ops = &rdv_backend_epoll;
    return RDV_OK;
}

int rdv_transport_open(rdv_transport **out, const char *backend, int rank,
                       int size, char *errbuf, size_t errlen)
{
    rdv_transport *t;
    int ret;

    if (size < 1 || rank < 0 || rank >= size) {
        snprintf(errbuf, errlen, "transport: bad rank %d of size %d", rank,
                 size);
        return RDV_EINVAL;
    }
    t = calloc(1, sizeof *t);
    if (!t || !(t->peers = calloc((size_t)size, sizeof *t->peers))) {
        free(t);
        snprintf(errbuf, errlen, "transport: out of memory");
        return RDV_ENOMEM;
    }
    for (int i = 0; i < size; i++)
        t->peers[i].fd = -1;
    ret = backend_choose(backend, &t->ops, &t->be, errbuf, errlen);
    if (ret != RDV_OK) {
        free(t->peers);
        free(t);
        return ret;
    }
    t->pid = getpid();
    t->rank = rank;
    t->size = size;
    *out = t;
    return RDV_OK;
}

void rdv_transport_close(rdv_transport *t)
{
    if (!t)
        return;
    /* The backend cancels what is in flight before the fds go. */
    if (t->pid == getpid())
        t->ops->destroy(t->be);
    for (int i = 0; i < t->size; i++)
        if (t->peers[i].fd >= 0)
            close(t->peers[i].fd);
    free(t->peers);
    free(t);
}

const char *rdv_transport_backend(const rdv_transport *t)
{
    return t->ops->name;
}

const char *rdv_transport_errmsg(const rdv_transport *t)
{
    return t->detail;
}

void rdv_transport_set_hooks(rdv_transport *t, const rdv_hooks *hooks)
{
    t->hooks = hooks;
}

void rdv_transport_bytes(const rdv_transport *t, uint64_t *sent,
                         uint64_t *received)
{
    *sent = t->sent;
    *received = t->received;
}

static int tfail(rdv_transport *t, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(t->detail, sizeof t->detail, fmt, ap);
    va_end(ap);
    if (!t->failed) {
        t->failed = status;
        /* Nothing may write into a posted buffer after we return. */
        for (int i = 0; i < t->size; i++) {
            tpeer *p = &t->peers[i];

            if (p->fd >= 0)
                t->ops->forget(t->be, p->fd);
            for (int d = 0; d < 2; d++) {
                if (p->req[d]) {
                    p->req[d]->status = status;
                    p->req[d]->active = 0;
                    p->req[d] = NULL;
                }
                p->busy[d] = 0;
                p->hold[d] = 0;
            }
        }
        t->nheld = 0;
    }
    return status;
}

static int check_pid(rdv_transport *t)
{
    if (t->pid != getpid()) {
        snprintf(t->detail, sizeof t->detail,
                 "transport opened by pid %d used in pid %d (after fork)",
                 (int)t->pid, (int)getpid());
        return RDV_ESTATE;
    }
    return RDV_OK;
}

int rdv_transport_prepare_fd(rdv_transport *t, int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    fl = t->ops->nonblocking ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (fcntl(fd, F_SETFL, fl) < 0)
        return -errno;
    return 0;
}

int rdv_transport_socket(rdv_transport *t, int family)
{
    int type = SOCK_STREAM | SOCK_CLOEXEC;
    int fd;

    if (t->ops->nonblocking)
        type |= SOCK_NONBLOCK;
    fd = socket(family, type, 0);
    return fd < 0 ? -errno : fd;
}

int rdv_transport_attach(rdv_transport *t, int peer, int fd,
                         const char *desc)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int one = 1, ret;

    if (peer < 0 || peer >= t->size || peer == t->rank ||
        t->peers[peer].fd >= 0) {
        close(fd);
        snprintf(t->detail, sizeof t->detail,
                 "attach: bad or duplicate peer %d (rank %d of %d)", peer,
                 t->rank, t->size);
        return RDV_EINVAL;
    }
    ret = rdv_transport_prepare_fd(t, fd);
    if (ret < 0) {
        close(fd);
        snprintf(t->detail, sizeof t->detail, "attach rank %d: %s", peer,
                 strerror(-ret));
        return RDV_EIO;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    t->peers[peer].fd = fd;
    if (desc) {
        snprintf(t->peers[peer].desc, sizeof t->peers[peer].desc, "%s",
                 desc);
    } else {
        sl = sizeof ss;
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
            ss.ss_family = AF_UNSPEC;
        rdv_sockaddr_format(&ss, t->peers[peer].desc,
                            sizeof t->peers[peer].desc);
    }
    return RDV_OK;
}

int rdv_transport_peer_fd(const rdv_transport *t, int peer)
{
    if (peer < 0 || peer >= t->size)
        return -1;
    return t->peers[peer].fd;
}

/* The engine operations the rendezvous drives: straight to the backend
 * (the tag's top bit stays ours). */
int rdv_transport_op_connect(rdv_transport *t, int fd,
                             const struct sockaddr *sa, socklen_t salen,
                             uint64_t tag, int64_t deadline)
{
    return t->ops->connect(t->be, fd, sa, salen, tag & ~RDV_TAG_TRANSPORT,
                           deadline);
}

int rdv_transport_op_accept(rdv_transport *t, int listen_fd, uint64_t tag)
{
    return t->ops->accept(t->be, listen_fd, tag & ~RDV_TAG_TRANSPORT);
}

int rdv_transport_op_send(rdv_transport *t, int fd, const void *buf,
                          size_t len, uint64_t tag)
{
    return t->ops->send(t->be, fd, buf, len, tag & ~RDV_TAG_TRANSPORT);
}

int rdv_transport_op_recv(rdv_transport *t, int fd, void *buf, size_t len,
                          uint64_t tag, int64_t deadline)
{
    return t->ops->recv(t->be, fd, buf, len, tag & ~RDV_TAG_TRANSPORT,
                        deadline);
}

void rdv_transport_forget(rdv_transport *t, int fd)
{
    t->ops->forget(t->be, fd);
}

static const char *dir_words(int d)
{
    return d == DIR_SEND ? "send to" : "recv from";
}

static uint64_t data_tag(int peer, int d)
{
    return RDV_TAG_TRANSPORT | ((uint64_t)peer << 1) | (uint64_t)d;
}

/* Hands the next chunk of peer's request in direction d to the backend,
 * after asking the io hook how much may move and whether to wait. */
static int issue(rdv_transport *t, int peer, int d, int64_t now)
{
    tpeer *p = &t->peers[peer];
    rdv_request *r = p->req[d];
    size_t want = r->len - r->done;
    char *at = (char *)r->buf + r->done;
    int ret;

    if (p->hold[d]) {
        if (now < p->hold[d])
            return RDV_OK;
        p->hold[d] = 0;
        t->nheld--;
        want = p->chunk[d];
    } else if (t->hooks && t->hooks->io) {
        int64_t delay = 0;
        int64_t n = t->hooks->io(t->hooks->arg, peer, d == DIR_SEND,
                                 p->moved[d], want, &delay);

        if (n < 0) {
            shutdown(p->fd, SHUT_RDWR);
            return tfail(t, RDV_EPEER,
                         "%s rank %d (%s): connection reset (injected) "
                         "after %zu of %zu bytes",
                         dir_words(d), peer, p->desc, r->done, r->len);
        }
        if (n > 0 && (size_t)n < want)
            want = (size_t)n;
        if (delay > 0) {
            p->hold[d] = now + delay;
            p->chunk[d] = want;
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
        return tfail(t, RDV_EIO, "%s rank %d (%s): cannot submit: %s",
                     dir_words(d), peer, p->desc, strerror(-ret));
    p->busy[d] = 1;
    return RDV_OK;
}

int rdv_transport_post(rdv_transport *t, rdv_request *req)
{
    int d, ret;

    if ((ret = check_pid(t)) != RDV_OK)
        return ret;
    if (t->failed)
        return RDV_ESTATE;
    d = req->is_send ? DIR_SEND : DIR_RECV;
    if (req->peer < 0 || req->peer >= t->size || req->peer == t->rank ||
        t->peers[req->peer].fd < 0) {
        snprintf(t->detail, sizeof t->detail,
                 "%s rank %d: no connection (this is rank %d of %d)",
                 dir_words(d), req->peer, t->rank, t->size);
        return RDV_EINVAL;
    }
    if (t->peers[req->peer].req[d]) {
        snprintf(t->detail, sizeof t->detail,
                 "%s rank %d: a request in that direction is already in "
                 "flight",
                 dir_words(d), req->peer);
        return RDV_EINVAL;
    }
    req->done = 0;
    req->status = RDV_OK;
    req->active = req->len > 0;
    if (!req->active)
        return RDV_OK;
    t->peers[req->peer].req[d] = req;
    return issue(t, req->peer, d, rdv_now_ns());
}

/* One completion of a data-plane op. */
static int complete(rdv_transport *t, const rdv_event *ev)
{
    int peer = (int)((ev->tag & ~RDV_TAG_TRANSPORT) >> 1);
    int d = (int)(ev->tag & 1);
    tpeer *p;
    rdv_request *r;

    if (peer < 0 || peer >= t->size)
        return RDV_OK;
    p = &t->peers[peer];
    r = p->req[d];
    p->busy[d] = 0;
    if (!r)
        return RDV_OK;
    if (ev->res < 0) {
        int e = -ev->res;

        return tfail(t, (e == ECONNRESET || e == EPIPE) ? RDV_EPEER : RDV_EIO,
                     "%s rank %d (%s): %s after %zu of %zu bytes",
                     dir_words(d), peer, p->desc, strerror(e), r->done,
                     r->len);
    }
    if (ev->res == 0 && d == DIR_RECV)
        return tfail(t, RDV_EPEER,
                     "recv from rank %d (%s): peer closed the connection "
                     "after %zu of %zu bytes",
                     peer, p->desc, r->done, r->len);
    r->done += (size_t)ev->res;
    p->moved[d] += (uint64_t)ev->res;
    if (d == DIR_SEND)
        t->sent += (uint64_t)ev->res;
    else
        t->received += (uint64_t)ev->res;
    if (r->done < r->len)
        return issue(t, peer, d, rdv_now_ns());
    r->active = 0;
    p->req[d] = NULL;
    return RDV_OK;
}

/* Submits held transfers whose delay is over; returns the next due. */
static int64_t release_held(rdv_transport *t, int64_t deadline)
{
    int64_t now = rdv_now_ns();

    for (int i = 0; t->nheld > 0 && i < t->size; i++) {
        for (int d = 0; d < 2; d++) {
            if (!t->peers[i].hold[d])
                continue;
            if (issue(t, i, d, now) != RDV_OK)
                return deadline;
            if (t->peers[i].hold[d] && t->peers[i].hold[d] < deadline)
                deadline = t->peers[i].hold[d];
        }
    }
    return deadline;
}

int rdv_transport_poll(rdv_transport *t, rdv_event *evs, int max,
                       int64_t deadline)
{
    int ret;

    if ((ret = check_pid(t)) != RDV_OK)
        return ret;
    for (;;) {
        int64_t wake = t->nheld ? release_held(t, deadline) : deadline;
        int n = t->ops->poll(t->be, evs, max, wake);
        int kept = 0;

        if (n == -EEXIST)
            return tfail(t, RDV_EIO,
                         "transport poll (%s): the ring is single-issuer and "
                         "this is not the thread that connected the context",
                         t->ops->name);
        if (n < 0)
            return tfail(t, RDV_EIO, "transport poll (%s): %s",
                         t->ops->name, strerror(-n));
        for (int i = 0; i < n; i++) {
            if (!(evs[i].tag & RDV_TAG_TRANSPORT))
                evs[kept++] = evs[i];
            else if (!t->failed && (ret = complete(t, &evs[i])) != RDV_OK)
                return ret;
        }
        if (kept > 0 || n > 0 || rdv_now_ns() >= deadline)
            return kept;
    }
}

static int wait_timed_out(rdv_transport *t, rdv_request *const *reqs,
                          size_t n, int64_t started)
{
    char list[RDV_DETAIL_MAX / 2] = "";
    size_t off = 0, shown = 0;

    for (size_t i = 0; i < n && off < sizeof list - 1; i++) {
        const rdv_request *r = reqs[i];

        if (!r->active)
            continue;
        if (shown++ == 4) {
            off += (size_t)snprintf(list + off, sizeof list - off, ", ...");
            break;
        }
        off += (size_t)snprintf(
            list + off, sizeof list - off, "%s%s rank %d (%s) at %zu of %zu bytes",
            off ? ", " : "", dir_words(r->is_send ? DIR_SEND : DIR_RECV),
            r->peer, t->peers[r->peer].desc, r->done, r->len);
    }
    return tfail(t, RDV_ETIMEDOUT, "wait timed out after %lld ms: %s",
                 (long long)((rdv_now_ns() - started) / 1000000), list);
}

int rdv_transport_wait(rdv_transport *t, rdv_request *const *reqs,
                       size_t n, int64_t deadline)
{
    int64_t started = rdv_now_ns();
    rdv_event evs[64];
    int expired = 0, ret;

    if ((ret = check_pid(t)) != RDV_OK)
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
        if (pending == 0)
            return RDV_OK;
        if (expired)
            return wait_timed_out(t, reqs, n, started);
        /* a deadline already passed still gets one look (timeout 0) */
        expired = rdv_now_ns() >= deadline;
        ret = rdv_transport_poll(t, evs, 64, deadline);
        if (ret < 0)
            return ret;
    }
}
