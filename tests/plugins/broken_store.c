/*
 * broken_store.c - deliberately broken store plugins, to prove that
 * `rdv conform` and `rdv run` catch real bugs. Each plugin is this one
 * file built with one BROKEN_* definition (tests/plugins/CMakeLists.txt).
 *
 * The base is the correct SQLite example (examples/custom-store), which
 * passes every clause: its sqlite_store.c is compiled into this file
 * with its table renamed (sqlite_db.c is linked as is), and each variant
 * swaps ONE behaviour for a plausible bug. So a failed
 * clause can only come from that bug, never from a second, sloppier
 * store.
 *
 *   BROKEN_ADD_NONATOMIC   add is get-then-set: concurrent adds are lost
 *   BROKEN_CREATE_RACE     create-only set is check-then-set: two
 *                          writers can both "create" the key
 *   BROKEN_GET_TIMEOUT     get with a timeout > 0 waits for the key up
 *                          to BROKEN_HANG_MS whatever the timeout
 *   BROKEN_WAIT_EARLY      wait returns RDV_OK once ANY key exists
 *   BROKEN_WAIT_TIMEOUT_OK wait returns RDV_OK when its time is up, keys
 *                          or not (not RDV_ETIMEDOUT)
 *   BROKEN_GET_TRUNCATES   get returns at most the first 64 KiB of a
 *                          value, as a fixed reply buffer would
 *   BROKEN_STALE_READS     a get is cached per handle for
 *                          BROKEN_STALE_MS: another process's overwrite
 *                          stays invisible that long
 *   BROKEN_LEAKS_KEYS      every handle writes a session key
 *                          (".session/<pid>.<n>") and never removes it
 *   BROKEN_CRASH_SLASH     set and get segfault on a key holding '/'
 *   BROKEN_LOSES_WRITES    set silently drops the write (returns RDV_OK)
 *                          for about one key in BROKEN_LOSE_ONE_IN
 *   BROKEN_KEY_MERGE       keys are URL-decoded ("%2F" -> '/', as an HTTP
 *                          gateway does): "a%2Fb" and "a/b" are one entry
 *   BROKEN_TRY_GET_BLOCKS  get with timeout 0 (try_get) waits until the
 *                          key appears
 *   BROKEN_CLOSE_NO_WAKE   cancel does nothing: close never wakes a get
 *                          blocked with no timeout
 *   BROKEN_CREATE_WINDOW   create-only set checks, then writes 1 ms later:
 *                          a second process firing within that 1 ms wins
 *                          too
 *   BROKEN_ADD_LATE_LOSS   past a process's 80th add, one add in 50
 *                          (#130, #180, ...) is acknowledged, with the
 *                          value it would give, but never written
 *   BROKEN_HANGS           every blocking op ignores its timeout (get and
 *                          wait wait for their keys however long, try_get
 *                          included) and close wakes nothing: the worst
 *                          case of conform's call watch and budgets
 *   BROKEN_SET_HANGS       set blocks (sleeps BROKEN_HANG_MS x 12, then
 *                          writes): conform's bound on calls without a
 *                          timeout
 *   BROKEN_CHECK_CACHED    check (wait, timeout 0) on one key answers
 *                          "missing" from a per-process cache of misses
 *                          for BROKEN_STALE_MS after it last saw the key
 *                          missing, with a detail saying so
 *   BROKEN_ABI_VERSION     a table claiming ABI version 99 (loader test)
 *   BROKEN_NO_SYMBOL       exports rdv_store_plugin_v2 only (loader test)
 *   BROKEN_NULL_OP         the required wait op is NULL (loader test)
 *   BROKEN_BAD_STATUS      delete returns 42, not an rdv_status (adapter
 *                          test)
 *
 * Keys the broken ops touch go through the base's own ops, so only the
 * named behaviour differs. Windows that make a race likely (a short
 * sleep between read and write) are part of the bug on purpose: a test
 * must catch the bug every run, not once in a while.
 */
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

/* The correct store, with its table renamed so ours is the one rdv
 * finds. */
#define rdv_store_plugin_v1 rdv_sqlite_base
#include "sqlite_store.c"
#undef rdv_store_plugin_v1

#ifndef BROKEN_HANG_MS
#define BROKEN_HANG_MS 10000
#endif
#ifndef BROKEN_STALE_MS
#define BROKEN_STALE_MS 2000
#endif
#ifndef BROKEN_LOSE_ONE_IN
#define BROKEN_LOSE_ONE_IN 3
#endif

/* Default: every op is the base's; a variant redefines the ones it
 * breaks. */
#define OP_CREATE sq_create
#define OP_SET sq_set
#define OP_GET sq_get
#define OP_WAIT sq_wait
#define OP_ADD sq_add
#define OP_COMPARE_SET sq_compare_set
#define OP_DEL sq_del
#define OP_LIST sq_list
#define OP_CANCEL sq_cancel
#define OP_ABI RDV_PLUGIN_ABI_VERSION

static __attribute__((unused)) void race_window(void)
{
    usleep(2000); /* widens the read-to-write gap so racers meet in it */
}

/* A create-only set done as a check, then gap_us, then a plain write:
 * the non-atomic create two plugins share, with windows of their own. */
static __attribute__((unused)) int set_check_then_write(
    void *h, const char *key, const void *val, size_t len, int flags,
    useconds_t gap_us)
{
    void *old = NULL;
    size_t old_len;

    if (!(flags & RDV_PLUGIN_SET_CREATE_ONLY))
        return sq_set(h, key, val, len, flags);
    if (sq_get(h, key, &old, &old_len, 0) == RDV_OK) {
        free(old);
        return sq_fail(h, RDV_EEXIST, "set: key exists (create-only)");
    }
    usleep(gap_us);
    return sq_set(h, key, val, len, 0);
}

static __attribute__((unused)) uint64_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

#if defined(BROKEN_ADD_NONATOMIC)
#define BROKEN_NAME "add-nonatomic"
static int broken_add(void *h, const char *key, int64_t delta,
                      int64_t *result)
{
    void *old = NULL;
    size_t len = 0;
    int64_t v = 0;
    char buf[32];
    int rc = sq_get(h, key, &old, &len, 0);

    if (rc == RDV_OK && parse_counter(old, len, &v))
        rc = sq_fail(h, RDV_EPROTO, "add: not a number");
    else if (rc == RDV_ETIMEDOUT)
        rc = RDV_OK;
    free(old);
    if (rc != RDV_OK)
        return rc;
    race_window();
    v += delta;
    rc = sq_set(h, key, buf, (size_t)snprintf(buf, sizeof buf, "%" PRId64,
                                              v), 0);
    if (rc == RDV_OK)
        *result = v;
    return rc;
}
#undef OP_ADD
#define OP_ADD broken_add

#elif defined(BROKEN_CREATE_RACE)
#define BROKEN_NAME "create-race"
static int broken_set(void *h, const char *key, const void *val, size_t len,
                      int flags)
{
    /* the bug: 2 ms from the check to the write */
    return set_check_then_write(h, key, val, len, flags, 2000);
}
#undef OP_SET
#define OP_SET broken_set

#elif defined(BROKEN_GET_TIMEOUT)
#define BROKEN_NAME "get-ignores-timeout"
static int broken_get(void *h, const char *key, void **val, size_t *len,
                      int timeout_ms)
{
    return sq_get(h, key, val, len, timeout_ms > 0 ? BROKEN_HANG_MS
                                                   : timeout_ms);
}
#undef OP_GET
#define OP_GET broken_get

#elif defined(BROKEN_WAIT_EARLY)
#define BROKEN_NAME "wait-early"
static int broken_wait(void *h, const char *const *keys, size_t n,
                       int timeout_ms)
{
    int64_t end = sq_now_ms() + (timeout_ms < 0 ? INT32_MAX : timeout_ms);
    sqlite_store *s = h;

    do {
        for (size_t i = 0; i < n; i++)
            if (sq_wait(h, &keys[i], 1, 0) == RDV_OK)
                return RDV_OK; /* the bug: one key is not all of them */
        sq_sleep_ms(5);
    } while (sq_now_ms() < end && !atomic_load(&s->canceled));
    return sq_wait(h, keys, n, 0);
}
#undef OP_WAIT
#define OP_WAIT broken_wait

#elif defined(BROKEN_WAIT_TIMEOUT_OK)
#define BROKEN_NAME "wait-timeout-ok"
static int broken_wait(void *h, const char *const *keys, size_t n,
                       int timeout_ms)
{
    int rc = sq_wait(h, keys, n, timeout_ms);

    return rc == RDV_ETIMEDOUT ? RDV_OK : rc; /* the bug */
}
#undef OP_WAIT
#define OP_WAIT broken_wait

#elif defined(BROKEN_GET_TRUNCATES)
#define BROKEN_NAME "get-truncates"
static int broken_get(void *h, const char *key, void **val, size_t *len,
                      int timeout_ms)
{
    int rc = sq_get(h, key, val, len, timeout_ms);

    if (rc == RDV_OK && *len > 65536)
        *len = 65536; /* the bug: what did not fit the reply is gone */
    return rc;
}
#undef OP_GET
#define OP_GET broken_get

#elif defined(BROKEN_STALE_READS)
#define BROKEN_NAME "stale-reads"
#define STR2(x) #x
#define STR(x) STR2(x)
/* The cache is a TEMP table: it belongs to the handle's connection, so
 * each process (each handle) has its own, like a client-side cache. */
static void *broken_create(const rdv_plugin_config *cfg, char *errbuf,
                           size_t errlen)
{
    sqlite_store *s = sq_create(cfg, errbuf, errlen);

    if (s && sqlite3_exec(s->db, "CREATE TEMP TABLE seen(k BLOB PRIMARY "
                          "KEY, v BLOB, t INTEGER)", NULL, NULL, NULL)) {
        snprintf(errbuf, errlen, "stale-reads: %s", sqlite3_errmsg(s->db));
        sq_destroy(s);
        s = NULL;
    }
    return s;
}

/* Runs sql on key (?1), an optional value (?2) and the time now in ms
 * (?3) under the handle's lock. With val/len given, copies the row it
 * selects into them: returns 1 on such a hit. */
static int cache_sql(sqlite_store *s, const char *sql, const char *key,
                     const void *in, size_t in_len, void **val, size_t *len)
{
    sqlite3_stmt *st = NULL;
    int hit = 0;

    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        bind_key(st, 1, key);
        if (in)
            sqlite3_bind_blob(st, 2, in, (int)in_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, sq_now_ms());
        if (sqlite3_step(st) == SQLITE_ROW && val)
            hit = copy_value(s, st, val, len) == RDV_OK;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return hit;
}

static int broken_get(void *h, const char *key, void **val, size_t *len,
                      int timeout_ms)
{
    int rc;

    if (cache_sql(h, "SELECT v FROM temp.seen WHERE k = ?1 AND "
                  "t > ?3 - " STR(BROKEN_STALE_MS),
                  key, NULL, 0, val, len))
        return RDV_OK; /* the bug: maybe overwritten since */
    rc = sq_get(h, key, val, len, timeout_ms);
    if (rc == RDV_OK)
        cache_sql(h, "INSERT OR REPLACE INTO temp.seen VALUES(?1, ?2, ?3)",
                  key, *val, *len, NULL, NULL);
    return rc;
}

/* This handle's own writes drop its cache entry: a process sees its own
 * writes, only other processes' overwrites are stale. */
static void forget(void *h, const char *key)
{
    cache_sql(h, "DELETE FROM temp.seen WHERE k = ?1", key, NULL, 0, NULL,
              NULL);
}

static int broken_set(void *h, const char *key, const void *val, size_t len,
                      int flags)
{
    forget(h, key);
    return sq_set(h, key, val, len, flags);
}

static int broken_add(void *h, const char *key, int64_t delta,
                      int64_t *result)
{
    forget(h, key);
    return sq_add(h, key, delta, result);
}

static int broken_compare_set(void *h, const char *key, const void *expected,
                              size_t expected_len, const void *desired,
                              size_t desired_len, int *won, void **cur,
                              size_t *cur_len)
{
    forget(h, key);
    return sq_compare_set(h, key, expected, expected_len, desired,
                          desired_len, won, cur, cur_len);
}

static int broken_del(void *h, const char *key)
{
    forget(h, key);
    return sq_del(h, key);
}
#undef OP_CREATE
#define OP_CREATE broken_create
#undef OP_GET
#define OP_GET broken_get
#undef OP_SET
#define OP_SET broken_set
#undef OP_ADD
#define OP_ADD broken_add
#undef OP_COMPARE_SET
#define OP_COMPARE_SET broken_compare_set
#undef OP_DEL
#define OP_DEL broken_del

#elif defined(BROKEN_LEAKS_KEYS)
#define BROKEN_NAME "leaks-keys"
/* Like a lease or session record that a client forgets to revoke. */
static void *broken_create(const rdv_plugin_config *cfg, char *errbuf,
                           size_t errlen)
{
    sqlite_store *s = sq_create(cfg, errbuf, errlen);
    char key[64];

    if (s) {
        snprintf(key, sizeof key, ".session/%d.%p", (int)getpid(),
                 (void *)s);
        sq_set(s, key, "open", 4, 0);
    }
    return s;
}
#undef OP_CREATE
#define OP_CREATE broken_create

#elif defined(BROKEN_CRASH_SLASH)
#define BROKEN_NAME "crash-slash"
/* A NULL dereference, made deterministic: with the sanitizers' SIGSEGV
 * handler in place a real one would become exit(1), so restore the
 * default action and raise the signal the bug would. */
static void crash_on_slash(const char *key)
{
    if (strchr(key, '/')) {
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
}

static int broken_set(void *h, const char *key, const void *val, size_t len,
                      int flags)
{
    crash_on_slash(key);
    return sq_set(h, key, val, len, flags);
}

static int broken_get(void *h, const char *key, void **val, size_t *len,
                      int timeout_ms)
{
    crash_on_slash(key);
    return sq_get(h, key, val, len, timeout_ms);
}
#undef OP_SET
#define OP_SET broken_set
#undef OP_GET
#define OP_GET broken_get

#elif defined(BROKEN_LOSES_WRITES)
#define BROKEN_NAME "loses-writes"
/* Which keys are lost depends on the key only, so every process and
 * every run agree: a lost rendezvous record stays lost. */
static int broken_set(void *h, const char *key, const void *val, size_t len,
                      int flags)
{
    if (key_hash(key) % BROKEN_LOSE_ONE_IN == 0)
        return RDV_OK; /* the bug: acknowledged, never written */
    return sq_set(h, key, val, len, flags);
}
#undef OP_SET
#define OP_SET broken_set

#elif defined(BROKEN_KEY_MERGE)
#define BROKEN_NAME "key-merge"
/* Decodes "%2F" and "%2f" into '/' in a malloc'd copy of key. */
static char *merged(const char *key)
{
    char *k = strdup(key), *o = k;

    for (const char *p = key; k && *p; p++) {
        if (p[0] == '%' && p[1] == '2' && (p[2] == 'F' || p[2] == 'f')) {
            *o++ = '/';
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    if (k)
        *o = '\0';
    return k;
}

#define MERGED(key, call)                                                   \
    do {                                                                    \
        char *key_ = merged(key);                                           \
        int rc_ = key_ ? (call) : RDV_ENOMEM;                               \
        free(key_);                                                         \
        return rc_;                                                         \
    } while (0)

static int broken_set(void *h, const char *key, const void *val, size_t len,
                      int flags)
{
    MERGED(key, sq_set(h, key_, val, len, flags));
}

static int broken_get(void *h, const char *key, void **val, size_t *len,
                      int timeout_ms)
{
    MERGED(key, sq_get(h, key_, val, len, timeout_ms));
}

static int broken_wait(void *h, const char *const *keys, size_t n,
                       int timeout_ms)
{
    char **k = calloc(n ? n : 1, sizeof *k);
    int rc = k ? RDV_OK : RDV_ENOMEM;

    for (size_t i = 0; i < n && rc == RDV_OK; i++)
        if (!(k[i] = merged(keys[i])))
            rc = RDV_ENOMEM;
    if (rc == RDV_OK)
        rc = sq_wait(h, (const char *const *)k, n, timeout_ms);
    for (size_t i = 0; k && i < n; i++)
        free(k[i]);
    free(k);
    return rc;
}

static int broken_add(void *h, const char *key, int64_t delta,
                      int64_t *result)
{
    MERGED(key, sq_add(h, key_, delta, result));
}

static int broken_compare_set(void *h, const char *key, const void *expected,
                              size_t expected_len, const void *desired,
                              size_t desired_len, int *won, void **cur,
                              size_t *cur_len)
{
    MERGED(key, sq_compare_set(h, key_, expected, expected_len, desired,
                               desired_len, won, cur, cur_len));
}

static int broken_del(void *h, const char *key)
{
    MERGED(key, sq_del(h, key_));
}

static int broken_list(void *h, const char *prefix, char ***keys, size_t *n)
{
    MERGED(prefix, sq_list(h, key_, keys, n));
}
#undef OP_SET
#define OP_SET broken_set
#undef OP_GET
#define OP_GET broken_get
#undef OP_WAIT
#define OP_WAIT broken_wait
#undef OP_ADD
#define OP_ADD broken_add
#undef OP_COMPARE_SET
#define OP_COMPARE_SET broken_compare_set
#undef OP_DEL
#define OP_DEL broken_del
#undef OP_LIST
#define OP_LIST broken_list

#elif defined(BROKEN_TRY_GET_BLOCKS)
#define BROKEN_NAME "try-get-blocks"
static int broken_get(void *h, const char *key, void **val, size_t *len,
                      int timeout_ms)
{
    /* the bug: "try once" read as "wait for it" */
    return sq_get(h, key, val, len, timeout_ms == 0 ? -1 : timeout_ms);
}
#undef OP_GET
#define OP_GET broken_get

#elif defined(BROKEN_CLOSE_NO_WAKE)
#define BROKEN_NAME "close-no-wake"
static void broken_cancel(void *h)
{
    (void)h; /* the bug: a blocked get polls on, close waits for it */
}
#undef OP_CANCEL
#define OP_CANCEL broken_cancel

#elif defined(BROKEN_CREATE_WINDOW)
#define BROKEN_NAME "create-window"
static int broken_set(void *h, const char *key, const void *val, size_t len,
                      int flags)
{
    /* the bug: 1 ms from the check to the write */
    return set_check_then_write(h, key, val, len, flags, 1000);
}
#undef OP_SET
#define OP_SET broken_set

#elif defined(BROKEN_HANGS)
#define BROKEN_NAME "hangs"
static int broken_get(void *h, const char *key, void **val, size_t *len,
                      int timeout_ms)
{
    (void)timeout_ms; /* the bug: no timeout is ever honoured */
    return sq_get(h, key, val, len, -1);
}
static int broken_wait(void *h, const char *const *keys, size_t n,
                       int timeout_ms)
{
    (void)timeout_ms;
    return sq_wait(h, keys, n, -1);
}
static void broken_cancel(void *h)
{
    (void)h; /* and close wakes nothing */
}
#undef OP_GET
#define OP_GET broken_get
#undef OP_WAIT
#define OP_WAIT broken_wait
#undef OP_CANCEL
#define OP_CANCEL broken_cancel

#elif defined(BROKEN_SET_HANGS)
#define BROKEN_NAME "set-hangs"
static int broken_set(void *h, const char *key, const void *val, size_t len,
                      int flags)
{
    /* the bug: a set waits for a lock nobody releases (BROKEN_HANG_MS
     * x 12, then writes: long past any bound, yet not forever) */
    for (int i = 0; i < BROKEN_HANG_MS / 100 * 12; i++)
        usleep(100000);
    return sq_set(h, key, val, len, flags);
}
#undef OP_SET
#define OP_SET broken_set

#elif defined(BROKEN_CHECK_CACHED)
#define BROKEN_NAME "check-cached"
/* Keys a check found missing, and when: per process, as a client's
 * cache would be. */
static struct {
    char key[64];
    int64_t at_ms;
} misses[16];

static int broken_wait(void *h, const char *const *keys, size_t n,
                       int timeout_ms)
{
    int rc;

    if (timeout_ms != 0 || n != 1 || strlen(keys[0]) >= sizeof misses[0].key)
        return sq_wait(h, keys, n, timeout_ms);
    /* the bug: a check answers "missing" from a cache of misses for
     * BROKEN_STALE_MS, though the key was set since */
    for (size_t i = 0; i < sizeof misses / sizeof *misses; i++)
        if (strcmp(misses[i].key, keys[0]) == 0 &&
            sq_now_ms() - misses[i].at_ms < BROKEN_STALE_MS)
            return sq_fail(h, RDV_ETIMEDOUT, "check '%s': missing "
                           "(remembered from %" PRId64 " ms ago)", keys[0],
                           sq_now_ms() - misses[i].at_ms);
    rc = sq_wait(h, keys, n, 0);
    if (rc == RDV_ETIMEDOUT) {
        size_t i = (size_t)(key_hash(keys[0]) % (sizeof misses /
                                                 sizeof *misses));

        snprintf(misses[i].key, sizeof misses[i].key, "%s", keys[0]);
        misses[i].at_ms = sq_now_ms();
    }
    return rc;
}
#undef OP_WAIT
#define OP_WAIT broken_wait

#elif defined(BROKEN_ADD_LATE_LOSS)
#define BROKEN_NAME "add-late-loss"
/* Counted per process: each process's handle has its own count, as a
 * client's batching would. */
static int adds_made;

static int broken_add(void *h, const char *key, int64_t delta,
                      int64_t *result)
{
    int n = __atomic_add_fetch(&adds_made, 1, __ATOMIC_SEQ_CST);
    void *cur = NULL;
    size_t len = 0;
    int64_t v = 0;
    int rc;

    if (n <= 80 || (n - 80) % 50 != 0) /* adds #130, #180, ... */
        return sq_add(h, key, delta, result);
    /* the bug: acknowledged with the value it would give, never written */
    rc = sq_get(h, key, &cur, &len, 0);
    if (rc == RDV_OK && parse_counter(cur, len, &v))
        rc = sq_fail(h, RDV_EPROTO, "add: not a number");
    free(cur);
    if (rc == RDV_ETIMEDOUT)
        rc = RDV_OK;
    if (rc == RDV_OK)
        *result = v + delta;
    return rc;
}
#undef OP_ADD
#define OP_ADD broken_add

#elif defined(BROKEN_ABI_VERSION)
#define BROKEN_NAME "abi-99"
#undef OP_ABI
#define OP_ABI 99u

#elif defined(BROKEN_NULL_OP)
#define BROKEN_NAME "null-op"
#undef OP_WAIT
#define OP_WAIT NULL

#elif defined(BROKEN_BAD_STATUS)
#define BROKEN_NAME "bad-status"
static int broken_del(void *h, const char *key)
{
    (void)h;
    (void)key;
    return 42; /* the bug: a made-up code rdv cannot interpret */
}
#undef OP_DEL
#define OP_DEL broken_del

#elif defined(BROKEN_NO_SYMBOL)
#define BROKEN_NAME "no-symbol"
#define rdv_store_plugin_v1 rdv_store_plugin_v2

#else
#error "build broken_store.c with one BROKEN_* definition"
#endif

RDV_PLUGIN_EXPORT const rdv_store_plugin rdv_store_plugin_v1 = {
    .abi_version = OP_ABI,
    .struct_size = sizeof(rdv_store_plugin),
    .name = "broken-" BROKEN_NAME,
    .create = OP_CREATE,
    .destroy = sq_destroy,
    .errmsg = sq_errmsg,
    .set = OP_SET,
    .get = OP_GET,
    .wait = OP_WAIT,
    .add = OP_ADD,
    .compare_set = OP_COMPARE_SET,
    .del = OP_DEL,
    .list = OP_LIST,
    .num_keys = sq_num_keys,
    .cancel = OP_CANCEL,
};
