/*
 * rendezvous/links.c - the socket side of the rendezvous: one link per
 * peer, made by the higher rank.
 *
 * Connector (to every lower rank, all in flight at once): connect with
 * a linked timeout at the deadline, send CONNECT{rank, token, the nonce
 * read in the target's record}, read ACCEPT{target rank, token, our
 * nonce}. A refused or dropped attempt is retried on a fresh socket
 * after an exponential backoff (1 ms doubling to 256 ms) with jitter
 * from a per-rank generator seeded by the nonce. An answer that parses
 * but does not prove the target (wrong rank, token or nonce) means the
 * published address belongs to someone else: that fails at once.
 *
 * Acceptor (from every higher rank): a multishot accept on the
 * listener; each new connection must send a valid CONNECT within the
 * deadline. Garbage, a wrong token or size, a rank that should not
 * connect here, or a nonce that is not ours (a stale peer) is closed
 * and counted in strangers_rejected; it only ever costs its own slot.
 * A valid hello from a rank whose record we have not read yet is parked
 * until the record arrives, because the answer must carry its nonce. A
 * newer valid hello from the same rank replaces the older link: the
 * connector only retries once its previous attempt failed.
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

enum { T_ACCEPT = 1, T_CONN, T_OUT_TX, T_OUT_RX, T_IN_RX, T_IN_TX };

static uint64_t tag_of(int kind, size_t idx)
{
    return ((uint64_t)kind << 56) | (uint64_t)idx;
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
                      int res, int is_send, uint64_t tag)
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
                                    RDV_HELLO_SIZE - *moved, tag, m->deadline);
    return ret != RDV_OK ? ret : 0;
}

static int out_event(rdv_mesh *m, int kind, int k, int res)
{
    rdv_mesh_peer *p = &m->peers[k];
    rdv_hello h;
    char why[160];
    int one = 1, ret;

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
        setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
                     res, kind == T_OUT_TX, tag_of(kind, (size_t)k));
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

static rdv_mesh_inbound *in_new(rdv_mesh *m, size_t *idx)
{
    size_t i;

    for (i = 0; i < m->nin; i++)
        if (m->in[i]->fd < 0)
            break;
    if (i == m->nin) {
        rdv_mesh_inbound **v;

        if (m->nin >= (size_t)m->size * 4 + 64)
            return NULL; /* a flood of strangers: refuse, do not grow */
        v = realloc(m->in, (m->nin + 1) * sizeof *v);
        if (!v)
            return NULL;
        m->in = v;
        if (!(m->in[i] = malloc(sizeof *m->in[i])))
            return NULL;
        m->nin++;
    }
    memset(m->in[i], 0, sizeof *m->in[i]);
    m->in[i]->fd = -1;
    *idx = i;
    return m->in[i];
}

static void in_reject(rdv_mesh *m, rdv_mesh_inbound *in, const char *why)
{
    m->counters->strangers_rejected++;
    rdv_context_log(m->ctx, "rank %d: closed an incoming connection: %s",
                    m->rank, why);
    drop_fd(m, &in->fd);
}

static int in_ack(rdv_mesh *m, rdv_mesh_inbound *in, size_t i)
{
    int ret;

    in->parked = 0;
    in->acking = 1;
    in->moved = 0;
    hello_to(m, in->tx, RDV_HELLO_ACCEPT, m->peers[in->peer].rec.nonce);
    ret = rdv_transport_op_send(m->t, in->fd, in->tx, RDV_HELLO_SIZE,
                                tag_of(T_IN_TX, i));
    return ret != RDV_OK ? op_failed(m, ret, "handshake") : RDV_OK;
}

/* A whole hello arrived on inbound slot i: is it one of ours? */
static int in_hello(rdv_mesh *m, rdv_mesh_inbound *in, size_t i)
{
    rdv_hello h;
    char why[160];

    if (rdv_hello_decode(in->rx, RDV_HELLO_SIZE, &h, why, sizeof why) !=
        RDV_OK) {
        in_reject(m, in, why);
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
        in_reject(m, in, why);
        return RDV_OK;
    }
    in->peer = (int)h.rank;
    if (!m->peers[in->peer].have_record) {
        in->parked = 1; /* the answer needs its nonce: wait for it */
        return RDV_OK;
    }
    return in_ack(m, in, i);
}

static int in_event(rdv_mesh *m, int kind, size_t i, int res)
{
    rdv_mesh_inbound *in = i < m->nin ? m->in[i] : NULL;
    int ret;

    if (!in || in->fd < 0)
        return RDV_OK;
    if (res <= 0) {
        in_reject(m, in, res == 0 ? "closed before the handshake ended"
                         : res == -ETIME ? "silent until the deadline"
                                         : strerror(-res));
        return RDV_OK;
    }
    ret = more_bytes(m, in->fd, kind == T_IN_TX ? in->tx : in->rx, &in->moved,
                     res, kind == T_IN_TX, tag_of(kind, i));
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
        in = rdv_transport_prepare_fd(m->t, res) == RDV_OK ? in_new(m, &i)
                                                            : NULL;
        if (!in) {
            m->counters->strangers_rejected++;
            close(res);
        } else {
            in->fd = res;
            ret = rdv_transport_op_recv(m->t, res, in->rx, RDV_HELLO_SIZE,
                                        tag_of(T_IN_RX, i), m->deadline);
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
        return in_event(m, kind, idx, ev->res);
    default:
        return RDV_OK;
    }
}

int rdv_mesh_pump(rdv_mesh *m, int64_t until)
{
    rdv_event evs[64];
    int64_t now = rdv_now_ns();
    int n, i = 0, ret = RDV_OK;

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

int rdv_mesh_on_records(rdv_mesh *m)
{
    int ret = RDV_OK;

    for (int k = 0; k < m->rank && ret == RDV_OK; k++)
        if (m->peers[k].have_record && m->peers[k].state == LINK_NONE)
            ret = out_start(m, k);
    for (size_t i = 0; i < m->nin && ret == RDV_OK; i++) {
        rdv_mesh_inbound *in = m->in[i];

        if (in->fd >= 0 && in->parked && m->peers[in->peer].have_record)
            ret = in_ack(m, in, i);
    }
    return ret == RDV_OK ? rdv_mesh_pump(m, rdv_now_ns()) : ret;
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
