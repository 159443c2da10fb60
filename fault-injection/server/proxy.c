/*
 * server/proxy.c - the fault proxy's sockets and forwarding, on epoll.
 *
 * Each accepted client gets a non-blocking connect to the target. Bytes
 * read from one end become chunks stamped with when they may leave
 * (now + latency) and queue towards the other end; at most PROXY_QUEUE
 * bytes queue per direction, after which reading from that end pauses,
 * so a slow reader back-pressures its writer instead of growing memory.
 * EOF is passed on as a half-close once its queue drained. Any socket
 * error closes the pair. In blackhole mode nothing is passed on: reads
 * go on into the bounded queues (then TCP's windows close), and what is
 * held leaves, in order, once the blackhole ends. That is a path that
 * loses every packet for a while, as TCP sees it: silence, then the
 * retransmitted bytes. Dropping bytes mid-stream instead would be a
 * fault no TCP connection can have; a client could never learn whether
 * a command it sent ran, though its connection stayed up.
 *
 * Interest sets are recomputed after every event (update()), which keeps
 * the state machine in one place instead of scattered epoll_ctl calls.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "server/proxy_internal.h"
#include "rdv/status.h"
#include "rdv/clock.h"

#define PROXY_QUEUE (1u << 20)
#define PROXY_CHUNK 65536
#define PROXY_CONNS_MAX 1024
#define PROXY_EVENTS 64

static void conn_free(rdv_fault_proxy *p, proxy_conn *c, int rst)
{
    for (int i = 0; i < 2; i++) {
        proxy_end *e = &c->end[i];

        if (e->fd >= 0) {
            if (rst)
                setsockopt(e->fd, SOL_SOCKET, SO_LINGER,
                           &(struct linger){.l_onoff = 1, .l_linger = 0},
                           sizeof(struct linger));
            epoll_ctl(p->epfd, EPOLL_CTL_DEL, e->fd, NULL);
            close(e->fd);
        }
        while (e->head) {
            proxy_chunk *k = e->head;

            e->head = k->next;
            free(k);
        }
    }
    free(c);
    p->nconns--;
}

/* Frees the connections marked dead. */
static void reap(rdv_fault_proxy *p)
{
    for (proxy_conn **pc = &p->conns; *pc;) {
        proxy_conn *c = *pc;

        if (c->dead) {
            *pc = c->next;
            conn_free(p, c, 0);
        } else {
            pc = &c->next;
        }
    }
}

void rdv_fault_proxy_reset_all(rdv_fault_proxy *p)
{
    while (p->conns) {
        proxy_conn *c = p->conns;

        p->conns = c->next;
        conn_free(p, c, 1);
        p->resets++;
    }
}

uint64_t rdv_fault_proxy_held(const rdv_fault_proxy *p)
{
    uint64_t held = 0;

    for (const proxy_conn *c = p->conns; c; c = c->next)
        for (int i = 0; i < 2; i++)
            for (const proxy_chunk *k = c->end[i].head; k; k = k->next)
                held += k->len - k->off;
    return held;
}

int rdv_fault_proxy_next_ms(const rdv_fault_proxy *p)
{
    int64_t first = INT64_MAX, now = rdv_now_ns();

    if (p->blackhole)
        return -1; /* nothing is due until "pass" */
    for (const proxy_conn *c = p->conns; c; c = c->next)
        for (int i = 0; i < 2; i++)
            if (c->end[i].head && c->end[i].head->due < first)
                first = c->end[i].head->due;
    if (first == INT64_MAX)
        return -1;
    return first <= now ? 0 : (int)((first - now + 999999) / 1000000);
}

/* Sets the epoll interest of both ends from the state. */
static void update(rdv_fault_proxy *p, proxy_conn *c)
{
    for (int i = 0; i < 2 && !c->dead; i++) {
        proxy_end *e = &c->end[i], *o = &c->end[1 - i];
        uint32_t ev = 0;

        if (e->removed)
            continue;
        if (e->eof && e->shut) {
            /* Nothing more to read or write here; EPOLLHUP cannot be
             * masked, so leave the set instead of waking on it. */
            epoll_ctl(p->epfd, EPOLL_CTL_DEL, e->fd, NULL);
            e->removed = 1;
            continue;
        }
        if (!e->eof && (i == 0 || c->connected) && e->queued < PROXY_QUEUE)
            ev |= EPOLLIN;
        if ((i == 1 && !c->connected) || (o->head && e->blocked))
            ev |= EPOLLOUT;
        if (ev != e->events) {
            struct epoll_event x = {.events = ev, .data.ptr = e};

            if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, e->fd, &x) == 0)
                e->events = ev;
            else
                c->dead = 1;
        }
    }
}

/* Reads what end e has. */
static void pull(rdv_fault_proxy *p, proxy_end *e)
{
    proxy_chunk *k = malloc(sizeof *k + PROXY_CHUNK);
    ssize_t n;

    if (!k) {
        e->c->dead = 1;
        return;
    }
    n = read(e->fd, k->data, PROXY_CHUNK);
    if (n > 0 && n < PROXY_CHUNK / 2) {
        /* Small reads keep small chunks: the queue bound is on bytes,
         * and 1-byte writes must not pin 64 KiB each. */
        proxy_chunk *small = realloc(k, sizeof *k + (size_t)n);

        k = small ? small : k;
    }
    if (n > 0) {
        k->next = NULL;
        k->len = (size_t)n;
        k->off = 0;
        k->due = rdv_now_ns() + p->latency_ns;
        if (e->tail)
            e->tail->next = k;
        else
            e->head = k;
        e->tail = k;
        e->queued += (size_t)n + sizeof *k; /* bytes and overhead */
        *(e->side == 0 ? &p->up : &p->down) += (uint64_t)n;
    } else {
        free(k);
    }
    if (n == 0)
        e->eof = 1;
    else if (n < 0 && errno != EAGAIN && errno != EINTR)
        e->c->dead = 1;
}

/* Writes the due chunks read from e to the other end. */
static void push(rdv_fault_proxy *p, proxy_end *e)
{
    proxy_end *o = &e->c->end[1 - e->side];
    int64_t now = rdv_now_ns();

    if (!e->c->connected || p->blackhole)
        return; /* held, EOF too: a FIN is traffic like any other */
    while (e->head && e->head->due <= now) {
        proxy_chunk *k = e->head;
        ssize_t n = send(o->fd, k->data + k->off, k->len - k->off,
                         MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EAGAIN)
                o->blocked = 1;
            else if (errno != EINTR)
                e->c->dead = 1;
            return;
        }
        o->blocked = 0;
        k->off += (size_t)n;
        e->queued -= (size_t)n;
        if (k->off == k->len) {
            e->head = k->next;
            if (!e->head)
                e->tail = NULL;
            e->queued -= sizeof *k;
            free(k);
        }
    }
    if (e->eof && !e->head && !o->shut) {
        shutdown(o->fd, SHUT_WR);
        o->shut = 1;
    }
}

static void conn_event(rdv_fault_proxy *p, proxy_end *e, uint32_t ev)
{
    proxy_conn *c = e->c;
    int err = 0;
    socklen_t len = sizeof err;

    if (e->side == 1 && !c->connected && (ev & (EPOLLOUT | EPOLLERR))) {
        if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
            c->dead = 1; /* the client sees its connection closed */
            return;
        }
        c->connected = 1;
    }
    if (ev & EPOLLERR)
        c->dead = 1;
    if (!c->dead && (ev & (EPOLLIN | EPOLLHUP)))
        pull(p, e);
    if (ev & EPOLLOUT)
        e->blocked = 0;
}

static int end_init(rdv_fault_proxy *p, proxy_conn *c, int side, int fd)
{
    struct epoll_event x = {.events = side ? EPOLLOUT : 0,
                            .data.ptr = &c->end[side]};

    c->end[side].c = c;
    c->end[side].side = side;
    c->end[side].fd = fd;
    c->end[side].events = x.events;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &x);
}

static void accept_one(rdv_fault_proxy *p)
{
    int cfd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int sfd;
    proxy_conn *c;

    if (cfd < 0)
        return;
    p->accepted++;
    if (p->nconns >= PROXY_CONNS_MAX || !(c = calloc(1, sizeof *c))) {
        close(cfd);
        return;
    }
    c->end[0].fd = c->end[1].fd = -1;
    c->next = p->conns;
    p->conns = c;
    p->nconns++;
    sfd = socket(p->target.ss_family,
                 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (end_init(p, c, 0, cfd) || sfd < 0 || end_init(p, c, 1, sfd) ||
        (connect(sfd, (struct sockaddr *)&p->target, p->target_len) &&
         errno != EINPROGRESS)) {
        if (sfd >= 0 && c->end[1].fd < 0)
            close(sfd);
        c->dead = 1;
    }
}

int rdv_fault_proxy_step(rdv_fault_proxy *p, int timeout_ms)
{
    struct epoll_event ev[PROXY_EVENTS];
    int next = rdv_fault_proxy_next_ms(p), n;

    if (next >= 0 && (timeout_ms < 0 || next < timeout_ms))
        timeout_ms = next;
    n = epoll_wait(p->epfd, ev, PROXY_EVENTS, timeout_ms);
    if (n < 0 && errno != EINTR)
        return RDV_EIO;
    for (int k = 0; k < n; k++) {
        if (!ev[k].data.ptr)
            accept_one(p);
        else
            conn_event(p, ev[k].data.ptr, ev[k].events);
    }
    for (proxy_conn *c = p->conns; c; c = c->next) {
        for (int i = 0; i < 2 && !c->dead; i++)
            push(p, &c->end[i]);
        if (c->end[0].eof && c->end[1].eof && !c->end[0].head &&
            !c->end[1].head)
            c->dead = 1;
        update(p, c);
    }
    reap(p);
    return RDV_OK;
}

/* Loopback targets only: the proxy must never reach off the host. */
static int target_of(rdv_fault_proxy *p, const char *host, int port)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)&p->target;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&p->target;

    if (port <= 0 || port > 65535)
        return -1;
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            return -1;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        p->target_len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 &&
        IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        p->target_len = sizeof *a6;
        return 0;
    }
    return -1;
}

static int listen_on(rdv_fault_proxy *p, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    struct epoll_event x = {.events = EPOLLIN, .data.ptr = NULL};

    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->lfd < 0 ||
        setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int)) ||
        bind(p->lfd, (struct sockaddr *)&a, sizeof a) ||
        listen(p->lfd, 128) ||
        getsockname(p->lfd, (struct sockaddr *)&a, &len) ||
        epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->lfd, &x))
        return -1;
    p->port = ntohs(a.sin_port);
    return 0;
}

int rdv_fault_proxy_create(int listen_port, const char *target_host,
                           int target_port, rdv_fault_proxy **out,
                           char *errbuf, size_t errlen)
{
    rdv_fault_proxy *p;

    if (!out || !target_host)
        return RDV_EINVAL;
    *out = NULL;
    if (!(p = calloc(1, sizeof *p)))
        return RDV_ENOMEM;
    p->lfd = -1;
    if (target_of(p, target_host, target_port)) {
        snprintf(errbuf, errlen, "proxy target %s:%d: expected a loopback "
                 "address (127.0.0.0/8, ::1, localhost) and a port 1..65535",
                 target_host, target_port);
        free(p);
        return RDV_EINVAL;
    }
    if ((p->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        listen_on(p, listen_port)) {
        snprintf(errbuf, errlen, "proxy cannot listen on 127.0.0.1:%d: %s",
                 listen_port, strerror(errno));
        rdv_fault_proxy_destroy(p);
        return RDV_ECONN;
    }
    *out = p;
    return RDV_OK;
}

void rdv_fault_proxy_destroy(rdv_fault_proxy *p)
{
    if (!p)
        return;
    while (p->conns) {
        proxy_conn *c = p->conns;

        p->conns = c->next;
        conn_free(p, c, 0);
    }
    if (p->lfd >= 0)
        close(p->lfd);
    if (p->epfd >= 0)
        close(p->epfd);
    free(p);
}

int rdv_fault_proxy_port(const rdv_fault_proxy *p)
{
    return p ? p->port : -1;
}
