/*
 * server/serve.c - the store contract, server side: one decoded request
 * in (already validated by the codec), exactly one reply out, or a
 * waiter parked until its keys exist or its deadline passes.
 *
 * Choices:
 *  - A get, wait or multi_get whose keys are all present is answered at
 *    once without parking anything; with timeout 0 a missing key is an
 *    immediate RDV_ETIMEDOUT. Only a request that must wait is parked,
 *    with the deadline it carried (timeout_ns from now, as the server
 *    sees it: the client's own deadline plus the trip here).
 *  - Every change that can complete a waiter (set, add, compare_set,
 *    multi_set) goes through one helper, put(), which stores the value
 *    and answers the waiters of that key; delete marks the key missing
 *    for its waiters again.
 *  - The token is compared in constant time (no early exit on the
 *    first differing byte) and never written anywhere; a refused client
 *    gets its RDV_EAUTH reply and is closed once that is sent.
 *  - Replies that would exceed RDV_TCP_BODY_MAX (a huge multi_get or
 *    list) are answered RDV_TCP_TOO_BIG instead of being built.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* ---- replies ---- */

static size_t reply_begin(srv_client *c, const rdv_tcp_msg *m, int status)
{
    size_t start = rdv_tcp_begin(&c->out, m->op | RDV_TCP_REPLY, m->id);

    rdv_tcp_put_u32(&c->out, (uint32_t)status);
    return start;
}

static void reply_end(srv *s, srv_client *c, size_t start)
{
    rdv_tcp_end(&c->out, start);
    if (c->out.failed)
        srv_client_kill(s, c, "out of memory queueing a reply");
    else
        srv_client_dirty(s, c);
}

/* A reply with just a status, or a failure with its text. */
static void reply_status(srv *s, srv_client *c, const rdv_tcp_msg *m,
                         int status, const char *text)
{
    size_t start = reply_begin(c, m, status);

    if (status != RDV_OK)
        rdv_tcp_put_bytes(&c->out, text, strlen(text));
    reply_end(s, c, start);
}

static void reply_number(srv *s, srv_client *c, const rdv_tcp_msg *m,
                         int64_t v)
{
    size_t start = reply_begin(c, m, RDV_OK);

    rdv_tcp_put_u64(&c->out, (uint64_t)v);
    reply_end(s, c, start);
}

/* ---- writes ---- */

/* Stores val under e and answers the waiters it completes. */
static int put(srv *s, srv_entry *e, const void *val, size_t len)
{
    int was = e->present;

    if (srv_entry_store(&s->table, e, val, len) != RDV_OK)
        return RDV_ENOMEM;
    atomic_store(&s->st_keys, s->table.npresent);
    if (!was)
        srv_waiters_present(s, e);
    return RDV_OK;
}

static void clear(srv *s, srv_entry *e)
{
    srv_entry_clear(&s->table, e);
    srv_waiters_absent(e);
    srv_table_release(&s->table, e);
    atomic_store(&s->st_keys, s->table.npresent);
}

static void serve_set(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    srv_entry *e = srv_table_intern(&s->table, m->key.p, m->key.len);
    int rc;

    if (!e) {
        reply_status(s, c, m, RDV_ENOMEM, "server out of memory");
        return;
    }
    if ((m->set_flags & RDV_SET_CREATE_ONLY) && e->present) {
        reply_status(s, c, m, RDV_EEXIST, "key exists (create-only)");
        return;
    }
    rc = put(s, e, m->value.p, m->value.len);
    srv_table_release(&s->table, e);
    reply_status(s, c, m, rc, "server out of memory");
}

static void serve_multi_set(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    rdv_tcp_span items = m->items, k, v;

    while (rdv_tcp_next(&items, &k) && rdv_tcp_next(&items, &v)) {
        srv_entry *e = srv_table_intern(&s->table, k.p, k.len);
        int rc = e ? put(s, e, v.p, v.len) : RDV_ENOMEM;

        if (e)
            srv_table_release(&s->table, e);
        if (rc) {
            reply_status(s, c, m, rc, "server out of memory");
            return;
        }
    }
    reply_status(s, c, m, RDV_OK, "");
}

static void serve_add(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    srv_entry *e = srv_table_intern(&s->table, m->key.p, m->key.len);
    int64_t v = 0;
    char buf[32];
    int rc = RDV_OK;

    if (!e) {
        reply_status(s, c, m, RDV_ENOMEM, "server out of memory");
        return;
    }
    if (e->present && rdv_counter_parse(e->val, e->vlen, &v))
        rc = RDV_EPROTO;
    else if (rdv_counter_add(v, m->delta, &v))
        rc = RDV_EINVAL;
    else
        rc = put(s, e, buf, rdv_counter_format(v, buf));
    srv_table_release(&s->table, e);
    if (rc == RDV_OK) {
        reply_number(s, c, m, v);
        return;
    }
    reply_status(s, c, m, rc,
                 rc == RDV_EPROTO   ? "the value is not a decimal int64"
                 : rc == RDV_EINVAL ? "int64 overflow"
                                    : "server out of memory");
}

static void serve_compare_set(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    srv_entry *e = srv_table_intern(&s->table, m->key.p, m->key.len);
    int won, rc = RDV_OK;
    size_t start;

    if (!e) {
        reply_status(s, c, m, RDV_ENOMEM, "server out of memory");
        return;
    }
    won = m->has_expected
              ? e->present && e->vlen == m->expected.len &&
                    (e->vlen == 0 ||
                     memcmp(e->val, m->expected.p, e->vlen) == 0)
              : !e->present;
    if (won)
        rc = put(s, e, m->value.p, m->value.len);
    if (rc) {
        srv_table_release(&s->table, e);
        reply_status(s, c, m, rc, "server out of memory");
        return;
    }
    start = reply_begin(c, m, RDV_OK);
    rdv_tcp_put_u8(&c->out, (uint8_t)won);
    rdv_tcp_put_u8(&c->out, e->present);
    rdv_tcp_put_bytes(&c->out, e->val, e->vlen);
    srv_table_release(&s->table, e);
    reply_end(s, c, start);
}

static void serve_delete(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    srv_entry *e = srv_table_find(&s->table, m->key.p, m->key.len);

    if (e && e->present)
        clear(s, e);
    reply_status(s, c, m, RDV_OK, "");
}

typedef struct scan {
    srv *s;
    srv_client *c;
    uint64_t count;
    size_t bytes;
} scan;

static void delete_one(srv_entry *e, void *arg)
{
    scan *sc = arg;

    clear(sc->s, e);
    sc->count++;
}

static void serve_delete_prefix(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    scan sc = {s, c, 0, 0};

    srv_table_each(&s->table, m->key.p, m->key.len, delete_one, &sc);
    reply_number(s, c, m, (int64_t)sc.count);
}

static void count_one(srv_entry *e, void *arg)
{
    scan *sc = arg;

    sc->count++;
    sc->bytes += 4 + e->klen;
}

static void list_one(srv_entry *e, void *arg)
{
    scan *sc = arg;

    rdv_tcp_put_bytes(&sc->c->out, e->key, e->klen);
}

static void serve_list(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    scan sc = {s, c, 0, 0};
    size_t start;

    srv_table_each(&s->table, m->key.p, m->key.len, count_one, &sc);
    if (sc.bytes + 8 > RDV_TCP_BODY_MAX) {
        reply_status(s, c, m, RDV_TCP_TOO_BIG,
                     "the list is larger than one reply");
        return;
    }
    start = reply_begin(c, m, RDV_OK);
    rdv_tcp_put_u32(&c->out, (uint32_t)sc.count);
    rdv_tcp_reserve(&c->out, sc.bytes);
    srv_table_each(&s->table, m->key.p, m->key.len, list_one, &sc);
    reply_end(s, c, start);
}

static void serve_stats(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    rdv_store_server_stats st;
    size_t start;

    rdv_store_server_stats_get(s, &st);
    start = reply_begin(c, m, RDV_OK);
    rdv_tcp_put_u32(&c->out, 6);
    rdv_tcp_put_u64(&c->out, st.clients);
    rdv_tcp_put_u64(&c->out, st.waiting);
    rdv_tcp_put_u64(&c->out, st.keys);
    rdv_tcp_put_u64(&c->out, st.accepted);
    rdv_tcp_put_u64(&c->out, st.dropped);
    rdv_tcp_put_u64(&c->out, st.refused);
    reply_end(s, c, start);
}

/* ---- get, wait, multi_get ---- */

/* The answer to a get/wait/multi_get of n keys whose entries are ev[]
 * (NULL: absent): the values when present says all are there, else
 * RDV_ETIMEDOUT and which ones exist. */
static void answer(srv *s, srv_client *c, uint8_t op, uint64_t id,
                   srv_entry *const *ev, uint32_t n, int all_present)
{
    rdv_tcp_msg m = {.op = op, .id = id};
    size_t start, bytes = 8;

    if (!all_present) {
        start = reply_begin(c, &m, RDV_ETIMEDOUT);
        rdv_tcp_put_u32(&c->out, op == RDV_TCP_GET ? 0 : n);
        for (uint32_t i = 0; op != RDV_TCP_GET && i < n; i++)
            rdv_tcp_put_u8(&c->out, ev[i] && ev[i]->present);
        reply_end(s, c, start);
        return;
    }
    for (uint32_t i = 0; op == RDV_TCP_MGET && i < n; i++)
        bytes += 4 + (size_t)ev[i]->vlen;
    if (bytes > RDV_TCP_BODY_MAX) {
        reply_status(s, c, &m, RDV_TCP_TOO_BIG,
                     "the values are larger than one reply");
        return;
    }
    start = reply_begin(c, &m, RDV_OK);
    if (op == RDV_TCP_GET)
        rdv_tcp_put_bytes(&c->out, ev[0]->val, ev[0]->vlen);
    if (op == RDV_TCP_MGET) {
        rdv_tcp_put_u32(&c->out, n);
        rdv_tcp_reserve(&c->out, bytes);
        for (uint32_t i = 0; i < n; i++)
            rdv_tcp_put_bytes(&c->out, ev[i]->val, ev[i]->vlen);
    }
    reply_end(s, c, start);
}

void srv_serve_waiter(srv *s, srv_waiter *w, int expired)
{
    srv_entry *small[64] = {NULL}, **ev = small;

    if (w->c->dead)
        return;
    if (w->n > 64 && !(ev = malloc(w->n * sizeof *ev))) {
        rdv_tcp_msg m = {.op = w->op, .id = w->id};

        reply_status(s, w->c, &m, RDV_ENOMEM, "server out of memory");
        return;
    }
    for (uint32_t i = 0; i < w->n; i++)
        ev[i] = w->links[i].e;
    answer(s, w->c, w->op, w->id, ev, w->n, !expired);
    if (ev != small)
        free(ev);
}

/* The server's deadline for a request's timeout: negative, or too far
 * to add to the clock, is none. */
static int64_t park_deadline(int64_t timeout_ns)
{
    int64_t now = rdv_now_ns();

    if (timeout_ns < 0 || timeout_ns >= RDV_DEADLINE_NONE - now)
        return RDV_DEADLINE_NONE;
    return now + timeout_ns;
}

static void serve_blocking(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    uint32_t n = m->op == RDV_TCP_GET ? 1 : m->count;
    srv_entry *small[64], **ev = n <= 64 ? small : malloc(n * sizeof *ev);
    rdv_tcp_span items = m->items, k = m->key;
    int all = 1;
    char why[96];

    if (!ev) {
        reply_status(s, c, m, RDV_ENOMEM, "server out of memory");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (m->op != RDV_TCP_GET)
            rdv_tcp_next(&items, &k);
        ev[i] = srv_table_find(&s->table, k.p, k.len);
        all &= ev[i] && ev[i]->present;
    }
    if (all || m->timeout_ns == 0) {
        answer(s, c, m->op, m->id, ev, n, all);
    } else if (c->nwaiting >= s->max_waiting) {
        snprintf(why, sizeof why, "this connection already has %u requests "
                 "waiting (the server's max_waiting)", c->nwaiting);
        reply_status(s, c, m, RDV_ENOMEM, why);
    } else if (!srv_waiter_park(s, c, m, park_deadline(m->timeout_ns))) {
        reply_status(s, c, m, RDV_ENOMEM, "server out of memory");
    }
    if (ev != small)
        free(ev);
}

/* ---- hello ---- */

/* Whether got equals the server's token, in time that depends on the
 * length of got only. */
static int token_ok(const srv *s, rdv_tcp_span got)
{
    unsigned diff = s->token_len != got.len;

    if (!s->token_len)
        return 1; /* no token configured: anyone may talk */
    for (uint32_t i = 0; i < got.len; i++)
        diff |= (unsigned)(got.p[i] ^
                           (unsigned char)s->token[i % s->token_len]);
    return diff == 0;
}

static void serve_hello(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    char why[128];
    size_t start;

    if (m->version != RDV_TCP_VERSION) {
        snprintf(why, sizeof why, "protocol version %u is not supported "
                 "(this server speaks %d)", m->version, RDV_TCP_VERSION);
        srv_log(s, "client %s refused: %s", c->addr, why);
        atomic_fetch_add(&s->st_refused, 1);
        c->closing = 1;
        reply_status(s, c, m, RDV_ENOTSUP, why);
        return;
    }
    if (!token_ok(s, m->key)) {
        srv_log(s, "client %s refused: %s", c->addr,
                m->key.len ? "wrong token" : "no token");
        atomic_fetch_add(&s->st_refused, 1);
        c->closing = 1;
        reply_status(s, c, m, RDV_EAUTH,
                     m->key.len ? "the server refused the token"
                                : "the server requires a token (?token=)");
        return;
    }
    c->hello_done = 1;
    start = reply_begin(c, m, RDV_OK);
    rdv_tcp_put_u16(&c->out, RDV_TCP_VERSION);
    rdv_tcp_put_u16(&c->out, 0);
    rdv_tcp_put_u32(&c->out, s->max_frame);
    reply_end(s, c, start);
}

void srv_serve(srv *s, srv_client *c, const rdv_tcp_msg *m)
{
    if (m->reply)
        srv_client_kill(s, c, "sent a reply frame");
    else if (m->op == RDV_TCP_HELLO && c->hello_done)
        srv_client_kill(s, c, "sent a second hello");
    else if (m->op == RDV_TCP_HELLO)
        serve_hello(s, c, m);
    else if (!c->hello_done)
        srv_client_kill(s, c, "sent a request before its hello");
    else if (m->op == RDV_TCP_SET)
        serve_set(s, c, m);
    else if (m->op == RDV_TCP_GET || m->op == RDV_TCP_WAIT ||
             m->op == RDV_TCP_MGET)
        serve_blocking(s, c, m);
    else if (m->op == RDV_TCP_ADD)
        serve_add(s, c, m);
    else if (m->op == RDV_TCP_CAS)
        serve_compare_set(s, c, m);
    else if (m->op == RDV_TCP_DEL)
        serve_delete(s, c, m);
    else if (m->op == RDV_TCP_DELPFX)
        serve_delete_prefix(s, c, m);
    else if (m->op == RDV_TCP_MSET)
        serve_multi_set(s, c, m);
    else if (m->op == RDV_TCP_LIST)
        serve_list(s, c, m);
    else if (m->op == RDV_TCP_NKEYS)
        reply_number(s, c, m, (int64_t)s->table.npresent);
    else
        serve_stats(s, c, m);
}
