/*
 * harness/bench/mesh_floor.c - what a full mesh costs with nothing but
 * the kernel's loopback TCP: `rdv bench rendezvous --impl floor`.
 *
 * Why: the rendezvous goals of issue 20 are wall times on one machine,
 * and at large N most of librdv's time is the kernel's (84% at N=64 in
 * a perf profile: packets, socket setup and teardown). A row that builds
 * the same mesh of N(N-1)/2 connections, each with one 40-byte hello and
 * one 40-byte reply as librdv's handshake has, says how much of a figure
 * is librdv's and how much any TCP full mesh on this machine must pay.
 *
 * What it leaves out, so that it is a floor: no store (ports go through
 * the parent's shared mapping), no record or hello checks, no context,
 * no retries (a failed connect fails the run). Its barrier is a counter
 * in that mapping: no rank closes a link before every rank has its
 * links up, as after librdv's barrier, so closes do not slow handshakes
 * still going on. Waits for a port or the barrier sleep on a futex.
 *
 * What it keeps: every rank forked, its own listener, every connect in
 * flight at once, readiness through one epoll set, TCP_NODELAY, and
 * librdv's two packet savings, so that both put the same packets on the
 * wire: the handshake's last ACK rides on the hello (TCP_DEFER_ACCEPT
 * on the connecting socket, rendezvous/links.c), and the second end of
 * a link to close resets it (transport.c's link_close). Each link has
 * one one-shot epoll registration, re-armed only when it has more to
 * do, so the syscalls per link are few: a floor, not a straw man.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench/mesh_floor.h"
#include "rdv/clock.h"

#define HELLO 40 /* librdv's CONNECT and ACCEPT (rendezvous/codec.h) */
#define LISTENER UINT32_MAX

enum { SEND_HELLO, WANT_HELLO, WANT_REPLY, UP };

typedef struct floor_link {
    int fd, state;
    size_t got;
} floor_link;

typedef struct floor_rank {
    int n, rank, ep, lfd, up, accepted;
    floor_link *links; /* lower ranks by rank, then higher ones as accepted */
    int64_t deadline;
    char *msg;
    size_t cap;
} floor_rank;

static int fail(floor_rank *f, const char *what, int err)
{
    snprintf(f->msg, f->cap, "floor rank %d: %s: %s", f->rank, what,
             strerror(err));
    return -1;
}

static int arm(floor_rank *f, int op, int fd, uint32_t events, uint32_t i)
{
    struct epoll_event ev = {.events = events, .data.u32 = i};

    return epoll_ctl(f->ep, op, fd, &ev) < 0 ? fail(f, "epoll_ctl", errno)
                                             : 0;
}

/* Sleeps while *word is still `was`, until the deadline: a futex, so
 * the ranks' waits for ports and for the barrier cost no polling (the
 * mapping is shared between processes: no FUTEX_PRIVATE_FLAG). */
static int wait_change(floor_rank *f, int *word, int was)
{
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == was) {
        int64_t left = f->deadline - rdv_now_ns();
        struct timespec ts = {left / 1000000000, left % 1000000000};

        if (left <= 0)
            return -1;
        syscall(SYS_futex, word, FUTEX_WAIT, was, &ts, NULL, 0);
    }
    return 0;
}

static void wake_all(int *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static int listen_on_loopback(floor_rank *f, int *ports)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int one = 1;

    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->lfd < 0)
        return fail(f, "socket", errno);
    /* accepted sockets inherit TCP_NODELAY from the listener */
    setsockopt(f->lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind(f->lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(f->lfd, f->n + 64 > 4096 ? f->n + 64 : 4096) < 0 ||
        getsockname(f->lfd, (struct sockaddr *)&sa, &sl) < 0)
        return fail(f, "listening on 127.0.0.1", errno);
    __atomic_store_n(&ports[f->rank], ntohs(sa.sin_port), __ATOMIC_RELEASE);
    wake_all(&ports[f->rank]);
    return arm(f, EPOLL_CTL_ADD, f->lfd, EPOLLIN, LISTENER);
}

/* A lower rank's port, once it has published one (-1: it failed). */
static int port_of(floor_rank *f, int *ports, int k)
{
    int port = 0;

    if (wait_change(f, &ports[k], 0) == 0)
        port = __atomic_load_n(&ports[k], __ATOMIC_ACQUIRE);
    if (port <= 0)
        snprintf(f->msg, f->cap, "floor rank %d: rank %d %s", f->rank, k,
                 port < 0 ? "failed before it listened" : "never listened");
    return port > 0 ? port : -1;
}

static int connect_to(floor_rank *f, int *ports, int k)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int port = port_of(f, ports, k), one = 1, fd;

    if (port < 0)
        return -1;
    sa.sin_port = htons((uint16_t)port);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(f, "socket", errno);
    f->links[k] = (floor_link){.fd = fd, .state = SEND_HELLO};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
        errno != EINPROGRESS)
        return fail(f, "connect", errno);
    return arm(f, EPOLL_CTL_ADD, fd, EPOLLOUT | EPOLLONESHOT, (uint32_t)k);
}

static int accept_all(floor_rank *f)
{
    int fd;

    while ((fd = accept4(f->lfd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        int i = f->rank + f->accepted;

        if (i >= f->n - 1) {
            close(fd);
            snprintf(f->msg, f->cap, "floor rank %d: more connections than "
                     "higher ranks (a stranger on the port?)", f->rank);
            return -1;
        }
        f->accepted++;
        f->links[i] = (floor_link){.fd = fd, .state = WANT_HELLO};
        if (arm(f, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLONESHOT, (uint32_t)i))
            return -1;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0
                                                   : fail(f, "accept", errno);
}

static int send_hello(floor_rank *f, floor_link *l)
{
    static const unsigned char hello[HELLO];

    if (send(l->fd, hello, HELLO, MSG_NOSIGNAL) != HELLO)
        return fail(f, "send", errno ? errno : EIO);
    return 0;
}

/* One readiness event of link i: the next step of its handshake. */
static int step(floor_rank *f, uint32_t i)
{
    floor_link *l = &f->links[i];
    unsigned char buf[HELLO];
    ssize_t got;

    if (l->state == SEND_HELLO) {
        int err = 0;
        socklen_t el = sizeof err;

        if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            err = errno;
        if (err)
            return fail(f, "connect", err);
        if (send_hello(f, l))
            return -1;
        l->state = WANT_REPLY;
        return arm(f, EPOLL_CTL_MOD, l->fd, EPOLLIN | EPOLLONESHOT, i);
    }
    got = recv(l->fd, buf, HELLO - l->got, 0);
    if (got == 0) {
        snprintf(f->msg, f->cap, "floor rank %d: a peer closed its link "
                 "mid-handshake", f->rank);
        return -1;
    }
    if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return fail(f, "recv", errno);
    if (got > 0)
        l->got += (size_t)got;
    if (l->got < HELLO)
        return arm(f, EPOLL_CTL_MOD, l->fd, EPOLLIN | EPOLLONESHOT, i);
    if (l->state == WANT_HELLO && send_hello(f, l))
        return -1;
    l->state = UP;
    f->up++;
    return 0;
}

static int mesh_up(floor_rank *f, int *ports)
{
    struct epoll_event evs[64];

    if (listen_on_loopback(f, ports))
        return -1;
    for (int k = 0; k < f->rank; k++)
        if (connect_to(f, ports, k))
            return -1;
    while (f->up < f->n - 1) {
        int64_t left = (f->deadline - rdv_now_ns()) / 1000000;
        int nev = left > 0 ? epoll_wait(f->ep, evs, 64, (int)left) : 0;

        if (nev < 0 && errno == EINTR)
            continue;
        if (nev < 0)
            return fail(f, "epoll_wait", errno);
        if (nev == 0) {
            snprintf(f->msg, f->cap, "floor rank %d: %d of %d links up at "
                     "the deadline", f->rank, f->up, f->n - 1);
            return -1;
        }
        for (int e = 0; e < nev; e++)
            if (evs[e].data.u32 == LISTENER ? accept_all(f)
                                            : step(f, evs[e].data.u32))
                return -1;
    }
    return 0;
}

/* A plain close, or a reset when the peer has closed first: its FIN is
 * all there is to read (as librdv's link_close, without its checks). */
static void close_link(int fd)
{
    struct linger now = {.l_onoff = 1, .l_linger = 0};
    char c;

    if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
    close(fd);
}

/* The barrier: counts this rank in ports[n], waits for the others (a
 * rank that failed sets the count negative, for good: see gone). */
static int all_up(floor_rank *f, int *ports)
{
    int count = __atomic_add_fetch(&ports[f->n], 1, __ATOMIC_ACQ_REL);

    if (count == f->n)
        wake_all(&ports[f->n]);
    while (count >= 0 && count < f->n) {
        if (wait_change(f, &ports[f->n], count) < 0)
            break;
        count = __atomic_load_n(&ports[f->n], __ATOMIC_ACQUIRE);
    }
    if (count == f->n)
        return 0;
    snprintf(f->msg, f->cap, "floor rank %d: %s", f->rank,
             count < 0 ? "another rank failed"
                       : "not every rank had its links up at the deadline");
    return -1;
}

/* A failed rank tells the others, so that none waits out the deadline
 * for its port or at the barrier (a peer that waits for its connection
 * still does). */
static void gone(floor_rank *f, int *ports)
{
    int unset = 0;

    if (__atomic_compare_exchange_n(&ports[f->rank], &unset, -1, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        wake_all(&ports[f->rank]);
    __atomic_store_n(&ports[f->n], INT_MIN, __ATOMIC_RELEASE);
    wake_all(&ports[f->n]);
}

int rdv_mesh_floor_run(int n, int rank, int *ports, int timeout_ms,
                       int64_t *up_ns, char *msg, size_t cap)
{
    floor_rank f = {.n = n, .rank = rank, .lfd = -1, .msg = msg,
                    .cap = cap,
                    .deadline = rdv_now_ns() + timeout_ms * 1000000ll};
    int ret = -1;

    f.links = malloc((size_t)n * sizeof *f.links);
    f.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!f.links)
        snprintf(msg, cap, "floor rank %d: out of memory", rank);
    else if (f.ep < 0)
        fail(&f, "epoll_create1", errno);
    else {
        for (int i = 0; i < n; i++)
            f.links[i].fd = -1;
        ret = mesh_up(&f, ports);
    }
    *up_ns = rdv_now_ns();
    if (ret == 0)
        ret = all_up(&f, ports);
    else
        gone(&f, ports);
    for (int i = 0; f.links && i < n; i++)
        if (f.links[i].fd >= 0)
            close_link(f.links[i].fd);
    if (f.lfd >= 0)
        close(f.lfd);
    if (f.ep >= 0)
        close(f.ep);
    free(f.links);
    return ret;
}
