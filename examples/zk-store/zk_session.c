/*
 * zk_session.c - the ZooKeeper plugin's sessions and calls: every
 * request goes out through the C client's asynchronous API and is waited
 * for here, with the op's deadline and the handle's cancel.
 *
 * Choices:
 * - Only the asynchronous zoo_a* calls: the synchronous ones of the
 *   multi-threaded client block until a reply or the session's own
 *   timeout, which neither a deadline nor cancel() could cut short.
 *   Requests of one op are pipelined, and the op waits on one condition
 *   variable (CLOCK_MONOTONIC, so no clock jump and no signal moves a
 *   deadline) that every completion, watch event, session event and
 *   cancel() broadcasts.
 * - A call is reference counted (the caller and its completion): a
 *   caller that gives up at its deadline leaves the completion a live
 *   object to write into, and whichever lets go last frees it.
 * - Sessions too: the handle holds its current session and each call in
 *   flight holds it as well. When the server expires it (a long pause,
 *   a partition), the next op opens a new session in its place and the
 *   old one is closed by whoever drops it last, never from a callback
 *   thread (the client forbids that). The plugin makes no ephemeral
 *   znodes, so no key dies with a session; a write cut off by the
 *   expiry may or may not have been applied, and the op says so.
 * - Watches are one-shot and cannot be cancelled on the 3.4 servers
 *   this must also run against, so a wait that times out leaves its
 *   watch behind: harmless, since a watch only bumps the epoch, and the
 *   client registers one watch per path and watcher however often it
 *   is set.
 * - The client's own log is off (level 0, and a callback that drops
 *   anything left): a library prints nothing, and errors reach the
 *   caller through the detail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zk_store.h"

/* A write carrying a large value gets more time: the client serializes
 * it and the ensemble logs it to disk before it answers (a 64 MiB set
 * took over 10 s on a loaded 2-core host). */
#define IO_PER_MIB_NS 100000000LL /* 100 ms per MiB written */

static void log_nothing(const char *message)
{
    (void)message;
}

static struct timespec abs_time(int64_t ns)
{
    return (struct timespec){ns / 1000000000, ns % 1000000000};
}

/* Waits on the store's condition until the deadline; lock held. */
static void cond_wait(zk_store *s, int64_t deadline)
{
    struct timespec ts = abs_time(deadline);

    if (deadline == KIT_NEVER)
        pthread_cond_wait(&s->cond, &s->lock);
    else
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

void zk_watcher(zhandle_t *zh, int type, int state, const char *path,
                void *ctx)
{
    zk_session *z = ctx;
    zk_store *s = z->s;

    (void)zh;
    (void)path;
    pthread_mutex_lock(&s->lock);
    if (type == ZOO_SESSION_EVENT && (state == ZOO_EXPIRED_SESSION_STATE ||
                                      state == ZOO_AUTH_FAILED_STATE))
        z->expired = 1;
    s->epoch++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

/* Level 0 turns the client's logging off altogether: besides printing,
 * it formats into per-thread buffers that a thread ending with exit()
 * never frees. Process-wide, as the client's log level is. */
static void quiet(void)
{
    zoo_set_debug_level((ZooLogLevel)0);
}

static zk_session *session_new(zk_store *s)
{
    zk_session *z = calloc(1, sizeof *z);

    pthread_once(&quiet_once, quiet);
    if (!z)
        return NULL;
    z->s = s;
    z->refs = 1;
    z->zh = zookeeper_init2(s->hosts, zk_watcher, s->session_ms, NULL, z, 0,
                            log_nothing);
    if (!z->zh) {
        free(z);
        return NULL;
    }
    /* Resolve the hosts again only after losing a connection, not on
     * every turn of the I/O thread (the client's default): besides the
     * DNS traffic, a thread inside getaddrinfo holds a glibc lock that a
     * fork() of the process (the harness forks ranks while its own
     * handle is open) copies locked into the child for good. */
    zoo_set_servers_resolution_delay(z->zh, -1);
    return z;
}

/* Drops a reference to z and closes it when that was the last. */
static void session_put(zk_store *s, zk_session *z)
{
    int last;

    pthread_mutex_lock(&s->lock);
    last = --z->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (last) {
        zookeeper_close(z->zh); /* completions of its calls run first */
        free(z);
    }
}

/* A reference to the current session, replacing it first when the
 * server expired it (one thread replaces; the others use the old one
 * meanwhile, fail with ZINVALIDSTATE and retry). */
static zk_session *session_get(zk_store *s)
{
    zk_session *z, *fresh;

    pthread_mutex_lock(&s->lock);
    if (s->session->expired && !s->reopening) {
        s->reopening = 1;
        pthread_mutex_unlock(&s->lock);
        fresh = session_new(s);
        pthread_mutex_lock(&s->lock);
        s->reopening = 0;
        if (fresh) {
            zk_session *old = s->session;

            s->session = fresh;
            pthread_mutex_unlock(&s->lock);
            session_put(s, old);
            pthread_mutex_lock(&s->lock);
        }
    }
    z = s->session;
    z->refs++;
    pthread_mutex_unlock(&s->lock);
    return z;
}

int zk_session_start(zk_store *s, char *errbuf, size_t errlen)
{
    int64_t deadline = zk_io_deadline(s, 0);
    int state = 0;

    if (!(s->session = session_new(s))) {
        snprintf(errbuf, errlen, "cannot start a ZooKeeper client for '%s': "
                 "%s", s->hosts, strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    while ((state = zoo_state(s->session->zh)) != ZOO_CONNECTED_STATE &&
           !s->session->expired && kit_now_ns() < deadline)
        cond_wait(s, deadline);
    pthread_mutex_unlock(&s->lock);
    if (state == ZOO_CONNECTED_STATE)
        return 0;
    snprintf(errbuf, errlen, "no ZooKeeper server at %s accepted a session "
             "within timeout_ms=%d (is one running there?)", s->hosts,
             s->timeout_ms);
    return -1;
}

void zk_session_end(zk_store *s)
{
    if (s->session)
        session_put(s, s->session);
    s->session = NULL;
}

/* ---- calls -------------------------------------------------------- */

static void call_free(zk_call *c)
{
    free(c->data);
    kit_keys_free(&c->kids);
    free(c);
}

/* Records a call's result and lets go of the completion's reference. */
static void finish(zk_call *c, int rc)
{
    zk_store *s = c->s;
    int last;

    pthread_mutex_lock(&s->lock);
    c->zrc = rc;
    c->done = 1;
    last = --c->refs == 0;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (last)
        call_free(c);
}

void zk_done_void(int rc, const void *data)
{
    finish((zk_call *)data, rc);
}

void zk_done_stat(int rc, const struct Stat *stat, const void *data)
{
    zk_call *c = (zk_call *)data;

    if (rc == ZOK && stat)
        c->stat = *stat;
    finish(c, rc);
}

void zk_done_data(int rc, const char *value, int len,
                  const struct Stat *stat, const void *data)
{
    zk_call *c = (zk_call *)data;
    size_t n = len > 0 ? (size_t)len : 0;

    if (rc == ZOK) {
        if (stat)
            c->stat = *stat;
        if ((c->data = malloc(n + 1))) {
            if (n)
                memcpy(c->data, value, n);
            c->data[n] = '\0';
            c->len = n;
        } else {
            rc = ZSYSTEMERROR; /* out of memory: the op reports it */
        }
    }
    finish(c, rc);
}

void zk_done_string(int rc, const char *value, const void *data)
{
    (void)value;
    finish((zk_call *)data, rc);
}

void zk_done_strings(int rc, const struct String_vector *v, const void *data)
{
    zk_call *c = (zk_call *)data;

    for (int i = 0; rc == ZOK && v && i < v->count; i++)
        if (kit_keys_push(&c->kids, v->data[i], strlen(v->data[i])))
            rc = ZSYSTEMERROR;
    finish(c, rc);
}

void zk_calls_put(zk_call **c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        zk_store *s;
        int last;

        if (!c[i])
            continue;
        s = c[i]->s;
        pthread_mutex_lock(&s->lock);
        last = --c[i]->refs == 0;
        pthread_mutex_unlock(&s->lock);
        if (last)
            call_free(c[i]);
        c[i] = NULL;
    }
}

int zk_calls_run(zk_store *s, zk_call **c, size_t n, zk_issue_fn issue,
                 void *const *args, int64_t deadline)
{
    zk_session *z;
    size_t done = 0;
    int rc = RDV_OK;

    memset(c, 0, n * sizeof *c);
    pthread_mutex_lock(&s->lock);
    rc = s->canceled ? RDV_ECANCELED : RDV_OK; /* later ops end too */
    pthread_mutex_unlock(&s->lock);
    if (rc)
        return rc;
    z = session_get(s);
    for (size_t i = 0; i < n; i++) {
        int zrc;

        if (!(c[i] = calloc(1, sizeof *c[i]))) {
            rc = RDV_ENOMEM;
            continue;
        }
        *c[i] = (zk_call){.s = s, .z = z, .refs = 2};
        if ((zrc = issue(c[i], args ? args[i] : NULL)) != ZOK) {
            c[i]->refs = 1; /* no completion will come */
            c[i]->zrc = zrc;
            c[i]->done = 1;
        }
    }
    pthread_mutex_lock(&s->lock);
    for (;;) {
        for (done = 0; done < n && (!c[done] || c[done]->done); done++)
            ;
        if (done == n || s->canceled || kit_now_ns() >= deadline)
            break;
        cond_wait(s, deadline);
    }
    for (size_t i = 0; done == n && i < n; i++)
        if (c[i] && (c[i]->zrc == ZSESSIONEXPIRED ||
                     c[i]->zrc == ZINVALIDSTATE ||
                     c[i]->zrc == ZAUTHFAILED))
            z->expired = 1;
    if (rc == RDV_OK && done < n)
        rc = s->canceled ? RDV_ECANCELED : RDV_ETIMEDOUT;
    pthread_mutex_unlock(&s->lock);
    session_put(s, z);
    return rc;
}

/* ---- waiting ---------------------------------------------------------- */

uint64_t zk_epoch(zk_store *s)
{
    uint64_t e;

    pthread_mutex_lock(&s->lock);
    e = s->epoch;
    pthread_mutex_unlock(&s->lock);
    return e;
}

int zk_wait_event(zk_store *s, uint64_t since, int64_t deadline)
{
    int rc;

    pthread_mutex_lock(&s->lock);
    while (s->epoch == since && !s->canceled && kit_now_ns() < deadline)
        cond_wait(s, deadline);
    rc = s->canceled ? RDV_ECANCELED
         : s->epoch != since ? RDV_OK
                             : RDV_ETIMEDOUT;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int zk_pause(zk_store *s, int ms)
{
    int64_t end = kit_now_ns() + (int64_t)ms * 1000000;
    int rc;

    pthread_mutex_lock(&s->lock);
    while (!s->canceled && kit_now_ns() < end)
        cond_wait(s, end);
    rc = s->canceled ? RDV_ECANCELED : RDV_OK;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int zk_retryable(int zrc)
{
    return zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT ||
           zrc == ZSESSIONEXPIRED || zrc == ZINVALIDSTATE ||
           zrc == ZCLOSING || zrc == ZSESSIONMOVED;
}

int zk_maybe_applied(int zrc)
{
    return zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT ||
           zrc == ZSESSIONEXPIRED || zrc == ZCLOSING ||
           zrc == ZSESSIONMOVED;
}

int64_t zk_io_deadline(const zk_store *s, size_t bytes)
{
    return kit_deadline(s->timeout_ms) +
           IO_PER_MIB_NS * (int64_t)(bytes >> 20);
}
