/*
 * stores/tcp.c - the tcp:// store: a client of librdv's own store server
 * (ref/src/server/, rdv/store_server.h).
 *
 *   tcp://host[:port][?token=T&timeout_ms=N&serve=1&spin_us=N]
 *
 * The port defaults to 29500 (c10d's). token is the server's shared
 * secret (masked in every message). timeout_ms (default 5000) bounds
 * every connect and every op that has no timeout of its own. serve=1
 * makes this handle try to run the server itself on host:port: the
 * first opener binds it and serves for as long as its handle stays
 * open (c10d's is_master); the others find the address taken and are
 * plain clients. When the serving handle closes, its server and its
 * keys are gone: the other clients' calls reconnect until their
 * deadlines, and the next handle opened with serve=1 serves again.
 * spin_us (default 30, 0 to 1000) is how long a call awaits its reply
 * awake before it sleeps.
 *
 * Choices:
 *  - Every op is one request and one reply (tcp_codec.h), made by a
 *    straight list of puts; the connection layer (tcp_conn.c) owns the
 *    sockets, ids, deadlines, retries and cancellation, so the ops only
 *    say whether a request may be resent: add, compare_set and a
 *    create-only set may not, and fail "outcome unknown" when their
 *    connection breaks after they left.
 *  - get, wait and multi_get carry the deadline to the server, which
 *    parks them and answers when the keys exist or with RDV_ETIMEDOUT at
 *    the deadline (naming which keys exist): nothing polls.
 *  - A multi_get or list whose answer would not fit in one frame
 *    (RDV_TCP_TOO_BIG) falls back to one get per key, or fails with
 *    RDV_ENOMEM for a list; multi_set is cut into frames that fit.
 *  - Fork: a handle used in a forked child reconnects there, as redis://
 *    does (tcp_conn.h); a server this handle runs stays in the parent.
 *    (rdv's harness does not rely on this: it serves a serve=1 URL from
 *    a process of its own, harness/run/own_server.c.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/store_server.h"
#include "store_internal.h"
#include "tcp_conn.h"

#define TCP_DEFAULT_TIMEOUT_MS 5000

typedef struct tcp_store {
    rdv_store base;
    rdv_tcp_conf conf;
    rdv_tcp_pool pool;
    rdv_store_server *server; /* serve=1 and this handle bound first */
} tcp_store;

#define TS(s) ((tcp_store *)(s))

/* ---- requests ---- */

static size_t begin(rdv_tcp_buf *b, int op)
{
    return rdv_tcp_begin(b, (uint8_t)op, 0);
}

static void put_key(rdv_tcp_buf *b, const char *key)
{
    rdv_tcp_put_bytes(b, key, strlen(key));
}

/* Sends the frame in b (freed here). RDV_OK: rep holds the reply. A
 * timeout the server answered (RDV_ETIMEDOUT) also leaves the reply in
 * rep, for the caller to report; any other failure is recorded naming
 * op and key (NULL: none) and leaves nothing to release. */
static int request(rdv_store *s, const char *op, const char *key,
                   rdv_tcp_buf *b, int flags, int64_t deadline,
                   rdv_tcp_reply *rep)
{
    char err[RDV_DETAIL_MAX / 2], k[128];
    int rc = rdv_tcp_call(&TS(s)->pool, b, flags, deadline, rep, err,
                          sizeof err);

    rdv_tcp_buf_free(b);
    if (rc == RDV_OK || (rc == RDV_ETIMEDOUT && rep->link))
        return rc;
    if (rep->link) {
        snprintf(err, sizeof err, "%.*s", (int)rep->m.value.len,
                 (const char *)rep->m.value.p);
        rdv_tcp_done(&TS(s)->pool, rep);
    }
    if (key)
        return rdv_store_fail(s, rc, "%s '%s': %s", op,
                              rdv_key_printable(key, k, sizeof k), err);
    return rdv_store_fail(s, rc, "%s: %s", op, err);
}

static void done(rdv_store *s, rdv_tcp_reply *rep)
{
    rdv_tcp_done(&TS(s)->pool, rep);
}

/* A malloc'd, NUL-terminated copy of a reply's bytes. */
static int copy_value(rdv_store *s, rdv_tcp_span v, void **val, size_t *len)
{
    char *c = malloc((size_t)v.len + 1);

    if (!c)
        return rdv_store_fail(s, RDV_ENOMEM, "out of memory copying a "
                              "value of %u bytes", v.len);
    if (v.len)
        memcpy(c, v.p, v.len);
    c[v.len] = '\0';
    *val = c;
    *len = v.len;
    return RDV_OK;
}

static int ms_since(int64_t start)
{
    return (int)((rdv_now_ns() - start) / 1000000);
}

/* ---- ops ---- */

static int tcp_set(rdv_store *s, const char *key, const void *val,
                   size_t len, int flags)
{
    rdv_tcp_buf b = {0};
    rdv_tcp_reply rep;
    size_t st = begin(&b, RDV_TCP_SET);
    int rc;

    rdv_tcp_put_u32(&b, (uint32_t)flags);
    put_key(&b, key);
    rdv_tcp_put_bytes(&b, val, len);
    rdv_tcp_end(&b, st);
    rc = request(s, "set", key, &b,
                 flags & RDV_SET_CREATE_ONLY ? 0 : RDV_TCP_IDEMPOTENT,
                 RDV_DEADLINE_NONE, &rep);
    done(s, &rep);
    return rc;
}

static int tcp_get(rdv_store *s, const char *key, void **val, size_t *len,
                   int64_t deadline)
{
    int64_t start = rdv_now_ns();
    rdv_tcp_buf b = {0};
    rdv_tcp_reply rep;
    size_t st = begin(&b, RDV_TCP_GET);
    char k[128];
    int rc;

    rdv_tcp_put_u64(&b, 0); /* the timeout, written when it is sent */
    put_key(&b, key);
    rdv_tcp_end(&b, st);
    rc = request(s, "get", key, &b, RDV_TCP_IDEMPOTENT | RDV_TCP_TIMED,
                 deadline, &rep);
    if (rc == RDV_OK)
        rc = copy_value(s, rep.m.value, val, len);
    else if (rep.link)
        rdv_store_fail(s, rc, "get '%s' timed out after %d ms",
                       rdv_key_printable(key, k, sizeof k), ms_since(start));
    done(s, &rep);
    return rc;
}

/* wait and multi_get: the same request, n keys. */
static size_t keys_request(rdv_tcp_buf *b, int op, const char *const *keys,
                           size_t n)
{
    size_t st = begin(b, op);

    rdv_tcp_put_u64(b, 0); /* the timeout, written when it is sent */
    rdv_tcp_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_key(b, keys[i]);
    rdv_tcp_end(b, st);
    return st;
}

/* A timeout the server answered for n keys: names the missing ones. */
static int keys_timed_out(rdv_store *s, const char *op,
                          const rdv_tcp_reply *rep, int64_t start,
                          const char *const *keys, size_t n)
{
    if (rep->m.present.len != n)
        return rdv_store_fail(s, RDV_EPROTO, "%s: tcp %s: the timeout "
                              "reply maps %u keys, the request had %zu",
                              op, TS(s)->conf.addr, rep->m.present.len, n);
    return rdv_store_fail_wait(s, RDV_ETIMEDOUT, start, keys, n,
                               rep->m.present.p);
}

static int tcp_wait(rdv_store *s, const char *const *keys, size_t n,
                    int64_t deadline)
{
    int64_t start = rdv_now_ns();
    rdv_tcp_buf b = {0};
    rdv_tcp_reply rep;
    int rc;

    keys_request(&b, RDV_TCP_WAIT, keys, n);
    rc = request(s, "wait", NULL, &b, RDV_TCP_IDEMPOTENT | RDV_TCP_TIMED,
                 deadline, &rep);
    if (rc == RDV_ETIMEDOUT && rep.link)
        rc = keys_timed_out(s, "wait", &rep, start, keys, n);
    done(s, &rep);
    return rc;
}

static void free_values(void **vals, size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(vals[i]);
        vals[i] = NULL;
        lens[i] = 0;
    }
}

static int tcp_multi_get(rdv_store *s, const char *const *keys, size_t n,
                         void **vals, size_t *lens, int64_t deadline)
{
    int64_t start = rdv_now_ns();
    rdv_tcp_buf b = {0};
    rdv_tcp_reply rep;
    rdv_tcp_span items, v;
    int rc;

    keys_request(&b, RDV_TCP_MGET, keys, n);
    rc = request(s, "multi_get", NULL, &b,
                 RDV_TCP_IDEMPOTENT | RDV_TCP_TIMED, deadline, &rep);
    if (rc == RDV_TCP_TOO_BIG)
        return rdv_fallback_multi_get(s, keys, n, vals, lens, deadline);
    if (rc == RDV_ETIMEDOUT && rep.link)
        rc = keys_timed_out(s, "multi_get", &rep, start, keys, n);
    if (rc == RDV_OK && rep.m.count != n)
        rc = rdv_store_fail(s, RDV_EPROTO, "multi_get: tcp %s: %u values "
                            "for %zu keys", TS(s)->conf.addr, rep.m.count,
                            n);
    items = rep.m.items;
    for (size_t i = 0; rc == RDV_OK && i < n; i++) {
        rdv_tcp_next(&items, &v);
        rc = copy_value(s, v, &vals[i], &lens[i]);
    }
    if (rc != RDV_OK)
        free_values(vals, lens, n);
    done(s, &rep);
    return rc;
}

static int tcp_add(rdv_store *s, const char *key, int64_t delta,
                   int64_t *result)
{
    rdv_tcp_buf b = {0};
    rdv_tcp_reply rep;
    size_t st = begin(&b, RDV_TCP_ADD);
    int rc;

    rdv_tcp_put_u64(&b, (uint64_t)delta);
    put_key(&b, key);
    rdv_tcp_end(&b, st);
    rc = request(s, "add", key, &b, 0, RDV_DEADLINE_NONE, &rep);
    if (rc == RDV_OK)
        *result = rep.m.number;
    done(s, &rep);
    return rc;
}

static int tcp_compare_set(rdv_store *s, const char *key,
                           const void *expected, size_t expected_len,
                           const void *desired, size_t desired_len,
                           int *won, void **cur, size_t *cur_len)
{
    rdv_tcp_buf b = {0};
    rdv_tcp_reply rep;
    size_t st = begin(&b, RDV_TCP_CAS);
    int rc;

    rdv_tcp_put_u8(&b, expected != NULL);
    put_key(&b, key);
    rdv_tcp_put_bytes(&b, expected, expected ? expected_len : 0);
    rdv_tcp_put_bytes(&b, desired, desired_len);
    rdv_tcp_end(&b, st);
    rc = request(s, "compare_set", key, &b, 0, RDV_DEADLINE_NONE, &rep);
    if (rc == RDV_OK) {
        *won = rep.m.won;
        if (cur && rep.m.has_value)
            rc = copy_value(s, rep.m.value, cur, cur_len);
    }
    done(s, &rep);
    return rc;
}

/* A request of one key or prefix and a number back (del, delete_prefix,
 * num_keys), idempotent. */
static int keyed_number(rdv_store *s, int op, const char *name,
                        const char *key, int64_t *out)
{
    rdv_tcp_buf b = {0};
    rdv_tcp_reply rep;
    size_t st = begin(&b, op);
    int rc;

    if (key)
        put_key(&b, key);
    rdv_tcp_end(&b, st);
    rc = request(s, name, op == RDV_TCP_DEL ? key : NULL, &b,
                 RDV_TCP_IDEMPOTENT, RDV_DEADLINE_NONE, &rep);
    if (rc == RDV_OK && out)
        *out = rep.m.number;
    done(s, &rep);
    return rc;
}

static int tcp_del(rdv_store *s, const char *key)
{
    return keyed_number(s, RDV_TCP_DEL, "delete", key, NULL);
}

static int tcp_delete_prefix(rdv_store *s, const char *prefix,
                             size_t *deleted)
{
    int64_t n = 0;
    int rc = keyed_number(s, RDV_TCP_DELPFX, "delete_prefix", prefix, &n);

    *deleted = (size_t)n;
    return rc;
}

static int tcp_num_keys(rdv_store *s, int64_t *n)
{
    return keyed_number(s, RDV_TCP_NKEYS, "num_keys", NULL, n);
}

static int tcp_multi_set(rdv_store *s, const char *const *keys,
                         const void *const *vals, const size_t *lens,
                         size_t n)
{
    size_t i = 0;
    int rc = RDV_OK;

    while (rc == RDV_OK && i < n) {
        rdv_tcp_buf b = {0};
        rdv_tcp_reply rep;
        size_t st = begin(&b, RDV_TCP_MSET), first = i, body = 4;
        uint32_t count = 0;

        /* as many pairs as fit in one frame (at least one) */
        while (i < n && (count == 0 || body + 8 + strlen(keys[i]) +
                                               lens[i] <=
                                           RDV_TCP_BODY_MAX)) {
            body += 8 + strlen(keys[i]) + lens[i];
            count++;
            i++;
        }
        rdv_tcp_put_u32(&b, count);
        for (size_t j = first; j < i; j++) {
            put_key(&b, keys[j]);
            rdv_tcp_put_bytes(&b, vals[j], lens[j]);
        }
        rdv_tcp_end(&b, st);
        rc = request(s, "multi_set", NULL, &b, RDV_TCP_IDEMPOTENT,
                     RDV_DEADLINE_NONE, &rep);
        done(s, &rep);
    }
    return rc;
}

static int tcp_list(rdv_store *s, const char *prefix, char ***keys,
                    size_t *n)
{
    rdv_tcp_buf b = {0};
    rdv_tcp_reply rep;
    rdv_keylist l = {0};
    rdv_tcp_span items, k;
    size_t st = begin(&b, RDV_TCP_LIST);
    int rc;

    put_key(&b, prefix);
    rdv_tcp_end(&b, st);
    rc = request(s, "list", NULL, &b, RDV_TCP_IDEMPOTENT, RDV_DEADLINE_NONE,
                 &rep);
    if (rc == RDV_TCP_TOO_BIG)
        return rdv_store_fail(s, RDV_ENOMEM, "list: tcp %s: the keys under "
                              "this prefix do not fit in one reply",
                              TS(s)->conf.addr);
    items = rep.m.items;
    while (rc == RDV_OK && rdv_tcp_next(&items, &k))
        if (rdv_keylist_push(&l, (const char *)k.p, k.len))
            rc = rdv_store_fail(s, RDV_ENOMEM, "list: out of memory");
    done(s, &rep);
    if (rc != RDV_OK) {
        rdv_keylist_clear(&l);
        return rc;
    }
    *keys = l.keys;
    *n = l.n;
    return RDV_OK;
}

static void tcp_cancel(rdv_store *s)
{
    rdv_tcp_pool_cancel(&TS(s)->pool);
}

static void conf_free(rdv_tcp_conf *c)
{
    free(c->host);
    if (c->token)
        memset(c->token, 0, strlen(c->token));
    free(c->token);
}

static void tcp_destroy(rdv_store *s)
{
    rdv_tcp_pool_destroy(&TS(s)->pool);
    rdv_store_server_stop(TS(s)->server);
    conf_free(&TS(s)->conf);
    free(s);
}

static const rdv_store_ops tcp_ops = {
    .name = "tcp",
    .set = tcp_set,
    .get = tcp_get,
    .wait = tcp_wait,
    .add = tcp_add,
    .compare_set = tcp_compare_set,
    .del = tcp_del,
    .list = tcp_list,
    .destroy = tcp_destroy,
    .multi_get = tcp_multi_get,
    .multi_set = tcp_multi_set,
    .num_keys = tcp_num_keys,
    .delete_prefix = tcp_delete_prefix,
    .cancel = tcp_cancel,
};

/* ---- opening ---- */

static int conf_fail(char *errbuf, size_t errlen, const rdv_url *u,
                     const char *what)
{
    snprintf(errbuf, errlen, "malformed store URL '%s': %s", u->redacted,
             what);
    return RDV_EINVAL;
}

static int conf_parse(rdv_url *u, rdv_tcp_conf *c, char *errbuf,
                      size_t errlen)
{
    const char *token;
    long serve, spin_us;
    int v6 = strchr(u->host, ':') != NULL, rc;

    memset(c, 0, sizeof *c);
    if (!u->has_authority || !u->host[0])
        return conf_fail(errbuf, errlen, u, "expected tcp://host:port");
    if (u->user || u->password)
        return conf_fail(errbuf, errlen, u, "tcp:// takes no login; the "
                         "server's shared secret is ?token=T");
    if (u->path[0] && strcmp(u->path, "/"))
        return conf_fail(errbuf, errlen, u, "tcp:// takes no path");
    if ((rc = rdv_url_option_long(u, "timeout_ms", 1, 3600000,
                                  TCP_DEFAULT_TIMEOUT_MS, &c->timeout_ms,
                                  errbuf, errlen)) ||
        (rc = rdv_url_option_long(u, "serve", 0, 1, 0, &serve, errbuf,
                                  errlen)) ||
        (rc = rdv_url_option_long(u, "spin_us", 0, RDV_NET_SPIN_US_MAX,
                                  RDV_NET_SPIN_US_DEFAULT, &spin_us, errbuf,
                                  errlen)))
        return rc;
    token = rdv_url_option(u, "token");
    if (token && strlen(token) > RDV_TCP_TOKEN_MAX)
        return conf_fail(errbuf, errlen, u, "the token is longer than 1024 "
                         "bytes");
    c->serve = (int)serve;
    c->spin_ns = spin_us * 1000;
    c->port = rdv_url_port(u);
    c->host = strdup(u->host);
    c->token = token && *token ? strdup(token) : NULL;
    if (!c->host || (token && *token && !c->token)) {
        conf_free(c);
        snprintf(errbuf, errlen, "tcp store: out of memory");
        return RDV_ENOMEM;
    }
    snprintf(c->addr, sizeof c->addr, "%s%s%s:%d", v6 ? "[" : "", c->host,
             v6 ? "]" : "", c->port);
    return RDV_OK;
}

/* serve=1: runs the server on the URL's address unless someone already
 * does (then this handle is a plain client). */
static int serve_maybe(tcp_store *t, const rdv_url *u, char *errbuf,
                       size_t errlen)
{
    rdv_store_server_options o = rdv_store_server_options_default();
    char err[512];
    int rc;

    o.bind = t->conf.addr;
    o.token = t->conf.token;
    rc = rdv_store_server_start(&o, &t->server, err, sizeof err);
    if (rc == RDV_EEXIST)
        return RDV_OK;
    if (rc != RDV_OK)
        snprintf(errbuf, errlen, "store URL '%s': serve=1: %s", u->redacted,
                 err);
    return rc;
}

int rdv_tcp_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen)
{
    tcp_store *t = calloc(1, sizeof *t);
    int rc;

    if (!t)
        return RDV_ENOMEM;
    rc = conf_parse(u, &t->conf, errbuf, errlen);
    if (rc) {
        free(t);
        return rc;
    }
    rc = rdv_tcp_pool_init(&t->pool, &t->conf, errbuf, errlen);
    if (rc == RDV_OK && t->conf.serve &&
        (rc = serve_maybe(t, u, errbuf, errlen)) != RDV_OK)
        rdv_tcp_pool_destroy(&t->pool);
    if (rc) {
        conf_free(&t->conf);
        free(t);
        return rc;
    }
    rdv_store_init(&t->base, &tcp_ops);
    *out = &t->base;
    return RDV_OK;
}
