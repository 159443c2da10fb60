/*
 * stores/redis.c - the redis store (redis:// and unix://): the store
 * contract mapped onto redis commands, over the connection layer in
 * redis_conn.c; wait/multi_get/multi_set are in redis_batch.c and
 * list/num_keys/delete_prefix in redis_scan.c.
 *
 *   set          SET k v, create-only SET k v NX (nil reply: RDV_EEXIST)
 *   get          GET k, polled until the key exists
 *   add          INCRBY (redis keeps the same decimal int64 format)
 *   compare_set  one EVAL: GET, compare, SET, atomically on the server
 *   delete       DEL
 * Values come back in the buffer hiredis's reader malloc'd for them
 * (NUL-terminated already), so a 64 MiB value is never copied twice.
 *
 * Waiting: polling with backoff, not keyspace notifications. A poll
 * starts 0.1 ms after the first miss and the gap grows by 1.5x (with
 * +-25% jitter) to a cap of 2 ms. Measured on loopback on a busy 2-core
 * machine (a get waiting 1-21 ms for a key another process sets): caps
 * of 1 / 2 / 5 ms woke p50 0.7 / 1.6 / 1.9 ms after the set, at 1060 /
 * 650 / 590 GETs per waiting second. 2 ms keeps a waiter under ~500
 * polls a second once it has waited a while, and adds ~1 ms to a
 * rendezvous that takes tens of ms anyway.
 * Notifications would need CONFIG SET notify-keyspace-events (often
 * forbidden on managed servers), a second subscribed connection per
 * handle, and would still need a poll to close the subscribe/check race;
 * backoff works against any server with one connection.
 *
 * Fork: a handle opened before fork() may be used in the child; its
 * first call there notices the new pid and connects afresh (see
 * redis_conn.h). Threads share one connection; a blocked get/wait
 * holds it only for its short polls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

#define POLL_FIRST_NS 100000LL /* 0.1 ms */
#define POLL_MAX_NS 2000000LL  /* 2 ms */
/* A poll that starts just before the deadline may finish this far past
 * it: the last look counts, and a healthy server answers in microseconds;
 * only a stalled one makes a wait overshoot, by at most this. */
#define POLL_GRACE_NS 10000000LL /* 10 ms */

/* KEYS[1]; ARGV: has_expected ("0"/"1"), expected, desired, want_cur.
 * Returns {1} when it stored desired, else {0[, current]}. */
static const char compare_set_lua[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if (ARGV[1] == '1' and v == ARGV[2]) or (ARGV[1] == '0' and not v) "
    "then redis.call('SET', KEYS[1], ARGV[3]) return {1} end "
    "if v and ARGV[4] == '1' then return {0, v} end "
    "return {0}";

int rdv_redis_fail(rdv_store *s, int rc, const char *op, const char *key,
                   const char *detail)
{
    char k[160];

    if (!key)
        return rdv_store_fail(s, rc, "%s: %s", op, detail);
    return rdv_store_fail(s, rc, "%s '%s': %s", op,
                          rdv_key_printable(key, k, sizeof k), detail);
}

int rdv_redis_reply_fail(rdv_store *s, redisReply *r, const char *op,
                         const char *key)
{
    char d[512];
    int rc = r->type == REDIS_REPLY_ERROR ? RDV_EIO : RDV_EPROTO;

    snprintf(d, sizeof d, "redis %s: %s", RS(s)->conf.addr,
             r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    return rdv_redis_fail(s, rc, op, key, d);
}

int rdv_redis_call1(rdv_store *s, const char *op, const char *key,
                    rdv_redis_cmd cmd, int64_t io, int flags, redisReply **r)
{
    char err[512];
    int rc = rdv_redis_conn_call(&RS(s)->conn, &cmd, 1, r, io, flags, err,
                                 sizeof err);

    return rc ? rdv_redis_fail(s, rc, op, key, err) : RDV_OK;
}

int rdv_redis_poll_status(int rc)
{
    return rc == RDV_REDIS_POLL_TIMEDOUT   ? RDV_ETIMEDOUT
           : rc == RDV_REDIS_POLL_CANCELED ? RDV_ECANCELED
                                           : rc;
}

int rdv_redis_poll(rdv_store *s, int64_t deadline, rdv_redis_probe_fn probe,
                   void *arg)
{
    int64_t io = rdv_redis_io_deadline(&RS(s)->conn, deadline);
    int64_t delay = POLL_FIRST_NS;
    uint64_t seed = (uint64_t)rdv_now_ns() ^ (uint64_t)(uintptr_t)arg;

    for (;;) {
        int64_t last_look = rdv_now_ns() + POLL_GRACE_NS;
        int rc =
            probe(s, io == deadline && io < last_look ? last_look : io, arg);

        if (rc <= 0)
            return rc;
        if (rdv_now_ns() >= deadline)
            return RDV_REDIS_POLL_TIMEDOUT;
        if (rdv_cancel_sleep(&RS(s)->conn.cancel, rdv_jitter(&seed, delay),
                             deadline))
            return RDV_REDIS_POLL_CANCELED;
        delay = delay * 3 / 2 < POLL_MAX_NS ? delay * 3 / 2 : POLL_MAX_NS;
    }
}

static int redis_set(rdv_store *s, const char *key, const void *val, size_t len,
                     int flags)
{
    int nx = flags & RDV_SET_CREATE_ONLY;
    const char *argv[] = {"SET", key, val, "NX"};
    size_t lens[] = {3, strlen(key), len, 2};
    int64_t io = rdv_redis_io_deadline(&RS(s)->conn, 0);
    redisReply *r;
    int rc =
        rdv_redis_call1(s, "set", key, (rdv_redis_cmd){nx ? 4 : 3, argv, lens},
                        io, nx ? 0 : RDV_REDIS_IDEMPOTENT, &r);

    if (rc)
        return rc;
    if (nx && r->type == REDIS_REPLY_NIL)
        rc = rdv_redis_fail(s, RDV_EEXIST, "set", key,
                            "key exists (create-only)");
    else if (r->type != REDIS_REPLY_STATUS)
        return rdv_redis_reply_fail(s, r, "set", key);
    freeReplyObject(r);
    return rc;
}

typedef struct get_args {
    const char *key;
    void **val;
    size_t *len;
} get_args;

static int get_probe(rdv_store *s, int64_t io, void *arg)
{
    get_args *a = arg;
    const char *argv[] = {"GET", a->key};
    size_t lens[] = {3, strlen(a->key)};
    redisReply *r;
    int rc = rdv_redis_call1(s, "get", a->key, (rdv_redis_cmd){2, argv, lens},
                             io, RDV_REDIS_IDEMPOTENT, &r);

    if (rc)
        return rc;
    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return 1;
    }
    if (r->type != REDIS_REPLY_STRING)
        return rdv_redis_reply_fail(s, r, "get", a->key);
    *a->val = r->str; /* malloc'd and NUL-terminated by the reader */
    *a->len = r->len;
    r->str = NULL;
    freeReplyObject(r);
    return RDV_OK;
}

static int redis_get(rdv_store *s, const char *key, void **val, size_t *len,
                     int64_t deadline)
{
    get_args a = {key, val, len};
    int64_t start = rdv_now_ns();
    int rc = rdv_redis_poll(s, deadline, get_probe, &a);
    char d[256];

    if (rc > 0) {
        snprintf(d, sizeof d, "%s after %lld ms (redis %s)",
                 rc == RDV_REDIS_POLL_TIMEDOUT ? "timed out" : "canceled",
                 (long long)((rdv_now_ns() - start) / 1000000),
                 RS(s)->conf.addr);
        rdv_redis_fail(s, rdv_redis_poll_status(rc), "get", key, d);
    }
    return rdv_redis_poll_status(rc);
}

static int redis_add(rdv_store *s, const char *key, int64_t delta,
                     int64_t *result)
{
    char num[32];
    const char *argv[] = {"INCRBY", key, num};
    size_t lens[] = {6, strlen(key), rdv_counter_format(delta, num)};
    int64_t io = rdv_redis_io_deadline(&RS(s)->conn, 0);
    redisReply *r;
    int rc = rdv_redis_call1(s, "add", key, (rdv_redis_cmd){3, argv, lens}, io,
                             0, &r);

    if (rc)
        return rc;
    if (r->type == REDIS_REPLY_INTEGER) {
        *result = r->integer;
        freeReplyObject(r);
        return RDV_OK;
    }
    if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "overflow")) {
        freeReplyObject(r);
        return rdv_redis_fail(s, RDV_EINVAL, "add", key, "int64 overflow");
    }
    if (r->type == REDIS_REPLY_ERROR &&
        (strstr(r->str, "not an integer") ||
         strncmp(r->str, "WRONGTYPE", 9) == 0)) {
        freeReplyObject(r);
        return rdv_redis_fail(s, RDV_EPROTO, "add", key,
                              "the value is not a decimal int64");
    }
    return rdv_redis_reply_fail(s, r, "add", key);
}

static int copy_value(rdv_store *s, const char *key, const void *v, size_t len,
                      void **out, size_t *out_len)
{
    char *c = malloc(len + 1);

    if (!c)
        return rdv_redis_fail(s, RDV_ENOMEM, "compare_set", key,
                              "out of memory");
    memcpy(c, v, len);
    c[len] = '\0';
    *out = c;
    *out_len = len;
    return RDV_OK;
}

static int redis_compare_set(rdv_store *s, const char *key,
                             const void *expected, size_t expected_len,
                             const void *desired, size_t desired_len, int *won,
                             void **cur, size_t *cur_len)
{
    const char *argv[] = {
        "EVAL",  compare_set_lua,      "1",
        key,     expected ? "1" : "0", expected ? expected : "",
        desired, cur ? "1" : "0"};
    size_t lens[] = {4, sizeof compare_set_lua - 1,  1,           strlen(key),
                     1, expected ? expected_len : 0, desired_len, 1};
    int64_t io = rdv_redis_io_deadline(&RS(s)->conn, 0);
    redisReply *r, *v;
    int rc = rdv_redis_call1(s, "compare_set", key,
                             (rdv_redis_cmd){8, argv, lens}, io, 0, &r);

    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return rdv_redis_reply_fail(s, r, "compare_set", key);
    *won = r->element[0]->integer == 1;
    v = r->elements > 1 ? r->element[1] : NULL;
    if (cur && *won)
        rc = copy_value(s, key, desired, desired_len, cur, cur_len);
    else if (cur && v && v->type == REDIS_REPLY_STRING) {
        *cur = v->str;
        *cur_len = v->len;
        v->str = NULL;
    }
    freeReplyObject(r);
    return rc;
}

static int redis_del(rdv_store *s, const char *key)
{
    const char *argv[] = {"DEL", key};
    size_t lens[] = {3, strlen(key)};
    int64_t io = rdv_redis_io_deadline(&RS(s)->conn, 0);
    redisReply *r;
    int rc = rdv_redis_call1(s, "delete", key, (rdv_redis_cmd){2, argv, lens},
                             io, RDV_REDIS_IDEMPOTENT, &r);

    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER)
        return rdv_redis_reply_fail(s, r, "delete", key);
    freeReplyObject(r);
    return RDV_OK;
}

static void redis_cancel(rdv_store *s)
{
    rdv_redis_conn_cancel(&RS(s)->conn);
}

static void redis_destroy(rdv_store *s)
{
    rdv_redis_conn_destroy(&RS(s)->conn);
    rdv_redis_conf_free(&RS(s)->conf);
    free(s);
}

static const rdv_store_ops redis_ops = {
    .name = "redis",
    .set = redis_set,
    .get = redis_get,
    .wait = rdv_redis_wait,
    .add = redis_add,
    .compare_set = redis_compare_set,
    .del = redis_del,
    .list = rdv_redis_list,
    .destroy = redis_destroy,
    .multi_get = rdv_redis_multi_get,
    .multi_set = rdv_redis_multi_set,
    .num_keys = rdv_redis_num_keys,
    .delete_prefix = rdv_redis_delete_prefix,
    .cancel = redis_cancel,
};

/* Connects once, so a wrong address, password or db fails here. */
static int redis_ping(redis_store *rs, char *errbuf, size_t errlen)
{
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    int64_t io = rdv_redis_io_deadline(&rs->conn, 0);
    redisReply *r;
    int rc = rdv_redis_conn_call(&rs->conn, &(rdv_redis_cmd){1, argv, lens}, 1,
                                 &r, io, RDV_REDIS_IDEMPOTENT, errbuf, errlen);

    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_STATUS) {
        snprintf(errbuf, errlen, "redis %s: unexpected PING reply%s%s",
                 rs->conf.addr, r->type == REDIS_REPLY_ERROR ? ": " : "",
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
        rc = RDV_EPROTO;
    }
    freeReplyObject(r);
    return rc;
}

int rdv_redis_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen)
{
    redis_store *rs = calloc(1, sizeof *rs);
    int rc;

    if (!rs) {
        snprintf(errbuf, errlen, "redis store: out of memory");
        return RDV_ENOMEM;
    }
    rc = rdv_redis_conf_parse(u, &rs->conf, errbuf, errlen);
    /* A typo in an option must not cost a connect first. */
    if (rc == RDV_OK && (rc = rdv_url_check_unused(u, errbuf, errlen)))
        rdv_redis_conf_free(&rs->conf);
    if (rc) {
        free(rs);
        return rc;
    }
    rc = rdv_redis_conn_init(&rs->conn, &rs->conf, errbuf, errlen);
    if (rc) {
        rdv_redis_conf_free(&rs->conf);
        free(rs);
        return rc;
    }
    rdv_store_init(&rs->base, &redis_ops);
    rc = redis_ping(rs, errbuf, errlen);
    if (rc) {
        rdv_store_close(&rs->base);
        return rc;
    }
    *out = &rs->base;
    return RDV_OK;
}
