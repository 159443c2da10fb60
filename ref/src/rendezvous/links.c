/*
 * rendezvous/links.c - the socket side of the rendezvous: one link per
 * peer, made by the higher rank.
 *
 * Connector (to every lower rank, all in flight at once): connect with
 * a linked timeout at the deadline, send CONNECT{rank, token, the nonce
 * read in the target's record}, read ACCEPT{target rank, token, our
 * nonce}; the connecting socket holds back the TCP handshake's last
 * ACK until the hello carries it (ack_with_hello(): one packet fewer,
 * and the acceptor's accept finds the hello already there). A refused
 * or dropped attempt is retried on a fresh socket after an exponential
 * backoff (1 ms doubling to 256 ms) with jitter from a per-rank
 * generator seeded by the nonce. An answer that parses
 * but does not prove the target (wrong rank, token or nonce) means the
 * published address belongs to someone else: that fails at once.
 *
 * Acceptor (from every higher rank): a multishot accept on the listener; each
 * new connection must send a valid CONNECT within its handshake budget
 * (rdv_context_options.handshake_ms; by default 250 ms, or 1 ms per rank
 * above 250 ranks; never past the deadline): a peer sends it as soon as its
 * connect completes (rdv_mesh_on_records() sends hellos before the next store
 * read), so only strangers, or a peer on a host too busy to run it, outlive
 * the budget. The flood guarantees below hold whatever the budget. Garbage, a
 * wrong token or size, a rank that should not connect here or a nonce that is
 * not ours (a stale peer) is closed at once; silence past the budget is
 * closed while the listener is crowded (half its slots unproven), else given
 * another budget, so a slow peer loses nothing when nobody needs its slot.
 * Both are counted in strangers_rejected and their slots reused. Slots are
 * capped (4N+64); when they are all taken, the oldest connection that has not
 * proved itself is closed to make room, so a flood of strangers delays a peer
 * by at most a retry and never shuts it out. Each slot carries a generation
 * in its ops' tags: a completion polled for a connection closed since never
 * reaches the next one in that slot. A valid hello from a rank whose record
 * we have not read yet is parked until the record arrives, because the answer
 * must carry its nonce. A newer valid hello from the same rank replaces the
 * older link: the connector only retries once its previous attempt failed.
 *
 * Once a rank holds N-1 links, every peer has read its record (each
 * handshake carries the nonce from it), which is what makes removing
 * the key safe at that point.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh.h"
#include "rdv/clock.h"
#include "transport/sockaddr.h"

/* Rejections logged one by one; a flood is counted, not logged. */
#define STRANGERS_LOGGED 8

enum { T_ACCEPT = 1, T_CONN, T_OUT_TX, T_OUT_RX, T_IN_RX, T_IN_TX };

static uint64_t tag_of(int kind, size_t idx)
{
    return ((uint64_t)kind << 56) | (uint64_t)idx;
}

/* An inbound slot's tag: the kind, the slot and its generation. */
static uint64_t in_tag(int kind, size_t idx, const rdv_mesh_inbound *in)
{
    return tag_of(kind, idx) | ((uint64_t)(in->gen & 0xffffffu) << 32);
}

static void drop_fd(rdv_mesh *m, int *fd)
{
    if (*fd >= 0) {
        rdv_transport_forget(m->t, *fd);
        close(*fd);
        *fd = -1;
    }
}

static uint64_t rng_next(rdv_mesh *m)
{
    uint64_t x = m->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    m->rng = x ? x : 0x9e3779b97f4a7c15ull;
    return x;
}

static int64_t backoff_ns(rdv_mesh *m, unsigned attempt)
{
    int64_t base = 1000000ll << (attempt < 8 ? attempt : 8);

    return base / 2 + (int64_t)(rng_next(m) % (uint64_t)(base / 2 + 1));
}

/* An engine call failed (ret, an rdv_status): fail the mesh with the
 * transport's detail, which names the call and the errno. */
static int op_failed(rdv_mesh *m, int ret, const char *what)
{
    return rdv_mesh_fail(m, ret, "rank %d: %s: %s", m->rank, what,
                         rdv_transport_errmsg(m->t));
}

static void out_retry(rdv_mesh *m, int k, int err, const char *what)
{
    rdv_mesh_peer *p = &m->peers[k];

    drop_fd(m, &p->fd);
    p->last_err = err;
    p->last_what = what;
    p->attempt++;
    m->counters->connect_retries++;
    p->state = LINK_WAIT;
    p->retry_at = rdv_now_ns() + backoff_ns(m, p->attempt);
}

/* Lets the last ACK of fd's TCP handshake ride on our hello instead of
 * going alone: Linux holds that ACK back on a connecting socket with
 * TCP_DEFER_ACCEPT set (tcp_rcv_synsent_state_process) until data goes
 * out, or the delayed-ACK timer fires (200 ms) should the hello be
 * late. Packets and CPU, from rdv bench rendezvous --store hash at
 * N=64 against the tree before: 10.3 -> 8.9 packets per connection
 * (net:net_dev_xmit); rank CPU 0.94x (io_uring) and 0.96x (epoll),
 * medians of 11 interleaved rounds. Best effort: without it the ACK
 * goes alone. */
static void ack_with_hello(int fd, int family)
{
    int one = 1;

    if (family == AF_INET || family == AF_INET6)
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof one);
}

static int out_start(rdv_mesh *m, int k)
{
    rdv_mesh_peer *p = &m->peers[k];
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, ret;

    if (!p->hook_cleared) {
        int h = rdv_context_hook_connect(m->ctx, k, p->attempt);

        if (h < 0) {
            out_retry(m, k, ECONNREFUSED, "connect (refused by hook)");
            return RDV_OK;
        }
        if (h > 0) {
            p->hook_cleared = 1;
            p->state = LINK_WAIT;
            p->retry_at = rdv_now_ns() + (int64_t)h * 1000000;
            return RDV_OK;
        }
    }
    p->hook_cleared = 0;
    ret = rdv_transport_socket(m->t, p->rec.family, &fd);
    if (ret == RDV_OK) {
        sl = rdv_record_sockaddr(&p->rec, &ss);
        p->fd = fd;
        ack_with_hello(fd, ss.ss_family);
        ret = rdv_transport_op_connect(m->t, fd, (struct sockaddr *)&ss, sl,
                                       tag_of(T_CONN, (size_t)k),
                                       m->deadline);
    }
    if (ret != RDV_OK) {
        ret = rdv_mesh_fail(m, ret, "rank %d: connecting to rank %d: %s",
                            m->rank, k, rdv_transport_errmsg(m->t));
        drop_fd(m, &p->fd); /* the kernel may still hold the connect */
        return ret;
    }
    p->state = LINK_CONNECT;
    return RDV_OK;
}

static int hello_to(rdv_mesh *m, uint8_t *tx, int kind, uint64_t nonce)
{
    rdv_hello h = {.kind = (uint16_t)kind, .rank = (uint32_t)m->rank,
                   .size = (uint32_t)m->size, .token = m->token,
                   .nonce = nonce};

    rdv_hello_encode(&h, tx);
    return RDV_HELLO_SIZE;
}

/* Moves the rest of a hello: returns 1 when it is all there, 0 when
 * another op was submitted, a negative status when it could not be. */
static int more_bytes(rdv_mesh *m, int fd, uint8_t *buf, size_t *moved,
                      int res, int is_send, uint64_t tag, int64_t deadline)
{
    int ret;

    *moved += (size_t)res;
    if (*moved >= RDV_HELLO_SIZE)
        return 1;
    if (is_send)
        ret = rdv_transport_op_send(m->t, fd, buf + *moved,
                                    RDV_HELLO_SIZE - *moved, tag);
    else
        ret = rdv_transport_op_recv(m->t, fd, buf + *moved,
                                    RDV_HELLO_SIZE - *moved, tag, deadline);
    return ret != RDV_OK ? ret : 0;
}

static int out_event(rdv_mesh *m, int kind, int k, int res)
{
    rdv_mesh_peer *p = &m->peers[k];
    rdv_hello h;
    char why[160];
    int ret;

    if (res == -ETIME) { /* the deadline: the loop reports it */
        drop_fd(m, &p->fd);
        p->last_err = ETIMEDOUT;
        p->state = LINK_WAIT;
        p->retry_at = m->deadline;
        return RDV_OK;
    }
    if (kind == T_CONN) {
        if (res < 0) {
            out_retry(m, k, -res, "connect");
            return RDV_OK;
        }
        p->moved = 0;
        p->state = LINK_HELLO;
        hello_to(m, p->tx, RDV_HELLO_CONNECT, p->rec.nonce);
        ret = rdv_transport_op_send(m->t, p->fd, p->tx, RDV_HELLO_SIZE,
                                    tag_of(T_OUT_TX, (size_t)k));
        return ret != RDV_OK ? op_failed(m, ret, "handshake") : RDV_OK;
    }
    if (res <= 0) {
        out_retry(m, k, res < 0 ? -res : ECONNRESET, "handshake");
        return RDV_OK;
    }
    ret = more_bytes(m, p->fd, kind == T_OUT_TX ? p->tx : p->rx, &p->moved,
                     res, kind == T_OUT_TX, tag_of(kind, (size_t)k),
                     m->deadline);
    if (ret <= 0)
        return ret < 0 ? op_failed(m, ret, "handshake") : RDV_OK;
    if (kind == T_OUT_TX) {
        p->moved = 0;
        p->state = LINK_ACK;
        ret = rdv_transport_op_recv(m->t, p->fd, p->rx, RDV_HELLO_SIZE,
                                    tag_of(T_OUT_RX, (size_t)k), m->deadline);
        return ret != RDV_OK ? op_failed(m, ret, "handshake") : RDV_OK;
    }
    ret = rdv_hello_decode(p->rx, RDV_HELLO_SIZE, &h, why, sizeof why);
    if (ret == RDV_OK && (h.kind != RDV_HELLO_ACCEPT || h.rank != (uint32_t)k ||
                          h.size != (uint32_t)m->size || h.token != m->token ||
                          h.nonce != m->me.nonce)) {
        snprintf(why, sizeof why,
                 "an answer from rank %u (kind %u, token %016llx) that does "
                 "not carry this rank's nonce",
                 (unsigned)h.rank, (unsigned)h.kind,
                 (unsigned long long)h.token);
        ret = RDV_EPROTO;
    }
    if (ret != RDV_OK)
        return rdv_mesh_fail(m, RDV_EPROTO,
                             "rank %d: the process at %s, published by rank "
                             "%d, answered the handshake with %s: it is not "
                             "rank %d of this run (a stale record?) (%s)",
                             m->rank, p->desc, k, why, k, m->job);
    p->state = LINK_UP;
    m->up++;
    return RDV_OK;
}

/* Remembers a stranger's source address (the first few distinct). */
static void stranger_from(rdv_mesh *m, int fd)
{
    rdv_mesh_strangers *st = &m->strangers;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char addr[64];

    if (st->nfrom >= (int)(sizeof st->from / sizeof st->from[0]) ||
        getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    rdv_sockaddr_format(&ss, addr, sizeof addr);
    char *colon = strrchr(addr, ':'); /* the host, not each port */
    if (colon)
        *colon = 0;
    for (int i = 0; i < st->nfrom; i++)
        if (!strcmp(st->from[i], addr))
            return;
    snprintf(st->from[st->nfrom++], sizeof st->from[0], "%s", addr);
}

static void in_reject(rdv_mesh *m, rdv_mesh_inbound *in, int kind,
                      const char *why)
{
    unsigned long long n = ++m->counters->strangers_rejected;

    m->strangers.count[kind]++;
    stranger_from(m, in->fd);
    if (n <= STRANGERS_LOGGED)
        rdv_context_log(m->ctx, "rank %d: closed an incoming connection: "
                        "%s%s", m->rank, why,
                        n == STRANGERS_LOGGED ? " (more are counted, not "
                                                "logged)" : "");
    drop_fd(m, &in->fd);
}

/* The connection that has waited longest without proving itself (not
 * parked, not being answered), or NULL. */
static rdv_mesh_inbound *in_oldest_stranger(rdv_mesh *m)
{
    rdv_mesh_inbound *old = NULL;

    for (size_t i = 0; i < m->nin; i++) {
        rdv_mesh_inbound *in = m->in[i];

        if (in->fd >= 0 && !in->parked && !in->acking &&
            (!old || in->accepted < old->accepted))
            old = in;
    }
    return old;
}

static size_t in_cap(const rdv_mesh *m)
{
    return (size_t)m->size * 4 + 64;
}

/* Half the slots or more hold connections that have not proved a peer
 * yet: silent ones past their budget must make room. Below that a slow
 * peer (descheduled on a crowded host, or still in a store read) keeps
 * its connection, since closing it would buy nothing. */
static int in_crowded(const rdv_mesh *m)
{
    size_t unproven = 0;

    for (size_t i = 0; i < m->nin; i++)
        unproven += m->in[i]->fd >= 0 && !m->in[i]->parked &&
                    !m->in[i]->acking;
    return unproven * 2 >= in_cap(m);
}

/* The end of a handshake budget that starts at `from`. */
static int64_t budget_end(const rdv_mesh *m, int64_t from)
{
    if (m->handshake_ns >= 0 && from + m->handshake_ns < m->deadline)
        return from + m->handshake_ns;
    return m->deadline;
}

static rdv_mesh_inbound *in_new(rdv_mesh *m, size_t *idx)
{
    size_t i;

    for (i = 0; i < m->nin; i++)
        if (m->in[i]->fd < 0)
            break;
    if (i == m->nin && m->nin >= in_cap(m)) {
        /* a flood: make room by closing the oldest unproven connection
         * (a peer proves itself within microseconds of its accept) */
        rdv_mesh_inbound *old = in_oldest_stranger(m);

        if (!old)
            return NULL;
        in_reject(m, old, STRANGER_EVICTED,
                  "no valid handshake yet, and its slot was needed");
        for (i = 0; m->in[i] != old; i++)
            ;
    } else if (i == m->nin) {
        rdv_mesh_inbound **v = realloc(m->in, (m->nin + 1) * sizeof *v);

        if (!v)
            return NULL;
        m->in = v;
        if (!(m->in[i] = calloc(1, sizeof *m->in[i])))
            return NULL;
        m->nin++;
    }
    uint32_t gen = m->in[i]->gen + 1;
    memset(m->in[i], 0, sizeof *m->in[i]);
    m->in[i]->fd = -1;
    m->in[i]->gen = gen;
    *idx = i;
    return m->in[i];
}

static int in_ack(rdv_mesh *m, rdv_mesh_inbound *in, size_t i)
{
    int ret;

    in->parked = 0;
    in->acking = 1;
    in->moved = 0;
    hello_to(m, in->tx, RDV_HELLO_ACCEPT, m->peers[in->peer].rec.nonce);
    ret = rdv_transport_op_send(m->t, in->fd, in->tx, RDV_HELLO_SIZE,
                                in_tag(T_IN_TX, i, in));
    return ret != RDV_OK ? op_failed(m, ret, "handshake") : RDV_OK;
}

/* A whole hello arrived on inbound slot i: is it one of ours? */
static int in_hello(rdv_mesh *m, rdv_mesh_inbound *in, size_t i)
{
    rdv_hello h;
    char why[160];

    if (rdv_hello_decode(in->rx, RDV_HELLO_SIZE, &h, why, sizeof why) !=
        RDV_OK) {
        in_reject(m, in, STRANGER_BAD, why);
        return RDV_OK;
    }
    if (h.kind != RDV_HELLO_CONNECT || h.token != m->token ||
        h.size != (uint32_t)m->size || h.rank <= (uint32_t)m->rank ||
        h.nonce != m->me.nonce) {
        snprintf(why, sizeof why,
                 "hello from rank %u of %u with token %016llx and %s nonce",
                 (unsigned)h.rank, (unsigned)h.size,
                 (unsigned long long)h.token,
                 h.nonce == m->me.nonce ? "our" : "a stale");
        in_reject(m, in, STRANGER_BAD, why);
        return RDV_OK;
    }
    in->peer = (int)h.rank;
    if (!m->peers[in->peer].have_record) {
        in->parked = 1; /* the answer needs its nonce: wait for it */
        return RDV_OK;
    }
    return in_ack(m, in, i);
}

static int in_event(rdv_mesh *m, int kind, size_t i, uint32_t gen, int res)
{
    rdv_mesh_inbound *in = i < m->nin ? m->in[i] : NULL;
    char why[96];
    int ret;

    if (!in || in->fd < 0 || (in->gen & 0xffffffu) != gen)
        return RDV_OK; /* for a connection closed since */
    if (res == -ETIME && in->budget_end < m->deadline) {
        /* the budget's timer may fire while this rank was busy with the
         * store and the hello already waits in the socket: take it */
        ssize_t got = recv(in->fd, in->rx + in->moved,
                           RDV_HELLO_SIZE - in->moved, MSG_DONTWAIT);

        if (got > 0 && in->moved + (size_t)got == RDV_HELLO_SIZE) {
            in->moved = RDV_HELLO_SIZE;
            return kind == T_IN_RX ? in_hello(m, in, i) : RDV_OK;
        }
        if (got > 0)
            in->moved += (size_t)got;
        if (!in_crowded(m)) { /* its slot is not needed: another budget */
            in->budget_end = budget_end(m, rdv_now_ns());
            ret = rdv_transport_op_recv(m->t, in->fd, in->rx + in->moved,
                                        RDV_HELLO_SIZE - in->moved,
                                        in_tag(T_IN_RX, i, in),
                                        in->budget_end);
            return ret != RDV_OK ? op_failed(m, ret, "handshake") : RDV_OK;
        }
        snprintf(why, sizeof why, "no valid handshake within %lld ms",
                 (long long)(m->handshake_ns / 1000000));
        in_reject(m, in, STRANGER_SILENT, why);
        return RDV_OK;
    }
    if (res <= 0) {
        in_reject(m, in, res == -ETIME ? STRANGER_SILENT : STRANGER_BAD,
                  res == 0 ? "closed before the handshake ended"
                  : res == -ETIME ? "silent until the deadline"
                                  : strerror(-res));
        return RDV_OK;
    }
    ret = more_bytes(m, in->fd, kind == T_IN_TX ? in->tx : in->rx, &in->moved,
                     res, kind == T_IN_TX, in_tag(kind, i, in),
                     in->budget_end);
    if (ret <= 0)
        return ret < 0 ? op_failed(m, ret, "handshake") : RDV_OK;
    if (kind == T_IN_RX)
        return in_hello(m, in, i);
    /* our answer is out: this is the link to in->peer now */
    rdv_mesh_peer *p = &m->peers[in->peer];
    if (p->state == LINK_UP) {
        drop_fd(m, &p->fd);
        m->up--;
    }
    p->fd = in->fd;
    p->state = LINK_UP;
    m->up++;
    in->fd = -1;
    return RDV_OK;
}

static int accept_event(rdv_mesh *m, int res, int more)
{
    rdv_mesh_inbound *in;
    size_t i;
    int ret;

    if (res >= 0) {
        /* in the backend's mode and TCP_NODELAY from the listener */
        in = in_new(m, &i);
        if (!in) {
            m->counters->strangers_rejected++;
            m->strangers.count[STRANGER_EVICTED]++;
            close(res);
        } else {
            in->fd = res;
            in->accepted = rdv_now_ns();
            in->budget_end = budget_end(m, in->accepted);
            ret = rdv_transport_op_recv(m->t, res, in->rx, RDV_HELLO_SIZE,
                                        in_tag(T_IN_RX, i, in),
                                        in->budget_end);
            if (ret != RDV_OK)
                return op_failed(m, ret, "handshake");
        }
    } else if (res != -ECONNABORTED && res != -EINTR && res != -EAGAIN) {
        return rdv_mesh_fail(m, RDV_EIO, "rank %d: accept on %s: %s",
                             m->rank, m->bind.what, strerror(-res));
    }
    return more ? RDV_OK : rdv_mesh_listen(m);
}

int rdv_mesh_listen(rdv_mesh *m)
{
    int ret = rdv_transport_op_accept(m->t, m->listen_fd, tag_of(T_ACCEPT, 0));

    return ret != RDV_OK ? op_failed(m, ret, "listening") : RDV_OK;
}

static int dispatch(rdv_mesh *m, const rdv_event *ev)
{
    int kind = (int)(ev->tag >> 56);
    size_t idx = (size_t)(ev->tag & 0xffffffffu);
    uint32_t gen = (uint32_t)(ev->tag >> 32) & 0xffffffu;

    switch (kind) {
    case T_ACCEPT:
        return accept_event(m, ev->res, ev->more);
    case T_CONN:
    case T_OUT_TX:
    case T_OUT_RX:
        if (idx < (size_t)m->size && m->peers[idx].fd >= 0)
            return out_event(m, kind, (int)idx, ev->res);
        return RDV_OK;
    case T_IN_RX:
    case T_IN_TX:
        return in_event(m, kind, idx, gen, ev->res);
    default:
        return RDV_OK;
    }
}

/* One poll until `until` and its events; *got = how many there were. */
static int pump_once(rdv_mesh *m, int64_t until, int *got)
{
    rdv_event evs[64];
    int64_t now = rdv_now_ns();
    int n, i = 0, ret = RDV_OK;

    *got = 0;
    for (int k = 0; k < m->rank && ret == RDV_OK; k++) {
        rdv_mesh_peer *p = &m->peers[k];

        if (p->state == LINK_WAIT && p->retry_at <= now && now < m->deadline)
            ret = out_start(m, k);
        if (p->state == LINK_WAIT && p->retry_at < until)
            until = p->retry_at;
    }
    if (ret != RDV_OK)
        return ret;
    n = rdv_transport_poll(m->t, evs, 64, until);
    if (n < 0)
        return rdv_mesh_fail(m, n, "rank %d: %s", m->rank,
                             rdv_transport_errmsg(m->t));
    *got = n;
    while (i < n && ret == RDV_OK)
        ret = dispatch(m, &evs[i++]);
    /* Events after a failure are not dispatched, but a connection the
     * kernel already accepted is ours to close: dropping it would leak
     * its fd past the failed rendezvous. */
    for (; i < n; i++)
        if ((int)(evs[i].tag >> 56) == T_ACCEPT && evs[i].res >= 0)
            close(evs[i].res);
    return ret;
}

int rdv_mesh_pump(rdv_mesh *m, int64_t until)
{
    int got;

    return pump_once(m, until, &got);
}

int rdv_mesh_drain(rdv_mesh *m)
{
    int got = 64, ret = RDV_OK;

    /* 16 full polls at most: a flood that never stops cannot keep the
     * store side from reading */
    for (int round = 0; round < 16 && got == 64 && ret == RDV_OK; round++)
        ret = pump_once(m, rdv_now_ns(), &got);
    return ret;
}

int rdv_mesh_strangers_active(const rdv_mesh *m)
{
    if (m->counters->strangers_rejected > 0)
        return 1;
    for (size_t i = 0; i < m->nin; i++)
        if (m->in[i]->fd >= 0 && !m->in[i]->parked && !m->in[i]->acking)
            return 1;
    return 0;
}

void rdv_mesh_strangers_note(const rdv_mesh *m, char *buf, size_t cap)
{
    const rdv_mesh_strangers *st = &m->strangers;
    unsigned long long total = 0;
    size_t off;

    for (int k = 0; k < STRANGER_KINDS; k++)
        total += st->count[k];
    buf[0] = 0;
    if (!total || !cap)
        return;
    off = (size_t)snprintf(buf, cap,
                           "; %llu incoming connections were not peers and "
                           "were closed (%llu silent past the %lld ms "
                           "handshake budget, %llu sent no valid handshake, "
                           "%llu closed to free a slot)",
                           total, st->count[STRANGER_SILENT],
                           (long long)(m->handshake_ns / 1000000),
                           st->count[STRANGER_BAD],
                           st->count[STRANGER_EVICTED]);
    for (int i = 0; i < st->nfrom && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%s",
                                i ? ", " : " from ", st->from[i]);
}

/* 1 while a connect of ours is in flight or its hello not all sent. */
static int hellos_unsent(const rdv_mesh *m)
{
    for (int k = 0; k < m->rank; k++)
        if (m->peers[k].state == LINK_CONNECT ||
            m->peers[k].state == LINK_HELLO)
            return 1;
    return 0;
}

int rdv_mesh_on_records(rdv_mesh *m)
{
    int64_t until;
    int ret = RDV_OK;

    for (int k = 0; k < m->rank && ret == RDV_OK; k++)
        if (m->peers[k].have_record && m->peers[k].state == LINK_NONE)
            ret = out_start(m, k);
    for (size_t i = 0; i < m->nin && ret == RDV_OK; i++) {
        rdv_mesh_inbound *in = m->in[i];

        if (in->fd >= 0 && in->parked && m->peers[in->peer].have_record)
            ret = in_ack(m, in, i);
    }
    if (ret == RDV_OK)
        ret = rdv_mesh_pump(m, rdv_now_ns());
    /* The acceptor gives our hello a budget from its accept, which is
     * when our connect completes: send the hellos before going back to
     * a store read that may block for a slice. A connect that takes
     * longer than a few ms (a far or busy peer) is left to the loop. */
    until = rdv_now_ns() + 20 * 1000000ll;
    while (ret == RDV_OK && hellos_unsent(m) && rdv_now_ns() < until)
        ret = rdv_mesh_pump(m, until);
    return ret;
}

void rdv_mesh_close_pending(rdv_mesh *m)
{
    for (size_t i = 0; i < m->nin; i++) {
        drop_fd(m, &m->in[i]->fd);
        free(m->in[i]);
    }
    free(m->in);
    m->in = NULL;
    m->nin = 0;
    for (int k = 0; m->peers && k < m->size; k++)
        if (m->peers[k].state != LINK_UP)
            drop_fd(m, &m->peers[k].fd);
}
