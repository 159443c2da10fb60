/*
 * transport/epoll.c - the epoll backend: the same completion semantics
 * as uring.c, emulated with readiness.
 *
 * Choices:
 *  - Each fd has at most one read-side op (recv or accept) and one
 *    write-side op (send or connect), which is all the transport and
 *    the rendezvous ever need; a second one is -EBUSY.
 *  - An op is tried at once (sockets are O_NONBLOCK); only EAGAIN arms
 *    epoll, level-triggered, so most data-plane ops cost one syscall.
 *  - A data-plane recv's EPOLLIN (a tag with RDV_TAG_TRANSPORT) stays
 *    registered after it completes, until a wakeup finds no read-side
 *    op on the fd (or forget()): the data plane posts its next recv on
 *    the same socket soon, and a recv that waits then costs recv,
 *    epoll_wait, recv instead of also an epoll_ctl to add and one to
 *    remove (4 B allreduce at N=2: 6 syscalls per call per rank before,
 *    4 after). Only the data plane's: its sockets are closed only after
 *    forget() or destroy(), so the kernel never forgets a registration
 *    this table still counts (an fd closed while registered leaves the
 *    epoll set, and its number may come back as a new socket). Other
 *    interest (EPOLLOUT, accept, connect, the rendezvous's and the
 *    store server's recvs) is removed as soon as its op ends.
 *    Results found at submit time queue up and come out of the next
 *    poll, exactly as a CQE would.
 *  - Deadlines of connect and recv are checked after every wakeup; the
 *    epoll_wait timeout is the earliest of them and the caller's.
 *  - Multishot accept: the listener stays armed and every accepted fd
 *    is an event with more = 1.
 *  - Operations answer in rdv_status; the failed call and its errno are
 *    in errmsg(). A syscall's own result (refused, reset, ...) is an
 *    event, as it would be from io_uring.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>

#include "evq.h"
#include "rdv/clock.h"

enum { K_NONE, K_CONNECT, K_ACCEPT, K_SEND, K_RECV };

typedef struct eop {
    int kind;
    uint64_t tag;
    void *buf;
    size_t len;
    int64_t deadline;
} eop;

typedef struct efd {
    eop rd, wr;
    uint32_t armed; /* events registered with epoll; 0 = not added */
} efd;

struct rdv_backend {
    int epfd;
    efd *fds;
    int nfds;
    int ntimed; /* ops with a deadline */
    rdv_evq ready;
    char why[160]; /* the last failure, for errmsg() */
};

static int fail(rdv_backend *b, const char *call, int err)
{
    return rdv_backend_sys_fail(b->why, sizeof b->why, call, err);
}

static const char *epoll_errmsg(const rdv_backend *b)
{
    return b->why;
}

static int epoll_create_backend(rdv_backend **out, char *errbuf,
                                size_t errlen)
{
    rdv_backend *b = calloc(1, sizeof *b);
    int ret;

    if (!b) {
        snprintf(errbuf, errlen, "epoll: out of memory");
        return RDV_ENOMEM;
    }
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        ret = rdv_backend_sys_fail(errbuf, errlen, "epoll_create1", errno);
        free(b);
        return ret;
    }
    *out = b;
    return RDV_OK;
}

static efd *fd_slot(rdv_backend *b, int fd)
{
    if (fd >= b->nfds) {
        int n = b->nfds ? b->nfds : 64;
        efd *v;

        while (n <= fd)
            n *= 2;
        v = realloc(b->fds, (size_t)n * sizeof *v);
        if (!v)
            return NULL;
        memset(v + b->nfds, 0, (size_t)(n - b->nfds) * sizeof *v);
        b->fds = v;
        b->nfds = n;
    }
    return &b->fds[fd];
}

/* Registers the interest the pending ops need. With keep_in, an
 * EPOLLIN already registered stays (see the head: the next recv on a
 * data-plane socket then waits without two epoll_ctl calls); an EPOLLIN
 * that woke a poll with no read-side op drops it. */
static int rearm(rdv_backend *b, int fd, int keep_in)
{
    efd *e = &b->fds[fd];
    uint32_t want = (e->rd.kind ? EPOLLIN : 0) | (e->wr.kind ? EPOLLOUT : 0);
    struct epoll_event ev = {.events = 0, .data.fd = fd};
    int op;

    if (keep_in)
        want |= e->armed & EPOLLIN;
    if (want == e->armed)
        return RDV_OK;
    ev.events = want;
    op = !e->armed ? EPOLL_CTL_ADD : want ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    if (epoll_ctl(b->epfd, op, fd, &ev) < 0)
        return fail(b, "epoll_ctl", errno);
    e->armed = want;
    return RDV_OK;
}

/* An outcome known at once, queued as the next poll's event. */
static int queue(rdv_backend *b, int fd, uint64_t tag, int res)
{
    if (rdv_evq_push(&b->ready, fd, tag, res, 0, 0) != RDV_OK)
        return fail(b, "queueing an event", ENOMEM);
    return RDV_OK;
}

static void op_end(rdv_backend *b, int fd, eop *o, int res, int more)
{
    rdv_evq_push(&b->ready, fd, o->tag, res, more, o->kind == K_ACCEPT);
    if (!more) {
        if (o->deadline != RDV_DEADLINE_NONE)
            b->ntimed--;
        o->kind = K_NONE;
    }
}

/* Runs the syscall of o once. Returns 1 when o finished, 0 on EAGAIN. */
static int op_try(rdv_backend *b, int fd, eop *o)
{
    for (;;) {
        ssize_t n;
        int err = 0;
        socklen_t el = sizeof err;

        switch (o->kind) {
        case K_RECV:
            n = recv(fd, o->buf, o->len, MSG_DONTWAIT);
            break;
        case K_SEND:
            n = send(fd, o->buf, o->len, MSG_DONTWAIT | MSG_NOSIGNAL);
            break;
        case K_CONNECT:
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
                err = errno;
            op_end(b, fd, o, -err, 0);
            return 1;
        case K_ACCEPT:
            n = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (n >= 0) {
                op_end(b, fd, o, (int)n, 1);
                continue; /* drain the backlog */
            }
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            op_end(b, fd, o, -errno, 0);
            return 1;
        default:
            return 1;
        }
        if (n < 0 && errno == EINTR)
            continue; /* retried on purpose: nothing moved */
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        op_end(b, fd, o, n < 0 ? -errno : (int)n, 0);
        return 1;
    }
}

/* Starts o on fd's side `side`: tries it, arms epoll if it must wait. */
static int op_start(rdv_backend *b, int fd, int write_side, eop o,
                    int try_now)
{
    efd *e = fd_slot(b, fd);
    eop *slot;

    if (!e)
        return fail(b, "growing the fd table", ENOMEM);
    slot = write_side ? &e->wr : &e->rd;
    if (slot->kind != K_NONE) {
        snprintf(b->why, sizeof b->why,
                 "fd %d already has an operation on its %s side", fd,
                 write_side ? "write" : "read");
        return RDV_EIO;
    }
    *slot = o;
    if (o.deadline != RDV_DEADLINE_NONE)
        b->ntimed++;
    if (try_now && op_try(b, fd, slot))
        return RDV_OK;
    return rearm(b, fd, 1);
}

static int epoll_connect_op(rdv_backend *b, int fd, const struct sockaddr *sa,
                            socklen_t salen, uint64_t tag, int64_t deadline)
{
    eop o = {.kind = K_CONNECT, .tag = tag, .deadline = deadline};

    while (connect(fd, sa, salen) < 0) {
        if (errno == EINPROGRESS || errno == EINTR)
            return op_start(b, fd, 1, o, 0);
        /* fails at once (refused, unreachable): report as an event */
        return queue(b, fd, tag, -errno);
    }
    return queue(b, fd, tag, 0);
}

static int epoll_accept_op(rdv_backend *b, int fd, uint64_t tag)
{
    eop o = {.kind = K_ACCEPT, .tag = tag, .deadline = RDV_DEADLINE_NONE};

    return op_start(b, fd, 0, o, 1);
}

static int epoll_send_op(rdv_backend *b, int fd, const void *buf,
                         size_t len, uint64_t tag)
{
    eop o = {.kind = K_SEND, .tag = tag, .buf = (void *)buf, .len = len,
             .deadline = RDV_DEADLINE_NONE};

    return op_start(b, fd, 1, o, 1);
}

static int epoll_recv_op(rdv_backend *b, int fd, void *buf, size_t len,
                         uint64_t tag, int64_t deadline)
{
    eop o = {.kind = K_RECV, .tag = tag, .buf = buf, .len = len,
             .deadline = deadline};

    return op_start(b, fd, 0, o, 1);
}

static void epoll_forget(rdv_backend *b, int fd)
{
    if (fd >= 0 && fd < b->nfds) {
        efd *e = &b->fds[fd];

        if (e->rd.kind && e->rd.deadline != RDV_DEADLINE_NONE)
            b->ntimed--;
        if (e->wr.kind && e->wr.deadline != RDV_DEADLINE_NONE)
            b->ntimed--;
        e->rd.kind = e->wr.kind = K_NONE;
        if (e->armed)
            epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, NULL);
        e->armed = 0;
    }
    rdv_evq_drop_fd(&b->ready, fd);
}

/* Earliest op deadline, or `deadline` if that is sooner. */
static int64_t next_deadline(const rdv_backend *b, int64_t deadline)
{
    for (int fd = 0; b->ntimed > 0 && fd < b->nfds; fd++) {
        const efd *e = &b->fds[fd];

        if (e->rd.kind && e->rd.deadline < deadline)
            deadline = e->rd.deadline;
        if (e->wr.kind && e->wr.deadline < deadline)
            deadline = e->wr.deadline;
    }
    return deadline;
}

static void expire(rdv_backend *b)
{
    int64_t now = rdv_now_ns();

    for (int fd = 0; b->ntimed > 0 && fd < b->nfds; fd++) {
        efd *e = &b->fds[fd];
        int changed = 0;

        if (e->rd.kind && e->rd.deadline <= now) {
            op_end(b, fd, &e->rd, -ETIME, 0);
            changed = 1;
        }
        if (e->wr.kind && e->wr.deadline <= now) {
            op_end(b, fd, &e->wr, -ETIME, 0);
            changed = 1;
        }
        if (changed)
            rearm(b, fd, 0);
    }
}

static int epoll_poll(rdv_backend *b, rdv_event *evs, int max,
                      int64_t deadline)
{
    struct epoll_event ready[128];

    while (b->ready.len == 0) {
        int64_t wake = next_deadline(b, deadline);
        int n = epoll_wait(b->epfd, ready, 128, rdv_deadline_left_ms(wake));

        if (n < 0 && errno == EINTR)
            continue; /* a signal never ends the wait early */
        if (n < 0)
            return fail(b, "epoll_wait", errno);
        for (int i = 0; i < n; i++) {
            int fd = ready[i].data.fd;
            efd *e = &b->fds[fd];
            uint32_t ev = ready[i].events;
            /* a data-plane recv's EPOLLIN stays for the next one;
             * without a read-side op this wakeup was for nothing:
             * drop it */
            int keep_in = e->rd.kind == K_RECV &&
                          (e->rd.tag & RDV_TAG_TRANSPORT);

            if (e->rd.kind && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                op_try(b, fd, &e->rd);
            if (e->wr.kind && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                op_try(b, fd, &e->wr);
            rearm(b, fd, keep_in);
        }
        if (b->ntimed > 0)
            expire(b);
        if (b->ready.len == 0 && rdv_now_ns() >= deadline)
            return 0;
    }
    return rdv_evq_pop(&b->ready, evs, max);
}

static void epoll_destroy(rdv_backend *b)
{
    if (!b)
        return;
    close(b->epfd);
    rdv_evq_free(&b->ready);
    free(b->fds);
    free(b);
}

const rdv_backend_ops rdv_backend_epoll = {
    .name = "epoll",
    .nonblocking = 1,
    .tries_at_once = 1,
    .create = epoll_create_backend,
    .destroy = epoll_destroy,
    .connect = epoll_connect_op,
    .accept = epoll_accept_op,
    .send = epoll_send_op,
    .recv = epoll_recv_op,
    .forget = epoll_forget,
    .poll = epoll_poll,
    .errmsg = epoll_errmsg,
};
