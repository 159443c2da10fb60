/*
 * sqlite_store.c - an rdv store plugin backed by SQLite: the store
 * operations and, at the bottom, the one table rdv looks for,
 * rdv_store_plugin_v1 (rdv/plugin.h has the rules). sqlite_db.c opens
 * and closes the database. Copy both to hook up your own database.
 *
 *   plugin:./librdv_sqlite_store.so?db=/shared/rdv.db[&busy_ms=10000]
 *                                   [&poll_ms=50]
 *
 * db       the database file; every process that opens the same file
 *          shares the keys (one machine, or a filesystem with working
 *          POSIX locks). Required.
 * busy_ms  how long a write waits for another process's lock before
 *          failing with RDV_EIO (default 10000).
 * poll_ms  the longest sleep between two checks while waiting for keys
 *          (default 50); waits start at 1 ms and back off to it.
 *
 * Choices, and why:
 * - One table kv(k BLOB PRIMARY KEY, v BLOB). Keys are stored as BLOBs,
 *   not TEXT, so any byte is kept exactly ('/', "..", UTF-8, ...).
 * - WAL journal: readers never block the writer and vice versa, so
 *   many processes polling for keys do not starve the ones publishing.
 * - A busy timeout makes SQLite wait for another process's write lock
 *   instead of failing at once.
 * - add and compare_set run inside BEGIN IMMEDIATE ... COMMIT: the write
 *   lock is taken before the read, so read-modify-write is atomic across
 *   processes (a plain BEGIN would read first and could lose updates).
 *   A create-only set is one INSERT, which the primary key makes atomic.
 * - SQLite cannot notify another process, so get and wait poll with
 *   exponential backoff (1 ms up to poll_ms), never spinning, and never
 *   sleeping past the caller's deadline.
 * - cancel() sets a flag that every wait checks between polls and
 *   interrupts a statement stuck on a lock (sqlite3_interrupt), so close
 *   ends blocked calls within one poll interval.
 * - One connection per handle guarded by a mutex: a handle may be used
 *   by several threads, but a connection runs one transaction at a time.
 *   Waits hold the mutex only while they query, never while sleeping.
 * - multi_get, multi_set and delete_prefix are left NULL: rdv supplies
 *   generic versions built on the required ops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_store.h"

static void bind_key(sqlite3_stmt *st, int i, const char *key)
{
    sqlite3_bind_blob(st, i, key, (int)strlen(key), SQLITE_STATIC);
}

/* Copies column 0 of the current row into a malloc'd, NUL-terminated
 * value (the memory rule of rdv/plugin.h). */
static int copy_value(sqlite_store *s, sqlite3_stmt *st, void **val,
                      size_t *len)
{
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    const void *p = sqlite3_column_blob(st, 0);
    char *v = malloc(n + 1);

    if (!v)
        return sq_fail(s, RDV_ENOMEM, "out of memory for a %zu-byte value", n);
    if (n)
        memcpy(v, p, n);
    v[n] = '\0';
    *val = v;
    *len = n;
    return RDV_OK;
}

/* ---- the queries, each run with s->lock held ------------------------- */

/* Looks key up once: 1 found (value copied if val != NULL), 0 absent,
 * or a negative rdv status. */
static int lookup(sqlite_store *s, const char *key, void **val, size_t *len)
{
    sqlite3_stmt *st = s->st_get;
    int rc, found = 0;

    bind_key(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        found = 1;
        if (val && (rc = copy_value(s, st, val, len)) != RDV_OK)
            found = rc;
    } else if (rc != SQLITE_DONE) {
        found = sq_db_fail(s, rc, "get", key);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

/* Runs a write statement whose parameters are bound; returns the SQLite
 * result code. */
static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int put(sqlite3_stmt *st, const char *key, const void *val,
               size_t len)
{
    bind_key(st, 1, key);
    sqlite3_bind_blob(st, 2, val, (int)len, SQLITE_STATIC);
    return step_reset(st);
}

/* ---- waiting ------------------------------------------------------- */

/* Polls until check() finds everything or the deadline passes. check()
 * runs under the lock and returns 1 done, 0 not yet, <0 an error. */
static int poll_until(sqlite_store *s, int timeout_ms,
                      int (*check)(sqlite_store *, void *), void *arg)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : sq_now_ms() + timeout_ms;
    int step = 1;

    for (;;) {
        int64_t left;
        int done;

        if (atomic_load(&s->canceled))
            return RDV_ECANCELED;
        pthread_mutex_lock(&s->lock);
        done = check(s, arg);
        pthread_mutex_unlock(&s->lock);
        if (done)
            return done > 0 ? RDV_OK : done;
        left = deadline - sq_now_ms();
        if (timeout_ms == 0 || left <= 0)
            return RDV_ETIMEDOUT;
        sq_sleep_ms((int)(left < step ? left : step));
        step = step * 2 > s->poll_ms ? s->poll_ms : step * 2;
    }
}

typedef struct get_args {
    const char *key;
    void **val;
    size_t *len;
} get_args;

static int get_check(sqlite_store *s, void *arg)
{
    get_args *a = arg;

    return lookup(s, a->key, a->val, a->len);
}

static int sq_get(void *h, const char *key, void **val, size_t *len,
                  int timeout_ms)
{
    sqlite_store *s = h;
    get_args a = {key, val, len};
    int64_t start = sq_now_ms();
    int rc = poll_until(s, timeout_ms, get_check, &a);
    char k[128];

    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED)
        sq_fail(s, rc, "get '%s' %s after %" PRId64 " ms",
                sq_printable(key, k, sizeof k),
                rc == RDV_ETIMEDOUT ? "timed out" : "canceled",
                sq_now_ms() - start);
    return rc;
}

typedef struct wait_args {
    const char *const *keys;
    size_t n;
    unsigned char *present;
} wait_args;

static int wait_check(sqlite_store *s, void *arg)
{
    wait_args *a = arg;
    int all = 1;

    for (size_t i = 0; i < a->n; i++) {
        int rc = a->present[i] ? 1 : lookup(s, a->keys[i], NULL, NULL);

        if (rc < 0)
            return rc;
        a->present[i] = (unsigned char)rc;
        all &= rc;
    }
    return all;
}

/* "wait timed out after 100 ms: 2 of 8 keys missing: a/3, a/6" */
static int fail_wait(sqlite_store *s, int rc, int64_t start,
                     const wait_args *a)
{
    char list[700], k[128];
    size_t missing = 0, o = 0;

    list[0] = '\0';
    for (size_t i = 0; i < a->n; i++) {
        if (a->present[i])
            continue;
        if (missing++ < 8 && o < sizeof list)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
                                  o ? ", " : "",
                                  sq_printable(a->keys[i], k, sizeof k));
    }
    return sq_fail(s, rc, "wait %s after %" PRId64 " ms: %zu of %zu keys "
                   "missing: %s%s", rc == RDV_ETIMEDOUT ? "timed out" :
                   "canceled", sq_now_ms() - start, missing, a->n, list,
                   missing > 8 ? ", ..." : "");
}

static int sq_wait(void *h, const char *const *keys, size_t n,
                   int timeout_ms)
{
    sqlite_store *s = h;
    wait_args a = {keys, n, calloc(n ? n : 1, 1)};
    int64_t start = sq_now_ms();
    int rc;

    if (!a.present)
        return sq_fail(s, RDV_ENOMEM, "wait: out of memory");
    rc = poll_until(s, timeout_ms, wait_check, &a);
    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED)
        fail_wait(s, rc, start, &a);
    free(a.present);
    return rc;
}

/* ---- writes -------------------------------------------------------- */

static int sq_set(void *h, const char *key, const void *val, size_t len,
                  int flags)
{
    sqlite_store *s = h;
    int create_only = flags & RDV_PLUGIN_SET_CREATE_ONLY;
    char k[128];
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = put(create_only ? s->st_insert : s->st_put, key, val, len);
    pthread_mutex_unlock(&s->lock);
    if (rc == SQLITE_DONE)
        return RDV_OK;
    if (create_only && (rc & 0xff) == SQLITE_CONSTRAINT)
        return sq_fail(s, RDV_EEXIST, "set '%s': key exists (create-only)",
                       sq_printable(key, k, sizeof k));
    return sq_db_fail(s, rc, "set", key);
}

/* BEGIN IMMEDIATE: takes the database's write lock now (waiting up to
 * busy_ms), so what the transaction reads cannot change under it. */
static int begin(sqlite_store *s, const char *op, const char *key)
{
    int rc = step_reset(s->st_begin);

    return rc == SQLITE_DONE ? RDV_OK : sq_db_fail(s, rc, op, key);
}

/* Ends the transaction: commit when status is RDV_OK, else roll back. */
static int finish(sqlite_store *s, int status, const char *op,
                  const char *key)
{
    int rc;

    if (status != RDV_OK) {
        step_reset(s->st_rollback);
        return status;
    }
    rc = step_reset(s->st_commit);
    if (rc == SQLITE_DONE)
        return RDV_OK;
    step_reset(s->st_rollback);
    return sq_db_fail(s, rc, op, key);
}

/* The counter format of the contract: optional '-', decimal digits. */
static int parse_counter(const char *v, size_t len, int64_t *out)
{
    char buf[32], *end;
    long long x;

    if (len == 0 || len >= sizeof buf || v[0] == ' ' || v[0] == '+')
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    errno = 0;
    x = strtoll(buf, &end, 10);
    if (*end || errno)
        return -1;
    *out = x;
    return 0;
}

static int add_locked(sqlite_store *s, const char *key, int64_t delta,
                      int64_t *result)
{
    void *old = NULL;
    size_t old_len = 0;
    int64_t v = 0;
    char buf[32], k[128];
    int rc = lookup(s, key, &old, &old_len);

    if (rc < 0)
        return rc;
    if (rc == 1 && parse_counter(old, old_len, &v))
        rc = sq_fail(s, RDV_EPROTO, "add '%s': the value is not a decimal "
                     "int64", sq_printable(key, k, sizeof k));
    else if (__builtin_add_overflow(v, delta, &v))
        rc = sq_fail(s, RDV_EINVAL, "add '%s': int64 overflow",
                     sq_printable(key, k, sizeof k));
    else if ((rc = put(s->st_put, key, buf,
                       (size_t)snprintf(buf, sizeof buf, "%" PRId64, v))) ==
             SQLITE_DONE)
        rc = RDV_OK;
    else
        rc = sq_db_fail(s, rc, "add", key);
    free(old);
    if (rc == RDV_OK)
        *result = v;
    return rc;
}

static int sq_add(void *h, const char *key, int64_t delta, int64_t *result)
{
    sqlite_store *s = h;
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = begin(s, "add", key);
    if (rc == RDV_OK)
        rc = finish(s, add_locked(s, key, delta, result), "add", key);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

typedef struct cas_args {
    const char *key;
    const void *expected, *desired;
    size_t expected_len, desired_len;
    int *won;
    void **cur;
    size_t *cur_len;
} cas_args;

static int cas_locked(sqlite_store *s, const cas_args *a)
{
    void *old = NULL;
    size_t old_len = 0;
    int rc = lookup(s, a->key, &old, &old_len);

    if (rc < 0)
        return rc;
    *a->won = a->expected ? rc == 1 && old_len == a->expected_len &&
                                memcmp(old, a->expected, old_len) == 0
                          : rc == 0;
    free(old);
    rc = RDV_OK;
    if (*a->won && (rc = put(s->st_put, a->key, a->desired,
                             a->desired_len)) == SQLITE_DONE)
        rc = RDV_OK;
    else if (*a->won)
        rc = sq_db_fail(s, rc, "compare_set", a->key);
    if (rc == RDV_OK && a->cur) {
        int found = lookup(s, a->key, a->cur, a->cur_len);

        rc = found < 0 ? found : RDV_OK;
    }
    return rc;
}

static int sq_compare_set(void *h, const char *key, const void *expected,
                          size_t expected_len, const void *desired,
                          size_t desired_len, int *won, void **cur,
                          size_t *cur_len)
{
    sqlite_store *s = h;
    cas_args a = {key, expected, desired, expected_len, desired_len, won,
                  cur, cur_len};
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = begin(s, "compare_set", key);
    if (rc == RDV_OK)
        rc = finish(s, cas_locked(s, &a), "compare_set", key);
    pthread_mutex_unlock(&s->lock);
    if (rc != RDV_OK && cur && *cur) { /* no memory out on failure */
        free(*cur);
        *cur = NULL;
        *cur_len = 0;
    }
    return rc;
}

static int sq_del(void *h, const char *key)
{
    sqlite_store *s = h;
    int rc;

    pthread_mutex_lock(&s->lock);
    bind_key(s->st_del, 1, key);
    rc = step_reset(s->st_del);
    pthread_mutex_unlock(&s->lock);
    return rc == SQLITE_DONE ? RDV_OK : sq_db_fail(s, rc, "delete", key);
}

/* ---- listing ------------------------------------------------------- */

static int push_key(char ***keys, size_t *n, size_t *cap, const void *k,
                    size_t len)
{
    char *copy = malloc(len + 1);

    if (!copy)
        return -1;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **grown = realloc(*keys, ncap * sizeof *grown);

        if (!grown) {
            free(copy);
            return -1;
        }
        *keys = grown;
        *cap = ncap;
    }
    memcpy(copy, k, len);
    copy[len] = '\0';
    (*keys)[(*n)++] = copy;
    return 0;
}

static int sq_list(void *h, const char *prefix, char ***keys, size_t *n)
{
    sqlite_store *s = h;
    size_t plen = strlen(prefix), cap = 0;
    char **out = NULL;
    int rc, oom = 0;

    *n = 0;
    pthread_mutex_lock(&s->lock);
    while ((rc = sqlite3_step(s->st_keys)) == SQLITE_ROW && !oom) {
        size_t len = (size_t)sqlite3_column_bytes(s->st_keys, 0);
        const char *k = sqlite3_column_blob(s->st_keys, 0);

        if (len >= plen && memcmp(k, prefix, plen) == 0)
            oom = push_key(&out, n, &cap, k, len);
    }
    sqlite3_reset(s->st_keys);
    pthread_mutex_unlock(&s->lock);
    if (oom || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
        for (size_t i = 0; i < *n; i++)
            free(out[i]);
        free(out);
        *n = 0;
        return oom ? sq_fail(s, RDV_ENOMEM, "list: out of memory")
                   : sq_db_fail(s, rc, "list", prefix);
    }
    *keys = out;
    return RDV_OK;
}

static int sq_num_keys(void *h, int64_t *n)
{
    sqlite_store *s = h;
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = sqlite3_step(s->st_count);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(s->st_count, 0);
    sqlite3_reset(s->st_count);
    pthread_mutex_unlock(&s->lock);
    return rc == SQLITE_ROW ? RDV_OK : sq_db_fail(s, rc, "num_keys", "");
}

RDV_PLUGIN_EXPORT const rdv_store_plugin rdv_store_plugin_v1 = {
    .abi_version = RDV_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(rdv_store_plugin),
    .name = "sqlite",
    .create = sq_create,
    .destroy = sq_destroy,
    .errmsg = sq_errmsg,
    .set = sq_set,
    .get = sq_get,
    .wait = sq_wait,
    .add = sq_add,
    .compare_set = sq_compare_set,
    .del = sq_del,
    .list = sq_list,
    .num_keys = sq_num_keys,
    .cancel = sq_cancel,
};
