/*
 * sqlite_store.c - an rdv store plugin backed by SQLite. Copy it to hook
 * up your own database: everything rdv needs is the one exported table
 * at the bottom, rdv_store_plugin_v1 (see rdv/plugin.h for the rules).
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
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "rdv/plugin.h"

typedef struct sqlite_store {
    sqlite3 *db;
    pthread_mutex_t lock; /* one statement or transaction at a time */
    sqlite3_stmt *st_get, *st_put, *st_insert, *st_del, *st_keys,
        *st_count, *st_begin, *st_commit, *st_rollback;
    int poll_ms;
    atomic_int canceled;
    char path[512];
    char detail[1024]; /* last failure, for errmsg() */
} sqlite_store;

/* ---- small helpers ------------------------------------------------- */

static int fail(sqlite_store *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(sqlite_store *s, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof s->detail, fmt, ap);
    va_end(ap);
    return status;
}

/* A key made safe for a message: control bytes become \xNN. */
static const char *printable(const char *key, char *buf, size_t cap)
{
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)key;
         *p && o + 8 < cap; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            buf[o++] = (char)*p;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", *p);
    }
    buf[o < cap ? o : cap - 1] = '\0';
    return buf;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms, resuming after signals (EINTR must not shorten a wait). */
static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Maps an SQLite failure to an rdv status and records the detail. */
static int db_fail(sqlite_store *s, int rc, const char *op, const char *key)
{
    char k[128];
    int status = RDV_EIO;

    if (rc == SQLITE_INTERRUPT || atomic_load(&s->canceled))
        status = RDV_ECANCELED;
    else if (rc == SQLITE_NOMEM)
        status = RDV_ENOMEM;
    return fail(s, status, "%s '%s' on sqlite database %s: %s", op,
                printable(key ? key : "", k, sizeof k), s->path,
                rc == SQLITE_INTERRUPT ? "canceled" : sqlite3_errstr(rc));
}

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
        return fail(s, RDV_ENOMEM, "out of memory for a %zu-byte value", n);
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
        found = db_fail(s, rc, "get", key);
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
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
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
        left = deadline - now_ms();
        if (timeout_ms == 0 || left <= 0)
            return RDV_ETIMEDOUT;
        sleep_ms((int)(left < step ? left : step));
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
    int64_t start = now_ms();
    int rc = poll_until(s, timeout_ms, get_check, &a);
    char k[128];

    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED)
        fail(s, rc, "get '%s' %s after %" PRId64 " ms",
             printable(key, k, sizeof k),
             rc == RDV_ETIMEDOUT ? "timed out" : "canceled",
             now_ms() - start);
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
                                  printable(a->keys[i], k, sizeof k));
    }
    return fail(s, rc, "wait %s after %" PRId64 " ms: %zu of %zu keys "
                "missing: %s%s", rc == RDV_ETIMEDOUT ? "timed out" :
                "canceled", now_ms() - start, missing, a->n, list,
                missing > 8 ? ", ..." : "");
}

static int sq_wait(void *h, const char *const *keys, size_t n,
                   int timeout_ms)
{
    sqlite_store *s = h;
    wait_args a = {keys, n, calloc(n ? n : 1, 1)};
    int64_t start = now_ms();
    int rc;

    if (!a.present)
        return fail(s, RDV_ENOMEM, "wait: out of memory");
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
        return fail(s, RDV_EEXIST, "set '%s': key exists (create-only)",
                    printable(key, k, sizeof k));
    return db_fail(s, rc, "set", key);
}

/* BEGIN IMMEDIATE: takes the database's write lock now (waiting up to
 * busy_ms), so what the transaction reads cannot change under it. */
static int begin(sqlite_store *s, const char *op, const char *key)
{
    int rc = step_reset(s->st_begin);

    return rc == SQLITE_DONE ? RDV_OK : db_fail(s, rc, op, key);
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
    return db_fail(s, rc, op, key);
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
        rc = fail(s, RDV_EPROTO, "add '%s': the value is not a decimal "
                  "int64", printable(key, k, sizeof k));
    else if (__builtin_add_overflow(v, delta, &v))
        rc = fail(s, RDV_EINVAL, "add '%s': int64 overflow",
                  printable(key, k, sizeof k));
    else if ((rc = put(s->st_put, key, buf,
                       (size_t)snprintf(buf, sizeof buf, "%" PRId64, v))) ==
             SQLITE_DONE)
        rc = RDV_OK;
    else
        rc = db_fail(s, rc, "add", key);
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
        rc = db_fail(s, rc, "compare_set", a->key);
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
    return rc == SQLITE_DONE ? RDV_OK : db_fail(s, rc, "delete", key);
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
        return oom ? fail(s, RDV_ENOMEM, "list: out of memory")
                   : db_fail(s, rc, "list", prefix);
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
    return rc == SQLITE_ROW ? RDV_OK : db_fail(s, rc, "num_keys", "");
}

/* ---- lifecycle ----------------------------------------------------- */

static void sq_cancel(void *h)
{
    sqlite_store *s = h;

    atomic_store(&s->canceled, 1);
    sqlite3_interrupt(s->db); /* a statement waiting on a lock */
}

static const char *sq_errmsg(void *h)
{
    return ((sqlite_store *)h)->detail;
}

static void sq_destroy(void *h)
{
    sqlite_store *s = h;
    sqlite3_stmt *sts[] = {s->st_get, s->st_put, s->st_insert, s->st_del,
                           s->st_keys, s->st_count, s->st_begin,
                           s->st_commit, s->st_rollback};

    for (size_t i = 0; i < sizeof sts / sizeof sts[0]; i++)
        sqlite3_finalize(sts[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Runs setup SQL, retrying while another process holds the lock: the
 * switch to WAL needs a moment of exclusive access, and several ranks
 * open the same file at once. */
static int exec_retry(sqlite_store *s, const char *sql, int busy_ms)
{
    int64_t end = now_ms() + busy_ms;
    int rc;

    while ((rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL)) == SQLITE_BUSY &&
           now_ms() < end)
        sleep_ms(5);
    return rc;
}

static int prepare_all(sqlite_store *s)
{
    static const struct {
        size_t off;
        const char *sql;
    } q[] = {
        {offsetof(sqlite_store, st_get), "SELECT v FROM kv WHERE k = ?1"},
        {offsetof(sqlite_store, st_put),
         "INSERT INTO kv(k, v) VALUES(?1, ?2) "
         "ON CONFLICT(k) DO UPDATE SET v = excluded.v"},
        {offsetof(sqlite_store, st_insert),
         "INSERT INTO kv(k, v) VALUES(?1, ?2)"},
        {offsetof(sqlite_store, st_del), "DELETE FROM kv WHERE k = ?1"},
        {offsetof(sqlite_store, st_keys), "SELECT k FROM kv"},
        {offsetof(sqlite_store, st_count), "SELECT count(*) FROM kv"},
        {offsetof(sqlite_store, st_begin), "BEGIN IMMEDIATE"},
        {offsetof(sqlite_store, st_commit), "COMMIT"},
        {offsetof(sqlite_store, st_rollback), "ROLLBACK"},
    };

    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        sqlite3_stmt **st = (sqlite3_stmt **)((char *)s + q[i].off);
        int rc = sqlite3_prepare_v3(s->db, q[i].sql, -1,
                                    SQLITE_PREPARE_PERSISTENT, st, NULL);

        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* Reads an integer option in [min, max]; -1 with a message when bad. */
static int int_option(const rdv_plugin_config *cfg, const char *name,
                      int min, int max, int dflt, int *out, char *errbuf,
                      size_t errlen)
{
    const char *v = cfg->option(cfg, name);
    char *end;
    long x;

    *out = dflt;
    if (!v)
        return 0;
    errno = 0;
    x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max) {
        snprintf(errbuf, errlen, "sqlite store: option %s=%s in '%s' must "
                 "be an integer from %d to %d", name, v, cfg->url, min, max);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static void *sq_create(const rdv_plugin_config *cfg, char *errbuf,
                       size_t errlen)
{
    const char *path = cfg->option(cfg, "db");
    int busy_ms, rc, flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX;
    sqlite_store *s;

    if (!path || !path[0]) {
        snprintf(errbuf, errlen, "sqlite store: '%s' needs the database "
                 "file, e.g. plugin:%s?db=/tmp/rdv.db", cfg->url, cfg->path);
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(errbuf, errlen, "sqlite store: out of memory");
        return NULL;
    }
    if (int_option(cfg, "busy_ms", 1, 3600000, 10000, &busy_ms, errbuf,
                   errlen) ||
        int_option(cfg, "poll_ms", 1, 1000, 50, &s->poll_ms, errbuf,
                   errlen)) {
        free(s);
        return NULL;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    pthread_mutex_init(&s->lock, NULL);
    rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(s->db, busy_ms);
    if (rc == SQLITE_OK)
        rc = exec_retry(s, "PRAGMA journal_mode=WAL", busy_ms);
    if (rc == SQLITE_OK)
        rc = exec_retry(s, "PRAGMA synchronous=NORMAL;"
                        "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY,"
                        " v BLOB NOT NULL) WITHOUT ROWID", busy_ms);
    if (rc == SQLITE_OK)
        rc = prepare_all(s);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "sqlite store: cannot open database "
                 "'%s': %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sq_destroy(s);
        return NULL;
    }
    return s;
}

/* The one symbol rdv looks for. */
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
