/*
 * sqlite_db.c - the SQLite plugin's lifecycle: reading the URL options,
 * opening the database in WAL mode with a busy timeout, creating the
 * table, preparing every statement once, cancelling and closing; plus
 * the error-detail and time helpers both files use.
 *
 * Several ranks open the same file at the same moment, so the setup SQL
 * is retried while another process holds the lock (the switch to WAL
 * needs a moment of exclusive access).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlite_store.h"

/* ---- error details and time ----------------------------------------- */

int sq_fail(sqlite_store *s, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof s->detail, fmt, ap);
    va_end(ap);
    return status;
}

const char *sq_printable(const char *key, char *buf, size_t cap)
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

int64_t sq_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Resumes after signals: EINTR must not shorten a wait. */
void sq_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int sq_db_fail(sqlite_store *s, int rc, const char *op, const char *key)
{
    char k[128];
    int status = RDV_EIO;

    if (rc == SQLITE_INTERRUPT || atomic_load(&s->canceled))
        status = RDV_ECANCELED;
    else if (rc == SQLITE_NOMEM)
        status = RDV_ENOMEM;
    return sq_fail(s, status, "%s '%s' on sqlite database %s: %s", op,
                   sq_printable(key ? key : "", k, sizeof k), s->path,
                   rc == SQLITE_INTERRUPT ? "canceled" : sqlite3_errstr(rc));
}

/* ---- lifecycle ----------------------------------------------------- */

void sq_cancel(void *h)
{
    sqlite_store *s = h;

    atomic_store(&s->canceled, 1);
    sqlite3_interrupt(s->db); /* a statement waiting on a lock */
}

const char *sq_errmsg(void *h)
{
    return ((sqlite_store *)h)->detail;
}

void sq_destroy(void *h)
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
    int64_t end = sq_now_ms() + busy_ms;
    int rc;

    while ((rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL)) == SQLITE_BUSY &&
           sq_now_ms() < end)
        sq_sleep_ms(5);
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

void *sq_create(const rdv_plugin_config *cfg, char *errbuf,
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
