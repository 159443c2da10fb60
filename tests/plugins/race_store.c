/*
 * race_store.c - race targets for `rdv hunt`: store plugins with an
 * ordering bug that shows only under one interleaving of the ranks'
 * store ops. Each plugin is this file built with one RACE_*
 * definition (tests/plugins/CMakeLists.txt); tests/harness/
 * test_harness_hunt.c hunts them. Never part of the library.
 *
 *   RACE_LOST_WAKEUP  get and wait check their keys, and only then
 *                     subscribe to each missing key's writes (read its
 *                     version); until a key's version moves, it is
 *                     taken as missing without a look. A set
 *                     that lands between the check and the subscription
 *                     is never seen (the key is written once): the
 *                     wait, and every get of that key, times out. The
 *                     correct order is subscribe, then check.
 *   RACE_TORN_SET     set writes a value in two chunks: the first half
 *                     at once (create-only checked there), the whole
 *                     value with the handle's next request (pipelined:
 *                     its reply is not waited for). A get between the
 *                     two reads half a value. Readers cannot tell.
 *   RACE_CREATE_READ  create-only set claims the key in a table of
 *                     creates in flight (an atomic check of the key and
 *                     the claims there), and commits the value with the
 *                     handle's next request. A read that finds more
 *                     than one claim in flight keeps only the newest:
 *                     it takes the older for leftovers of writers that
 *                     died between claim and commit (per namespace: the
 *                     key up to its last '/'). A commit whose
 *                     claim was taken is dropped without a word. So a
 *                     create is lost only when two creates are in
 *                     flight at once and a third process reads before
 *                     the older one commits (its own claim it commits
 *                     first): never with 2 ranks, and only under the
 *                     schedules that put the three there in that order.
 *
 * Choices, and why:
 * - The base is the correct SQLite example (examples/custom-store), as
 *   in broken_store.c: a failure can only come from the named bug.
 * - The bug's window spans two requests of one handle, the way a real
 *   client's does (a reply, then the next request). A sequenced run
 *   (--schedule) makes every store op of a rank one turn, and a
 *   blocking op one try per turn (timeout 0): so the window lies
 *   between two turns of that rank, where a schedule can put another
 *   rank's write. Unsequenced, the two requests follow each other
 *   within microseconds (no sleep between them, on purpose), so plain
 *   runs rarely land a write there: that contrast is what a hunt is
 *   for.
 */
#include <stdlib.h>
#include <string.h>

/* The correct store, with its table renamed so ours is the one rdv
 * finds. */
#define rdv_store_plugin_v1 rdv_sqlite_base
#include "sqlite_store.c"
#undef rdv_store_plugin_v1

/* RACE_LOST_WAKEUP: a key found missing, and the subscription to it. */
typedef struct watch {
    char *key;
    int armed;       /* 0: to subscribe with the next request */
    int64_t version; /* the key's version when subscribed */
} watch;

typedef struct race {
    sqlite_store *s;
    sqlite3_stmt *st_version;
    watch *watches; /* RACE_LOST_WAKEUP */
    size_t nwatches;
    char *torn_key; /* RACE_TORN_SET: the write still in the pipeline */
    void *torn_val;
    size_t torn_len;
    int64_t claim;  /* RACE_CREATE_READ: our claim to commit, 0 = none */
} race;

#define BASE(h) (((race *)(h))->s)

/* Per-key write counts for RACE_LOST_WAKEUP's subscriptions, kept by
 * triggers in the writes' own transactions; outside kv, so no store op
 * sees them. */
static const char version_schema[] =
    "CREATE TABLE IF NOT EXISTS ver(k BLOB PRIMARY KEY, n INTEGER);"
    "CREATE TRIGGER IF NOT EXISTS ver_ins AFTER INSERT ON kv BEGIN "
    " INSERT INTO ver VALUES(NEW.k, 1) ON CONFLICT(k) DO UPDATE SET n = n + 1;"
    " END;"
    "CREATE TRIGGER IF NOT EXISTS ver_upd AFTER UPDATE ON kv BEGIN "
    " INSERT INTO ver VALUES(NEW.k, 1) ON CONFLICT(k) DO UPDATE SET n = n + 1;"
    " END;"
    "CREATE TRIGGER IF NOT EXISTS ver_del AFTER DELETE ON kv BEGIN "
    " INSERT INTO ver VALUES(OLD.k, 1) ON CONFLICT(k) DO UPDATE SET n = n + 1;"
    " END;";

/* RACE_CREATE_READ's creates in flight, also outside kv. */
static const char claim_schema[] =
    "CREATE TABLE IF NOT EXISTS claim(seq INTEGER PRIMARY KEY "
    "AUTOINCREMENT, k BLOB NOT NULL, v BLOB NOT NULL);";

static int version_open(race *r, char *errbuf, size_t errlen)
{
    char *msg = NULL;

    if (sqlite3_exec(r->s->db, claim_schema, NULL, NULL, &msg) !=
            SQLITE_OK ||
        sqlite3_exec(r->s->db, version_schema, NULL, NULL, &msg) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(r->s->db, "SELECT n FROM ver WHERE k = ?1", -1,
                           &r->st_version, NULL) != SQLITE_OK) {
        snprintf(errbuf, errlen, "key versions: %s",
                 msg ? msg : sqlite3_errmsg(r->s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static void *race_create(const rdv_plugin_config *cfg, char *errbuf,
                         size_t errlen)
{
    race *r = calloc(1, sizeof *r);

    if (!r) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    r->s = sq_create(cfg, errbuf, errlen);
    if (r->s && version_open(r, errbuf, errlen)) {
        sq_destroy(r->s);
        r->s = NULL;
    }
    if (!r->s) {
        free(r);
        return NULL;
    }
    return r;
}

/* Sends the second chunk a set left in the pipeline, if any. */
static int torn_flush(race *r)
{
    int rc;

    if (!r->torn_key)
        return RDV_OK;
    rc = sq_set(r->s, r->torn_key, r->torn_val, r->torn_len, 0);
    free(r->torn_key);
    free(r->torn_val);
    r->torn_key = NULL;
    r->torn_val = NULL;
    return rc;
}

/* Runs one statement with ?1 the key or a claim's seq (seq >= 0 when
 * key is NULL) and ?2 a value; the SQLite result, *row set when it
 * gave a row. Under s->lock. */
static int claim_sql(race *r, const char *sql, const char *key, int64_t seq,
                     const void *val, size_t len, int *row)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(r->s->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return rc;
    if (key)
        bind_key(st, 1, key);
    else if (seq >= 0)
        sqlite3_bind_int64(st, 1, seq);
    if (val)
        sqlite3_bind_blob(st, 2, val, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (row)
        *row = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

/* Commits our claim, if any: its value into kv, unless a reader took
 * the claim away. */
static int claim_commit(race *r)
{
    int64_t seq = r->claim;
    int rc;

    if (!seq)
        return RDV_OK;
    r->claim = 0;
    pthread_mutex_lock(&r->s->lock);
    rc = begin(r->s, "commit", "(claim)");
    if (rc == RDV_OK &&
        ((rc = claim_sql(r, "INSERT INTO kv(k, v) SELECT k, v FROM claim "
                         "WHERE seq = ?1", NULL, seq, NULL, 0, NULL)) !=
             SQLITE_DONE ||
         (rc = claim_sql(r, "DELETE FROM claim WHERE seq = ?1", NULL, seq,
                         NULL, 0, NULL)) != SQLITE_DONE))
        rc = sq_db_fail(r->s, rc, "commit", "(claim)");
    else if (rc == SQLITE_DONE)
        rc = RDV_OK;
    rc = finish(r->s, rc, "commit", "(claim)");
    pthread_mutex_unlock(&r->s->lock);
    return rc;
}

/* What the pipeline holds goes out before any other request. */
static int race_flush(race *r)
{
    int rc = torn_flush(r);

    return rc ? rc : claim_commit(r);
}

static void race_destroy(void *h)
{
    race *r = h;

    race_flush(r);
    for (size_t i = 0; i < r->nwatches; i++)
        free(r->watches[i].key);
    free(r->watches);
    sqlite3_finalize(r->st_version);
    sq_destroy(r->s);
    free(r);
}

static const char *race_errmsg(void *h) { return sq_errmsg(BASE(h)); }
static void race_cancel(void *h) { sq_cancel(BASE(h)); }

/* Every request first sends what the pipeline holds. */
#define FLUSHED(h, call)                                                   \
    do {                                                                   \
        int flushed_ = race_flush(h);                                      \
        return flushed_ ? flushed_ : (call);                               \
    } while (0)

#if defined(RACE_TORN_SET)
#define RACE_NAME "race-torn-set"
static int race_set(void *h, const char *key, const void *val, size_t len,
                    int flags)
{
    race *r = h;
    int rc = torn_flush(r);

    if (rc || len < 2)
        return rc ? rc : sq_set(r->s, key, val, len, flags);
    rc = sq_set(r->s, key, val, len / 2, flags);
    if (rc)
        return rc;
    /* the bug: the rest goes out with the next request */
    r->torn_key = strdup(key);
    r->torn_val = malloc(len);
    if (!r->torn_key || !r->torn_val) {
        free(r->torn_key);
        r->torn_key = NULL;
        return sq_fail(r->s, RDV_ENOMEM, "set: out of memory");
    }
    memcpy(r->torn_val, val, len);
    r->torn_len = len;
    return RDV_OK;
}
#elif defined(RACE_CREATE_READ)
#define RACE_NAME "race-create-read"
/* Claims key for a create-only set: fails with RDV_EEXIST when kv holds
 * it or another create of it is in flight; the value goes into kv with
 * our next request (claim_commit). */
static int claim_key(race *r, const char *key, const void *val, size_t len)
{
    sqlite_store *s = r->s;
    int rc, row = 0, found;
    char k[128];

    pthread_mutex_lock(&s->lock);
    rc = begin(s, "set", key);
    if (rc == RDV_OK && (found = lookup(s, key, NULL, NULL)) != 0)
        rc = found < 0 ? found : RDV_EEXIST;
    if (rc == RDV_OK &&
        (rc = claim_sql(r, "SELECT 1 FROM claim WHERE k = ?1", key, -1,
                        NULL, 0, &row)) == SQLITE_DONE)
        rc = row ? RDV_EEXIST : RDV_OK;
    else if (rc > 0)
        rc = sq_db_fail(s, rc, "set", key);
    if (rc == RDV_OK &&
        (rc = claim_sql(r, "INSERT INTO claim(k, v) VALUES(?1, ?2)", key,
                        -1, val, len, NULL)) != SQLITE_DONE)
        rc = sq_db_fail(s, rc, "set", key);
    else if (rc == SQLITE_DONE)
        rc = RDV_OK;
    if (rc == RDV_OK)
        r->claim = sqlite3_last_insert_rowid(s->db);
    rc = finish(s, rc, "set", key);
    pthread_mutex_unlock(&s->lock);
    if (rc == RDV_EEXIST)
        return sq_fail(s, RDV_EEXIST, "set '%s': key exists (create-only)",
                       sq_printable(key, k, sizeof k));
    return rc;
}

static int race_set(void *h, const char *key, const void *val, size_t len,
                    int flags)
{
    int rc = race_flush(h);

    if (rc)
        return rc;
    if (flags & RDV_PLUGIN_SET_CREATE_ONLY)
        return claim_key(h, key, val, len);
    return sq_set(BASE(h), key, val, len, flags);
}

/* The bug, before every read of key: more than one create in flight in
 * its namespace (the key up to its last '/', e.g. a job's records)
 * "cannot" be (a reader assumes creates there are one at a time), so all
 * but the newest are taken for leftovers of dead writers. The namespace
 * also keeps concurrent runs (rdv hunt --jobs) on one database apart. */
static void claims_sweep(race *r, const char *key)
{
    const char *slash = strrchr(key, '/');
    int len = slash ? (int)(slash - key + 1) : 0;
    sqlite3_stmt *st;

    pthread_mutex_lock(&r->s->lock);
    if (sqlite3_prepare_v2(r->s->db, "DELETE FROM claim WHERE substr(k, 1, "
                           "?2) = ?1 AND seq < (SELECT MAX(seq) FROM claim "
                           "WHERE substr(k, 1, ?2) = ?1)", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_blob(st, 1, key, len, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, len);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&r->s->lock);
}
#else
static int race_set(void *h, const char *key, const void *val, size_t len,
                    int flags)
{
    FLUSHED(h, sq_set(BASE(h), key, val, len, flags));
}
#endif

static int race_compare_set(void *h, const char *key, const void *expected,
                            size_t expected_len, const void *desired,
                            size_t desired_len, int *won, void **cur,
                            size_t *cur_len)
{
    FLUSHED(h, sq_compare_set(BASE(h), key, expected, expected_len, desired,
                          desired_len, won, cur, cur_len));
}

static int race_del(void *h, const char *key)
{
    FLUSHED(h, sq_del(BASE(h), key));
}

static int race_list(void *h, const char *prefix, char ***keys, size_t *n)
{
    FLUSHED(h, sq_list(BASE(h), prefix, keys, n));
}

static int race_num_keys(void *h, int64_t *n)
{
    FLUSHED(h, sq_num_keys(BASE(h), n));
}

static int race_add(void *h, const char *key, int64_t delta,
                    int64_t *result)
{
    FLUSHED(h, sq_add(BASE(h), key, delta, result));
}

#if defined(RACE_LOST_WAKEUP)
#define RACE_NAME "race-lost-wakeup"
/* A key's version: how many writes it has seen (the triggers of
 * race_create count them in table ver, beside kv); 0 when never. */
static int64_t key_version(race *r, const char *key)
{
    int64_t v = 0;

    pthread_mutex_lock(&r->s->lock);
    bind_key(r->st_version, 1, key);
    if (sqlite3_step(r->st_version) == SQLITE_ROW)
        v = sqlite3_column_int64(r->st_version, 0);
    sqlite3_reset(r->st_version);
    sqlite3_clear_bindings(r->st_version);
    pthread_mutex_unlock(&r->s->lock);
    return v;
}

static watch *watch_find(race *r, const char *key)
{
    for (size_t i = 0; i < r->nwatches; i++)
        if (strcmp(r->watches[i].key, key) == 0)
            return &r->watches[i];
    return NULL;
}

/* A key missing at a check, to subscribe to with the next request. */
static int watch_add(race *r, const char *key)
{
    watch *grown = realloc(r->watches, (r->nwatches + 1) * sizeof *grown);

    if (!grown)
        return sq_fail(r->s, RDV_ENOMEM, "wait: out of memory");
    r->watches = grown;
    if (!(grown[r->nwatches].key = strdup(key)))
        return sq_fail(r->s, RDV_ENOMEM, "wait: out of memory");
    grown[r->nwatches].armed = 0;
    grown[r->nwatches++].version = 0;
    return RDV_OK;
}

/* Whether key is there: 1 yes, 0 no, <0 an error. *pending is set when
 * a subscription still has to go out. */
static int key_present(race *r, const char *key, int *pending)
{
    watch *w = watch_find(r, key);
    int rc;

    if (w && !w->armed) {
        /* the bug: subscribes after the check that missed, and trusts
         * that check; a set in between is never seen */
        w->version = key_version(r, key);
        w->armed = 1;
        return 0;
    }
    if (w && key_version(r, key) == w->version)
        return 0; /* not written since we subscribed: still missing */
    pthread_mutex_lock(&r->s->lock);
    rc = lookup(r->s, key, NULL, NULL);
    pthread_mutex_unlock(&r->s->lock);
    if (rc == 0 && !w) {
        *pending = 1;
        return watch_add(r, key);
    }
    if (rc == 0) /* written but gone again: subscribe anew */
        w->armed = 0, *pending = 1;
    return rc;
}

/* One step of a wait for keys: 1 all there, 0 not yet, <0 an error. */
static int wait_step(race *r, const char *const *keys, size_t n,
                     int *pending)
{
    int all = 1;

    for (size_t i = 0; i < n; i++) {
        int rc = key_present(r, keys[i], pending);

        if (rc < 0)
            return rc;
        all &= rc;
    }
    return all;
}

static int wait_keys(race *r, const char *const *keys, size_t n,
                     int timeout_ms)
{
    int64_t start = sq_now_ms();
    int64_t end = timeout_ms < 0 ? INT64_MAX : start + timeout_ms;
    int step = 1, pending, rc = race_flush(r);
    char k[128];

    if (rc)
        return rc;
    for (;;) {
        int64_t left;

        if (atomic_load(&r->s->canceled))
            return sq_fail(r->s, RDV_ECANCELED, "wait canceled");
        pending = 0;
        rc = wait_step(r, keys, n, &pending);
        if (rc)
            return rc > 0 ? RDV_OK : rc;
        left = end - sq_now_ms();
        if (timeout_ms == 0 || left <= 0)
            return sq_fail(r->s, RDV_ETIMEDOUT, "'%s'%s missing after %"
                           PRId64 " ms (%s)",
                           sq_printable(keys[0], k, sizeof k),
                           n > 1 ? " or another key" : "",
                           sq_now_ms() - start,
                           pending ? "missing at the check"
                                   : "not written since subscribing");
        if (pending)
            continue; /* subscribe at once: the window stays narrow */
        sq_sleep_ms((int)(left < step ? left : step));
        step = step * 2 > r->s->poll_ms ? r->s->poll_ms : step * 2;
    }
}

static int race_wait(void *h, const char *const *keys, size_t n,
                     int timeout_ms)
{
    return wait_keys(h, keys, n, timeout_ms);
}

static int race_get(void *h, const char *key, void **val, size_t *len,
                    int timeout_ms)
{
    int rc = wait_keys(h, &key, 1, timeout_ms);

    return rc ? rc : sq_get(BASE(h), key, val, len, 0);
}
#else
#if defined(RACE_CREATE_READ)
#define READ_SWEEP(h, key) claims_sweep(h, key)
#else
#define READ_SWEEP(h, key) ((void)0)
#endif
static int race_wait(void *h, const char *const *keys, size_t n,
                     int timeout_ms)
{
    int rc = race_flush(h);

    if (n)
        READ_SWEEP(h, keys[0]);
    return rc ? rc : sq_wait(BASE(h), keys, n, timeout_ms);
}

static int race_get(void *h, const char *key, void **val, size_t *len,
                    int timeout_ms)
{
    int rc = race_flush(h);

    READ_SWEEP(h, key);
    return rc ? rc : sq_get(BASE(h), key, val, len, timeout_ms);
}
#endif

RDV_PLUGIN_EXPORT const rdv_store_plugin rdv_store_plugin_v1 = {
    .abi_version = RDV_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(rdv_store_plugin),
    .name = RACE_NAME,
    .create = race_create,
    .destroy = race_destroy,
    .errmsg = race_errmsg,
    .set = race_set,
    .get = race_get,
    .wait = race_wait,
    .add = race_add,
    .compare_set = race_compare_set,
    .del = race_del,
    .list = race_list,
    .num_keys = race_num_keys,
    .cancel = race_cancel,
};
