/*
 * zk_ops.c - the ZooKeeper plugin's writes and listings: set,
 * create-only set, add, compare_set, delete, list, num_keys and
 * delete_prefix, on one znode per key (zk_path.c).
 *
 * Choices:
 * - A create-only set is a create: ZooKeeper lets exactly one win.
 *   A plain set tries create, then an unconditional setData, and again
 *   if the key vanished in between.
 * - add and compare_set are compare-and-swap loops on the znode's data
 *   version: read value and version, then setData guarded on that
 *   version (or create, when absent); a lost race reads again and
 *   retries, up to ADD_TRIES times or the op's deadline (timeout_ms).
 * - A request whose connection or session was lost is sent again
 *   (after a 10..200 ms backoff) until the deadline. A write resent
 *   after its reply was lost may have been applied: a versioned setData
 *   or a create cannot apply twice, but its retry cannot tell "mine
 *   applied" from "someone else's did". A create-only set or a
 *   compare_set then counts as done when the znode holds exactly its
 *   bytes (an rdv rendezvous record carries a random nonce); add fails,
 *   saying its outcome is unknown.
 * - A value that cannot fit in one request under the servers'
 *   jute.maxbuffer (the maxbuffer= option) is refused before sending,
 *   naming the limit: the server would only drop the connection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zk_store.h"

#define ADD_TRIES 1000
#define REQUEST_OVERHEAD 1024 /* a request's bytes besides path and data */
#define DELETE_BATCH 256

/* What an issue function sends. */
typedef struct req {
    const char *path;
    const void *val;
    size_t len;
    int version; /* setData's guard; -1 = any */
} req;

int zk_fail(const zk_store *s, int status, const char *op, const char *key,
            const char *fmt, ...)
{
    char k[160], why[640];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (key)
        return kit_fail(status, "%s '%s' on zookeeper %s%s: %s", op,
                        kit_printable(key, k, sizeof k), s->hosts, s->root,
                        why);
    return kit_fail(status, "%s on zookeeper %s%s: %s", op, s->hosts,
                    s->root, why);
}

int zk_fail_zrc(const zk_store *s, const char *op, const char *key, int zrc)
{
    int status = zrc == ZSYSTEMERROR      ? RDV_ENOMEM
                 : zk_retryable(zrc)      ? RDV_ECONN
                                          : RDV_EIO;

    return zk_fail(s, status, op, key, "%s (ZooKeeper error %d)",
                   zrc == ZSYSTEMERROR ? "out of memory" : zerror(zrc), zrc);
}

static int issue_get(zk_call *c, void *arg)
{
    return zoo_aget(c->z->zh, ((req *)arg)->path, 0, zk_done_data, c);
}

static int issue_create(zk_call *c, void *arg)
{
    req *r = arg;

    return zoo_acreate(c->z->zh, r->path, r->val, (int)r->len,
                       &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, zk_done_string,
                       c);
}

static int issue_set(zk_call *c, void *arg)
{
    req *r = arg;

    return zoo_aset(c->z->zh, r->path, r->val, (int)r->len, r->version,
                    zk_done_stat, c);
}

static int issue_delete(zk_call *c, void *arg)
{
    return zoo_adelete(c->z->zh, ((req *)arg)->path, -1, zk_done_void, c);
}

static int issue_children(zk_call *c, void *arg)
{
    return zoo_aget_children(c->z->zh, ((req *)arg)->path, 0,
                             zk_done_strings, c);
}

/* One request, sent again while the connection or session is lost,
 * until the deadline. RDV_OK with *out (zk_calls_put it), or a status
 * with the detail set. *unsure: a write may have been applied by a try
 * whose reply never came. */
static int one(zk_store *s, const char *op, const char *key,
               zk_issue_fn issue, req *r, int64_t deadline, int *unsure,
               zk_call **out)
{
    int write = issue != issue_get && issue != issue_children, last = 0;
    void *arg = r;

    for (int attempt = 0;; attempt++) {
        zk_call *c[1];
        int rc = zk_calls_run(s, c, 1, issue, &arg, deadline);

        if (rc == RDV_OK && !zk_retryable(c[0]->zrc)) {
            *out = c[0];
            return RDV_OK;
        }
        if (rc == RDV_OK)
            last = c[0]->zrc;
        if (write && (rc == RDV_ETIMEDOUT ||
                      (rc == RDV_OK && zk_maybe_applied(last))))
            *unsure = 1;
        zk_calls_put(c, 1);
        if (rc == RDV_OK && kit_now_ns() < deadline)
            rc = zk_pause(s, kit_backoff_ms(attempt, ZK_RETRY_FIRST_MS,
                                            ZK_RETRY_MAX_MS));
        if (rc == RDV_ECANCELED)
            return zk_fail(s, rc, op, key, "canceled (the store is closing)");
        if (rc == RDV_ENOMEM)
            return zk_fail(s, rc, op, key, "out of memory");
        if (rc != RDV_OK || kit_now_ns() >= deadline)
            return zk_fail(s, RDV_ETIMEDOUT, op, key, "no answer within "
                           "timeout_ms=%d%s%s%s", s->timeout_ms,
                           last ? "; last: " : "", last ? zerror(last) : "",
                           *unsure ? "; a try whose reply was lost may "
                                     "have been applied: the outcome is "
                                     "unknown" : "");
    }
}

/* Refuses a request that would not fit the servers' jute.maxbuffer. */
static int check_size(const zk_store *s, const char *op, const char *key,
                      const char *path, size_t len)
{
    if (len + strlen(path) + REQUEST_OVERHEAD <= s->maxbuffer)
        return RDV_OK;
    return zk_fail(s, RDV_EINVAL, op, key, "a %zu-byte value does not fit "
                   "in one request under maxbuffer=%zu, the servers' "
                   "jute.maxbuffer (ZooKeeper's default is 1048575): raise "
                   "jute.maxbuffer on the servers and pass the same "
                   "maxbuffer= here", len, s->maxbuffer);
}

/* The znode's value and version: 1 found, 0 absent, or a status. */
static int read_node(zk_store *s, const char *op, const char *key, req *r,
                     int64_t deadline, zk_call **out)
{
    int unsure = 0, rc = one(s, op, key, issue_get, r, deadline, &unsure,
                             out);

    if (rc)
        return rc;
    if ((*out)->zrc == ZOK || (*out)->zrc == ZNONODE)
        return (*out)->zrc == ZOK;
    rc = zk_fail_zrc(s, op, key, (*out)->zrc);
    zk_calls_put(out, 1);
    return rc;
}

static int same_bytes(const zk_call *c, const void *v, size_t len)
{
    return c && c->zrc == ZOK && c->len == len && memcmp(c->data, v, len) == 0;
}

/* A lost create-only race, or a lost reply: which one (see the head). */
static int create_lost(zk_store *s, const char *op, const char *key, req *r,
                       int unsure, int64_t deadline)
{
    zk_call *c = NULL;
    int found;

    if (!unsure)
        return 0;
    found = read_node(s, op, key, r, deadline, &c);
    if (found < 0)
        return found;
    found = found && same_bytes(c, r->val, r->len);
    zk_calls_put(&c, 1);
    return found;
}

int zk_set(void *h, const char *key, const void *val, size_t len, int flags)
{
    zk_store *s = h;
    req r = {zk_path(s, key), val, len, -1};
    int64_t deadline = zk_io_deadline(s, len);
    int rc = r.path ? check_size(s, "set", key, r.path, len)
                    : zk_fail(s, RDV_ENOMEM, "set", key, "out of memory");

    for (int tries = 0; rc == RDV_OK; tries++) {
        zk_call *c = NULL;
        int unsure = 0, zrc;

        if ((rc = one(s, "set", key, issue_create, &r, deadline, &unsure,
                      &c)))
            break;
        zrc = c->zrc;
        zk_calls_put(&c, 1);
        if (zrc == ZOK)
            break;
        if (zrc != ZNODEEXISTS) {
            rc = zk_fail_zrc(s, "set", key, zrc);
        } else if (flags & RDV_PLUGIN_SET_CREATE_ONLY) {
            rc = create_lost(s, "set", key, &r, unsure, deadline);
            rc = rc < 0 ? rc : rc ? RDV_OK
                 : zk_fail(s, RDV_EEXIST, "set", key,
                           "the key exists (create-only)");
            break;
        } else if (!(rc = one(s, "set", key, issue_set, &r, deadline,
                              &unsure, &c))) {
            zrc = c->zrc;
            zk_calls_put(&c, 1);
            if (zrc == ZOK)
                break;
            if (zrc != ZNONODE || tries == ADD_TRIES) /* else: deleted */
                rc = zk_fail_zrc(s, "set", key, zrc);
        }
    }
    free((char *)r.path);
    return rc;
}

/* The answer to a guarded write (create, or setData at a version) that
 * one() completed; puts the call. 1 it won, 0 it lost a race (the
 * version changed, or the node came or went), or a status. */
static int guarded_answer(zk_store *s, const char *op, const char *key,
                          zk_call **c)
{
    int zrc = (*c)->zrc;

    zk_calls_put(c, 1);
    if (zrc == ZOK)
        return 1;
    if (zrc != ZBADVERSION && zrc != ZNONODE && zrc != ZNODEEXISTS)
        return zk_fail_zrc(s, op, key, zrc);
    return 0;
}

/* One try of add: 1 done, 0 lost a race, or a status. */
static int add_once(zk_store *s, const char *key, req *r, int64_t delta,
                    int64_t *result, int64_t deadline)
{
    zk_call *c = NULL;
    int64_t old = 0;
    char next[24];
    int unsure = 0, found = read_node(s, "add", key, r, deadline, &c);

    if (found < 0)
        return found;
    if (found && kit_counter_parse(c->data, c->len, &old)) {
        zk_calls_put(&c, 1);
        return zk_fail(s, RDV_EPROTO, "add", key, "the value is not a "
                       "decimal int64");
    }
    r->version = found ? c->stat.version : -1;
    zk_calls_put(&c, 1);
    if (!(r->len = kit_counter_next(old, delta, next, result)))
        return zk_fail(s, RDV_EINVAL, "add", key, "%lld + %lld overflows "
                       "int64", (long long)old, (long long)delta);
    r->val = next;
    found = one(s, "add", key, found ? issue_set : issue_create, r, deadline,
                &unsure, &c);
    if (found || (found = guarded_answer(s, "add", key, &c)))
        return found;
    if (unsure)
        return zk_fail(s, RDV_EIO, "add", key, "a reply was lost and the "
                       "counter has changed since: this add may or may not "
                       "have been applied: its outcome is unknown");
    return 0;
}

int zk_add(void *h, const char *key, int64_t delta, int64_t *result)
{
    zk_store *s = h;
    req r = {zk_path(s, key), NULL, 0, -1};
    int64_t deadline = zk_io_deadline(s, 0), t0 = kit_now_ns();
    int rc = r.path ? 0 : zk_fail(s, RDV_ENOMEM, "add", key, "out of memory");

    for (int lost = 0; rc == 0; lost++) {
        if (lost == ADD_TRIES || (lost && kit_now_ns() >= deadline)) {
            rc = zk_fail(s, RDV_ETIMEDOUT, "add", key, "lost %d races to "
                         "other writers in %lld ms; gave up (the key is too "
                         "contended)", lost, kit_ms_since(t0));
            break;
        }
        rc = add_once(s, key, &r, delta, result, deadline);
    }
    free((char *)r.path);
    return rc < 0 ? rc : RDV_OK;
}

/* A guarded write of compare_set (create, or setData at r->version):
 * 1 won, 0 lost, or a status. */
static int cas_write(zk_store *s, const char *key, req *r, int create,
                     int64_t deadline)
{
    zk_call *w = NULL;
    int unsure = 0, rc = one(s, "compare_set", key,
                             create ? issue_create : issue_set, r, deadline,
                             &unsure, &w);

    if (rc || (rc = guarded_answer(s, "compare_set", key, &w)))
        return rc;
    return create_lost(s, "compare_set", key, r, unsure, deadline);
}

int zk_compare_set(void *h, const char *key, const void *expected,
                   size_t expected_len, const void *desired,
                   size_t desired_len, int *won, void **cur,
                   size_t *cur_len)
{
    zk_store *s = h;
    req r = {zk_path(s, key), desired, desired_len, -1};
    int64_t deadline = zk_io_deadline(s, desired_len);
    zk_call *now = NULL; /* the key as last read */
    int rc = r.path ? check_size(s, "compare_set", key, r.path, desired_len)
                    : zk_fail(s, RDV_ENOMEM, "compare_set", key,
                              "out of memory");

    *won = 0;
    for (int tries = 0; rc == RDV_OK && !*won; tries++) {
        int found = 0;

        zk_calls_put(&now, 1);
        if (expected || tries) /* the key as it is now */
            found = read_node(s, "compare_set", key, &r, deadline, &now);
        if (found < 0 || (tries && !expected)) {
            rc = found < 0 ? found : RDV_OK; /* absent expected: lost */
            break;
        }
        if (expected && (!found || !same_bytes(now, expected, expected_len)))
            break; /* absent, or other bytes: lost */
        if (tries == ADD_TRIES) {
            rc = zk_fail(s, RDV_ETIMEDOUT, "compare_set", key, "the value "
                         "was rewritten %d times under us; gave up", tries);
            break;
        }
        r.version = found ? now->stat.version : -1;
        if ((rc = cas_write(s, key, &r, !expected, deadline)) > 0)
            *won = 1;
        rc = rc < 0 ? rc : RDV_OK;
    }
    if (rc == RDV_OK && cur)
        rc = kit_cas_current(*won, desired, desired_len,
                             now && now->zrc == ZOK ? now->data : NULL,
                             now ? now->len : 0, cur, cur_len);
    zk_calls_put(&now, 1);
    free((char *)r.path);
    return rc;
}

int zk_del(void *h, const char *key)
{
    zk_store *s = h;
    req r = {zk_path(s, key), NULL, 0, -1};
    zk_call *c = NULL;
    int unsure = 0, rc = r.path ? one(s, "delete", key, issue_delete, &r,
                                      zk_io_deadline(s, 0), &unsure, &c)
                                : zk_fail(s, RDV_ENOMEM, "delete", key,
                                          "out of memory");

    if (rc == RDV_OK && c->zrc != ZOK && c->zrc != ZNONODE)
        rc = zk_fail_zrc(s, "delete", key, c->zrc);
    zk_calls_put(&c, 1);
    free((char *)r.path);
    return rc;
}

/* The keys under the root that start with prefix: one getChildren. */
static int children(zk_store *s, const char *op, const char *prefix,
                    kit_keys *out)
{
    req r = {s->root, NULL, 0, -1};
    size_t plen = strlen(prefix);
    zk_call *c = NULL;
    int unsure = 0, rc = one(s, op, NULL, issue_children, &r,
                             zk_io_deadline(s, 0), &unsure, &c);

    if (rc == RDV_OK && c->zrc != ZOK)
        rc = zk_fail_zrc(s, op, NULL, c->zrc);
    for (size_t i = 0; rc == RDV_OK && i < c->kids.n; i++) {
        char *key = zk_key_of(c->kids.v[i]);

        if (key && strncmp(key, prefix, plen) == 0 &&
            kit_keys_push(out, key, strlen(key)))
            rc = zk_fail(s, RDV_ENOMEM, op, NULL, "out of memory");
        free(key);
    }
    zk_calls_put(&c, 1);
    if (rc)
        kit_keys_free(out);
    return rc;
}

int zk_list(void *h, const char *prefix, char ***keys, size_t *n)
{
    kit_keys out = {0};
    int rc = children(h, "list", prefix, &out);

    *keys = out.v;
    *n = out.n;
    return rc;
}

int zk_num_keys(void *h, int64_t *n)
{
    kit_keys out = {0};
    int rc = children(h, "num_keys", "", &out);

    *n = (int64_t)out.n;
    kit_keys_free(&out);
    return rc;
}

int zk_delete_prefix(void *h, const char *prefix, size_t *deleted)
{
    zk_store *s = h;
    kit_keys keys = {0};
    int rc = children(s, "delete_prefix", prefix, &keys);

    *deleted = 0;
    /* Pipelined deletes in batches; a key deleted meanwhile is fine. */
    for (size_t i = 0; rc == RDV_OK && i < keys.n; i += DELETE_BATCH) {
        size_t m = keys.n - i < DELETE_BATCH ? keys.n - i : DELETE_BATCH;
        zk_call *c[DELETE_BATCH] = {0};
        req r[DELETE_BATCH];
        void *args[DELETE_BATCH];

        for (size_t j = 0; j < m; j++) {
            r[j] = (req){zk_path(s, keys.v[i + j]), NULL, 0, -1};
            args[j] = &r[j];
            if (!r[j].path)
                rc = zk_fail(s, RDV_ENOMEM, "delete_prefix", prefix,
                             "out of memory");
        }
        if (rc == RDV_OK)
            rc = zk_calls_run(s, c, m, issue_delete, args,
                              zk_io_deadline(s, 0));
        for (size_t j = 0; rc == RDV_OK && j < m; j++) {
            if (c[j]->zrc == ZOK)
                (*deleted)++;
            else if (c[j]->zrc != ZNONODE)
                rc = zk_fail_zrc(s, "delete_prefix", keys.v[i + j],
                                 c[j]->zrc);
        }
        if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED)
            rc = zk_fail(s, rc, "delete_prefix", prefix, "%s",
                         rc == RDV_ECANCELED ? "canceled (the store is "
                                               "closing)"
                                             : "no answer in time");
        zk_calls_put(c, m);
        for (size_t j = 0; j < m; j++)
            free((char *)r[j].path);
    }
    kit_keys_free(&keys);
    return rc;
}
