/*
 * sqlite_store.h - what the two files of the SQLite plugin share: the
 * handle, the helpers that build error details, and the lifecycle ops.
 * sqlite_store.c holds the store operations and the exported table;
 * sqlite_db.c opens, configures, cancels and closes the database.
 */
#ifndef RDV_EXAMPLE_SQLITE_STORE_H
#define RDV_EXAMPLE_SQLITE_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

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

/* Records the detail of a failure (errmsg() returns it); returns status. */
int sq_fail(sqlite_store *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps an SQLite result code to an rdv status and records the detail,
 * naming the op, the key and the database. */
int sq_db_fail(sqlite_store *s, int rc, const char *op, const char *key);
/* key made safe for a message: control bytes become \xNN. */
const char *sq_printable(const char *key, char *buf, size_t cap);
/* CLOCK_MONOTONIC in ms, and a sleep that EINTR does not shorten. */
int64_t sq_now_ms(void);
void sq_sleep_ms(int ms);

/* The lifecycle ops of the plugin table (rdv/plugin.h). */
void *sq_create(const rdv_plugin_config *cfg, char *errbuf, size_t errlen);
void sq_destroy(void *h);
void sq_cancel(void *h);
const char *sq_errmsg(void *h);

#endif
