/*
 * server/loop.c - the store server's event loop, on the transport's
 * backend engine (transport.h: io_uring, or epoll where io_uring is
 * refused), on the server's own thread.
 *
 * Choices:
 *  - One engine, the transport's. Its operations know fds and tags,
 *    never ranks, so a server with any number of anonymous clients
 *    drives it as it is: a multishot accept on the listener, one recv
 *    and at most one send in flight per client, and a recv on a
 *    socketpair that stop() writes to. The tag is (generation, slot,
 *    kind), so an event that outlived its client (dropped earlier in
 *    the same batch) is recognised and ignored.
 *  - Timers are the deadline heap's (waiters.c): each poll sleeps until
 *    the earliest parked request's deadline (or a delayed accept
 *    re-arm), and a turn ends by answering whatever expired.
 *  - Per-client memory is bounded: the receive buffer grows only to
 *    the size of the frame being read (the codec refuses frames over
 *    max_frame, or over a hello's size before the hello, before
 *    anything is allocated for them) and shrinks back
 *    after a large one; replies queue in one buffer while the kernel
 *    sends another, and the server stops reading from a client whose
 *    unsent replies exceed out_limit until they drain.
 *  - Replies are flushed once per turn (all the replies a turn made for
 *    a client go out in one send), and clients die at the end of a
 *    turn, never in the middle of one, so nothing handled later in the
 *    same turn points at freed memory.
 *  - An ordinary disconnect (EOF, a reset from a killed client) is not
 *    logged; what a client did wrong is, with its address.
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

#include "server.h"
#include "transport/sockaddr.h"

enum { TAG_LISTEN = 1, TAG_WAKE, TAG_RECV, TAG_SEND };

#define IN_FIRST 16384u
#define BUF_KEEP (1u << 20) /* buffers above this are freed once idle */
#define ACCEPT_RETRY_NS 100000000LL /* 100 ms, after EMFILE and such */

static uint64_t tag_of(const srv_client *c, int kind)
{
    return ((uint64_t)c->gen << 32) | ((uint64_t)c->idx << 3) |
           (uint64_t)kind;
}

void srv_log(srv *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (!s->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->log(s->log_arg, line);
}

void srv_client_kill(srv *s, srv_client *c, const char *why)
{
    if (c->dead)
        return;
    c->dead = 1;
    s->dead[s->ndead++] = c;
    if (why) {
        srv_log(s, "client %s dropped: %s", c->addr, why);
        atomic_fetch_add(&s->st_dropped, 1);
    }
}

void srv_client_dirty(srv *s, srv_client *c)
{
    if (c->dirty || c->dead)
        return;
    c->dirty = 1;
    s->dirty[s->ndirty++] = c;
}

/* The backend's failure as a reason to drop c. */
static void engine_fail(srv *s, srv_client *c, const char *op)
{
    char why[256];

    snprintf(why, sizeof why, "%s on %s: %s", op, s->ops->name,
             s->ops->errmsg(s->be));
    srv_client_kill(s, c, why);
}

/* Makes the receive buffer hold cap bytes. 0, or -1 out of memory. */
static int in_resize(srv_client *c, size_t cap)
{
    unsigned char *p = realloc(c->in, cap);

    if (!p)
        return -1;
    c->in = p;
    c->in_cap = cap;
    return 0;
}

static size_t unsent(const srv_client *c)
{
    return c->out.len + c->sending.len - c->sent;
}

static void arm_recv(srv *s, srv_client *c)
{
    if (c->recv_busy || c->dead || c->closing || unsent(c) > s->out_limit)
        return;
    if (c->in_len == c->in_cap) {
        srv_client_kill(s, c, "receive buffer full");
        return;
    }
    if (s->ops->recv(s->be, c->fd, c->in + c->in_len, c->in_cap - c->in_len,
                     tag_of(c, TAG_RECV), RDV_DEADLINE_NONE) != RDV_OK) {
        engine_fail(s, c, "recv");
        return;
    }
    c->recv_busy = 1;
}

/* Drops a buffer kept for reuse once it grew past BUF_KEEP. */
static void buf_trim(rdv_tcp_buf *b)
{
    if (b->len == 0 && b->cap > BUF_KEEP)
        rdv_tcp_buf_free(b);
}

static void flush(srv *s, srv_client *c)
{
    if (c->send_busy || c->dead)
        return;
    if (c->sent == c->sending.len) {
        rdv_tcp_buf t = c->sending;

        if (c->out.len == 0) {
            if (c->closing)
                srv_client_kill(s, c, NULL); /* its last reply is out */
            return;
        }
        c->sending = c->out;
        c->out = t;
        c->out.len = 0;
        c->sent = 0;
    }
    if (s->ops->send(s->be, c->fd, c->sending.p + c->sent,
                     c->sending.len - c->sent,
                     tag_of(c, TAG_SEND)) != RDV_OK) {
        engine_fail(s, c, "send");
        return;
    }
    c->send_busy = 1;
}

/* Serves every whole frame in the receive buffer, then grows the buffer
 * toward the frame that is still incomplete. */
static void decode_all(srv *s, srv_client *c)
{
    size_t off = 0, need = 0;
    char why[256], msg[300];

    while (!c->dead && !c->closing) {
        /* Before its hello a client is a stranger: nothing larger than
         * a hello is read (or allocated) for it. */
        uint32_t limit = c->hello_done || s->max_frame < RDV_TCP_HELLO_BODY_MAX
                             ? s->max_frame
                             : RDV_TCP_HELLO_BODY_MAX;
        rdv_tcp_msg m;
        size_t used;
        int rc = rdv_tcp_decode(c->in + off, c->in_len - off, limit, &m,
                                &used, why, sizeof why);

        if (rc == RDV_TCP_NEED_MORE) {
            need = used;
            break;
        }
        if (rc != RDV_OK) {
            srv_client_kill(s, c, why);
            return;
        }
        srv_serve(s, c, &m);
        off += used;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    /* Grown by doubling as the frame's bytes arrive, never to the size
     * its header announces: a client that sends a 64 MiB header and
     * nothing else gets no 64 MiB buffer (found by fuzz_tcp_server). */
    if (need > c->in_cap &&
        in_resize(c, c->in_cap * 2 < need ? c->in_cap * 2 : need)) {
        snprintf(msg, sizeof msg, "out of memory for a frame of %zu bytes",
                 need);
        srv_client_kill(s, c, msg);
    } else if (c->in_len == 0 && c->in_cap > BUF_KEEP) {
        in_resize(c, IN_FIRST); /* failing to shrink is harmless */
    }
}

static void on_recv(srv *s, srv_client *c, int res)
{
    char why[128];

    c->recv_busy = 0;
    if (res == 0 || res == -ECONNRESET) {
        srv_client_kill(s, c, NULL); /* gone: closed, or killed */
        return;
    }
    if (res < 0) {
        snprintf(why, sizeof why, "recv: %s", strerror(-res));
        srv_client_kill(s, c, why);
        return;
    }
    c->in_len += (size_t)res;
    decode_all(s, c);
    arm_recv(s, c);
}

static void on_send(srv *s, srv_client *c, int res)
{
    c->send_busy = 0;
    if (res < 0) {
        srv_client_kill(s, c, NULL); /* EPIPE, reset: the client left */
        return;
    }
    c->sent += (size_t)res;
    if (c->sent == c->sending.len) {
        c->sending.len = 0;
        c->sent = 0;
        buf_trim(&c->sending);
    }
    flush(s, c);
    arm_recv(s, c); /* the replies drained: read again */
}

/* Room in every per-slot array for one more client. */
static int slots_grow(srv *s)
{
    uint32_t cap = s->nslots ? s->nslots * 2 : 64;
    void *p;

    if ((p = realloc(s->clients, cap * sizeof *s->clients)))
        s->clients = p;
    if (p && (p = realloc(s->free_slots, cap * sizeof *s->free_slots)))
        s->free_slots = p;
    if (p && (p = realloc(s->dirty, cap * sizeof *s->dirty)))
        s->dirty = p;
    if (p && (p = realloc(s->dead, cap * sizeof *s->dead)))
        s->dead = p;
    if (!p)
        return RDV_ENOMEM;
    for (uint32_t i = s->nslots; i < cap; i++)
        s->free_slots[s->nfree++] = cap - 1 - (i - s->nslots);
    for (uint32_t i = s->nslots; i < cap; i++)
        s->clients[i] = NULL;
    s->nslots = cap;
    return RDV_OK;
}

static void client_new(srv *s, int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    srv_client *c;
    int one = 1;

    atomic_fetch_add(&s->st_accepted, 1);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        ss.ss_family = AF_UNSPEC;
    if (s->nclients >= s->max_clients) {
        char addr[64];

        srv_log(s, "client %s refused: %u clients are connected "
                "(max_clients)", rdv_sockaddr_format(&ss, addr, sizeof addr),
                s->nclients);
        atomic_fetch_add(&s->st_refused, 1);
        close(fd);
        return;
    }
    if (s->nfree == 0 && slots_grow(s) != RDV_OK) {
        c = NULL;
    } else if ((c = calloc(1, sizeof *c)) && !(c->in = malloc(IN_FIRST))) {
        free(c);
        c = NULL;
    }
    if (!c) {
        srv_log(s, "out of memory for a new client: closed it");
        close(fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->idx = s->free_slots[--s->nfree];
    c->gen = ++s->next_gen & 0x7fffffffu;
    c->fd = fd;
    c->in_cap = IN_FIRST;
    rdv_sockaddr_format(&ss, c->addr, sizeof c->addr);
    s->clients[c->idx] = c;
    s->nclients++;
    atomic_store(&s->st_clients, s->nclients);
    arm_recv(s, c);
}

static void client_drop(srv *s, srv_client *c)
{
    s->ops->forget(s->be, c->fd);
    close(c->fd);
    srv_waiters_drop_client(s, c);
    free(c->in);
    rdv_tcp_buf_free(&c->out);
    rdv_tcp_buf_free(&c->sending);
    s->clients[c->idx] = NULL;
    s->free_slots[s->nfree++] = c->idx;
    s->nclients--;
    atomic_store(&s->st_clients, s->nclients);
    free(c);
}

static void arm_accept(srv *s)
{
    s->accept_retry_at = 0;
    if (s->ops->accept(s->be, s->listen_fd, TAG_LISTEN) != RDV_OK) {
        srv_log(s, "accept on %s: %s; trying again in 100 ms", s->ops->name,
                s->ops->errmsg(s->be));
        s->accept_retry_at = rdv_now_ns() + ACCEPT_RETRY_NS;
    }
}

static void on_accept(srv *s, const rdv_event *ev)
{
    if (ev->res >= 0)
        client_new(s, ev->res);
    if (ev->more)
        return;
    if (ev->res >= 0) {
        arm_accept(s); /* multishot ended on its own */
        return;
    }
    /* EMFILE and the like last a while: try again later, not in a loop */
    srv_log(s, "accept: %s; trying again in 100 ms", strerror(-ev->res));
    s->accept_retry_at = rdv_now_ns() + ACCEPT_RETRY_NS;
}

static void on_event(srv *s, const rdv_event *ev)
{
    int kind = (int)(ev->tag & 7);
    uint32_t idx = (uint32_t)(ev->tag >> 3) & 0x1fffffffu;
    srv_client *c = idx < s->nslots ? s->clients[idx] : NULL;

    if (kind == TAG_LISTEN) {
        on_accept(s, ev);
    } else if (kind == TAG_WAKE) {
        s->stopping = 1;
    } else if (c && c->gen == (uint32_t)(ev->tag >> 32) && !c->dead) {
        if (kind == TAG_RECV)
            on_recv(s, c, ev->res);
        else
            on_send(s, c, ev->res);
    }
}

/* Flushes what this turn queued, then drops the clients that died. */
static void turn_end(srv *s)
{
    for (size_t i = 0; i < s->ndirty; i++) {
        s->dirty[i]->dirty = 0;
        flush(s, s->dirty[i]);
    }
    s->ndirty = 0;
    for (size_t i = 0; i < s->ndead; i++)
        client_drop(s, s->dead[i]);
    s->ndead = 0;
}

/* Puts fd in the mode the backend wants (the listener and the wake
 * socket are made before the backend is chosen). */
static int fd_mode(srv *s, int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -1;
    fl = s->ops->nonblocking ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl);
}

static void report_start(srv *s, int rc, const char *err)
{
    pthread_mutex_lock(&s->lock);
    s->started = 1;
    s->start_rc = rc;
    snprintf(s->start_err, sizeof s->start_err, "%s", err);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void loop_run(srv *s)
{
    rdv_event evs[64];

    while (!s->stopping) {
        int64_t deadline = srv_waiters_expire(s, rdv_now_ns());
        int n;

        turn_end(s);
        if (s->accept_retry_at && s->accept_retry_at < deadline)
            deadline = s->accept_retry_at;
        n = s->ops->poll(s->be, evs, 64, deadline);
        if (n < 0) {
            srv_log(s, "the event loop failed (%s: %s); the server stops",
                    s->ops->name, s->ops->errmsg(s->be));
            return;
        }
        for (int i = 0; i < n; i++)
            on_event(s, &evs[i]);
        if (s->accept_retry_at && rdv_now_ns() >= s->accept_retry_at)
            arm_accept(s);
        turn_end(s);
    }
}

void *srv_loop_main(void *arg)
{
    srv *s = arg;
    char err[256] = "";
    int rc = rdv_backend_open(s->transport, &s->ops, &s->be, err,
                              sizeof err);

    if (rc == RDV_OK && (fd_mode(s, s->listen_fd) || fd_mode(s, s->wake[0])))
        rc = rdv_backend_sys_fail(err, sizeof err, "fcntl", errno);
    if (rc == RDV_OK && (rc = srv_table_init(&s->table)) != RDV_OK)
        snprintf(err, sizeof err, "out of memory");
    if (rc == RDV_OK &&
        (s->ops->accept(s->be, s->listen_fd, TAG_LISTEN) != RDV_OK ||
         s->ops->recv(s->be, s->wake[0], s->wake_buf, sizeof s->wake_buf,
                      TAG_WAKE, RDV_DEADLINE_NONE) != RDV_OK)) {
        snprintf(err, sizeof err, "%s", s->ops->errmsg(s->be));
        rc = RDV_EIO;
    }
    if (rc != RDV_OK) {
        if (s->be)
            s->ops->destroy(s->be);
        srv_table_free(&s->table);
        report_start(s, rc, err);
        return NULL;
    }
    report_start(s, RDV_OK, "");
    loop_run(s);
    for (uint32_t i = 0; i < s->nslots; i++)
        if (s->clients[i] && !s->clients[i]->dead)
            srv_client_kill(s, s->clients[i], NULL);
    turn_end(s);
    s->ops->forget(s->be, s->listen_fd);
    s->ops->forget(s->be, s->wake[0]);
    s->ops->destroy(s->be);
    srv_table_free(&s->table);
    srv_heap_free(&s->heap);
    free(s->clients);
    free(s->free_slots);
    free(s->dirty);
    free(s->dead);
    return NULL;
}
