/*
 * conform/clauses_blocking.c - the blocking side of the contract: waits
 * that neither hang nor return early, timeout accuracy, a store that
 * stays usable after a timeout, signals during a wait, and close waking
 * blocked callers.
 *
 * Bounds: a timeout must fire no earlier than asked and at most 1 s
 * after (the contract's generous bound: a loaded CI machine or a busy
 * server stretches a round trip, a store that ignores its timeout misses
 * by far more). "Try once" (timeout 0) is judged by what the call waited
 * for, not by the clock: a get with timeout 0 must not return a key that
 * another thread sets 1.5 s later, and must answer within the same 1 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conform/clause.h"
#include "conform/clauses.h"
#include "rdv/store_ops.h"

#define SLACK_MS 1000
#define LATE_SET_MS 1500 /* when try_once's thread sets the key */
/* Close must have woken a blocked get by then: the call bound every
 * other hang is judged by (common/call_bound.h), not longer; a correct
 * store wakes its waiter in microseconds. */
#define CLOSE_WAKE_MS 2000

static int check_wait_partial(clause_ctx *c)
{
    const char *keys[] = {"present-1", "present-2", "absent-x"};
    char detail[512];
    int64_t t0, took;
    int rc;

    if (!clause_expect(c, c->s, "set", rdv_store_set(c->s, "present-1", "1",
                                                     1, 0), RDV_OK) ||
        !clause_expect(c, c->s, "set", rdv_store_set(c->s, "present-2", "2",
                                                     1, 0), RDV_OK))
        return 0;
    t0 = rdv_now_ns();
    rc = rdv_store_wait(c->s, keys, 3, 300);
    took = clause_ms_since(t0);
    if (!clause_expect(c, c->s, "wait for 'present-1', 'present-2', "
                       "'absent-x' (timeout 300 ms), 'absent-x' never set",
                       rc, RDV_ETIMEDOUT))
        return 0;
    if (took < 299)
        return clause_fail(c, "wait returned after %lld ms, before its "
                           "300 ms timeout", (long long)took);
    /* The detail of this wait, taken now: the next call has its own. */
    snprintf(detail, sizeof detail, "%s", rdv_store_errmsg(c->s));
    if (!strstr(detail, "absent-x") || strstr(detail, "present-1"))
        return clause_fail(c, "wait for 'present-1', 'present-2', "
                           "'absent-x' (timeout 300 ms) timed out after "
                           "%lld ms; its detail must name exactly the "
                           "missing key: '%s'", (long long)took, detail);
    if (!clause_expect(c, c->s, "set", rdv_store_set(c->s, "absent-x", "3",
                                                     1, 0), RDV_OK) ||
        !clause_expect(c, c->s, "wait with all present",
                       rdv_store_wait(c->s, keys, 3, 5000), RDV_OK))
        return 0;
    return clause_pass(c, "wait timed out naming the missing key (%s), "
                       "then succeeded", detail);
}
RDV_CLAUSE_SCOPED(wait_partial)

/* One timed call: it must fail with RDV_ETIMEDOUT in [ms, ms+SLACK]. */
static int timed(clause_ctx *c, const char *what, int ms, int is_wait)
{
    const char *keys[] = {"never"};
    void *v = NULL;
    size_t len;
    int64_t t0 = rdv_now_ns(), took;
    int rc = is_wait ? rdv_store_wait(c->s, keys, 1, ms)
                     : rdv_store_get(c->s, "never", &v, &len, ms);

    took = clause_ms_since(t0);
    free(v);
    if (!clause_expect(c, c->s, what, rc, RDV_ETIMEDOUT))
        return 0;
    if (took < ms - 1 || took > ms + SLACK_MS)
        return clause_fail(c, "%s with a %d ms timeout took %lld ms "
                           "(allowed %d..%d)", what, ms, (long long)took,
                           ms, ms + SLACK_MS);
    return 1;
}

/* A thread that sets key LATE_SET_MS after it starts, unless the caller
 * is done first. */
typedef struct late_setter {
    rdv_store *s;
    const char *key;
    pthread_mutex_t lock;
    pthread_cond_t done_cv;
    int done;
    int rc; /* of the set, or 1 when it was not needed */
} late_setter;

static void *late_set_run(void *arg)
{
    late_setter *l = arg;
    struct timespec at;
    int timed_out = 0;

    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += LATE_SET_MS / 1000;
    at.tv_nsec += (LATE_SET_MS % 1000) * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->lock);
    while (!l->done && !timed_out)
        timed_out = pthread_cond_timedwait(&l->done_cv, &l->lock, &at) ==
                    ETIMEDOUT;
    pthread_mutex_unlock(&l->lock);
    l->rc = l->done ? 1 : rdv_store_set(l->s, l->key, "x", 1, 0);
    return NULL;
}

/* get or wait with timeout 0 on a key another thread sets LATE_SET_MS
 * later: it must say RDV_ETIMEDOUT without having waited for that set. */
static int try_once(clause_ctx *c, const char *what, const char *key,
                    int is_wait)
{
    late_setter l = {c->s, key, PTHREAD_MUTEX_INITIALIZER,
                     PTHREAD_COND_INITIALIZER, 0, 1};
    const char *keys[] = {key};
    void *v = NULL;
    size_t len;
    int64_t t0, took;
    pthread_t t;
    int rc;

    if (pthread_create(&t, NULL, late_set_run, &l))
        return clause_fail(c, "cannot start the setter thread");
    t0 = rdv_now_ns();
    rc = is_wait ? rdv_store_wait(c->s, keys, 1, 0)
                 : rdv_store_get(c->s, key, &v, &len, 0);
    took = clause_ms_since(t0);
    pthread_mutex_lock(&l.lock);
    l.done = 1;
    pthread_cond_signal(&l.done_cv);
    pthread_mutex_unlock(&l.lock);
    pthread_join(t, NULL);
    free(v);
    if (rc == RDV_OK)
        return clause_fail(c, "%s with timeout 0 returned RDV_OK after %lld "
                           "ms, for a key another thread set %d ms after the "
                           "call began: timeout 0 must try once, not wait",
                           what, (long long)took, LATE_SET_MS);
    if (!clause_expect(c, c->s, what, rc, RDV_ETIMEDOUT))
        return 0;
    if (took > SLACK_MS)
        return clause_fail(c, "%s with timeout 0 took %lld ms (allowed "
                           "0..%d): timeout 0 must try once", what,
                           (long long)took, SLACK_MS);
    return 1;
}

static int check_timeout_accuracy(clause_ctx *c)
{
    if (!timed(c, "get", 300, 0) || !timed(c, "wait", 300, 1) ||
        !try_once(c, "get", "late-get", 0) ||
        !try_once(c, "wait", "late-wait", 1) ||
        !timed(c, "get", 50, 0))
        return 0;
    return clause_pass(c, "get and wait time out within %d ms of 50 "
                       "and 300 ms timeouts; with timeout 0 they tried "
                       "once and did not wait for a later set", SLACK_MS);
}
RDV_CLAUSE_SCOPED(timeout_accuracy)

static int check_usable_after_timeout(clause_ctx *c)
{
    void *v = NULL;
    size_t len;

    if (!clause_expect(c, c->s, "get missing",
                       rdv_store_get(c->s, "late", &v, &len, 100),
                       RDV_ETIMEDOUT) ||
        !clause_expect(c, c->s, "set after timeout",
                       rdv_store_set(c->s, "late", "here", 4, 0), RDV_OK) ||
        !clause_expect_value(c, c->s, "late", "here", 4) ||
        !clause_expect(c, c->s, "set other",
                       rdv_store_set(c->s, "other", "x", 1, 0), RDV_OK) ||
        !clause_expect_value(c, c->s, "other", "x", 1))
        return 0;
    return clause_pass(c, "after a timed-out get, set and get work");
}
RDV_CLAUSE_SCOPED(usable_after_timeout)

static void on_signal(int sig)
{
    (void)sig;
}

/* Pesters the parent with signals for 300 ms. Runs in a child process
 * that never touches the store, so this works for process-local stores
 * too. */
static int signal_child(clause_ctx *c, rdv_store *s, int i, void *arg)
{
    struct timespec tick = {0, 5 * 1000 * 1000};
    pid_t parent = *(pid_t *)arg;

    (void)c;
    (void)s;
    (void)i;
    for (int n = 0; n < 60; n++) {
        kill(parent, SIGUSR1);
        nanosleep(&tick, NULL);
    }
    return 0;
}

/* Sets the key once the signals are over; blocks SIGUSR1 so every
 * signal lands on the waiting thread. */
static void *late_set(void *arg)
{
    struct timespec after = {0, 330 * 1000 * 1000};
    sigset_t block;

    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    nanosleep(&after, NULL);
    return (void *)(intptr_t)rdv_store_set(arg, "signalled", "ok", 2, 0);
}

static int check_eintr(clause_ctx *c)
{
    /* No SA_RESTART: every blocking syscall in the store sees EINTR. */
    struct sigaction sa = {.sa_handler = on_signal}, old;
    const char *keys[] = {"signalled"};
    pid_t parent = getpid(), child;
    void *set_rc = NULL;
    pthread_t setter;
    int64_t t0;
    int rc;

    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    t0 = rdv_now_ns();
    /* Fork before the thread exists: forking a threaded process is what
     * TSan and friends cannot follow. */
    child = clause_spawn(c, signal_child, 0, &parent);
    if (pthread_create(&setter, NULL, late_set, c->s)) {
        clause_reap(child);
        sigaction(SIGUSR1, &old, NULL);
        return clause_fail(c, "cannot start the setter thread");
    }
    rc = rdv_store_wait(c->s, keys, 1, 10000);
    pthread_join(setter, &set_rc);
    clause_reap(child);
    sigaction(SIGUSR1, &old, NULL);
    if ((intptr_t)set_rc != RDV_OK)
        return clause_fail(c, "the setter thread failed: %s",
                           rdv_status_name((int)(intptr_t)set_rc));
    if (!clause_expect(c, c->s, "wait under signals", rc, RDV_OK))
        return 0;
    if (clause_ms_since(t0) < 300)
        return clause_fail(c, "wait returned after %lld ms, before the "
                           "key was set", (long long)clause_ms_since(t0));
    return clause_pass(c, "wait survived 60 signals and returned when the "
                       "key appeared (%lld ms)",
                       (long long)clause_ms_since(t0));
}
RDV_CLAUSE_SCOPED(eintr)

typedef struct blocked_get {
    rdv_store *s;
    int rc;
    int64_t returned_ns;
} blocked_get;

static void *get_forever(void *arg)
{
    blocked_get *b = arg;
    void *v = NULL;
    size_t len;

    b->rc = rdv_store_get(b->s, "never-set", &v, &len, -1);
    b->returned_ns = rdv_now_ns();
    free(v);
    return NULL;
}

static int check_cancel_on_close(clause_ctx *c)
{
    struct timespec tick = {0, 1000 * 1000}, pause = {0, 200 * 1000 * 1000};
    struct timespec limit;
    blocked_get b = {c->s, RDV_OK, 0};
    int64_t started, closed;
    pthread_t t;
    int slot;

    if (pthread_create(&t, NULL, get_forever, &b))
        return clause_fail(c, "cannot start the waiting thread");
    /* Close only once the get is inside the store: closing first would
     * free the handle under a thread about to use it. The thread may be
     * slow to start on a loaded machine, hence a wait, not a sleep. */
    started = rdv_now_ns();
    while (rdv_store_calls_inside(c->s) == 0 && clause_ms_since(started) <
                                                    10000)
        nanosleep(&tick, NULL);
    if (rdv_store_calls_inside(c->s) == 0) {
        pthread_detach(t);
        c->s = NULL; /* left open: the thread may still enter it */
        return clause_fail(c, "the waiting thread did not enter its get "
                           "within 10 s");
    }
    nanosleep(&pause, NULL); /* let it block, not just enter */
    closed = rdv_now_ns();
    /* close returns only after the waiter left: if cancel does not wake
     * it, close blocks, and the watch names that, not a timeout. */
    slot = clause_watch_begin(c->r, CLOSE_WAKE_MS, 0, "close did not wake a "
                              "get blocked with no timeout (it must return "
                              "RDV_ECANCELED)", "close (a get of "
                              "'never-set' with no timeout blocked in "
                              "another thread)");
    rdv_store_close(c->s);
    clause_watch_end(c->r, slot);
    c->s = NULL;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += CLOSE_WAKE_MS / 1000;
    if (pthread_timedjoin_np(t, NULL, &limit)) {
        pthread_detach(t);
        return clause_fail(c, "close did not wake a get blocked with no "
                           "timeout: it had not returned %d ms after close "
                           "returned", CLOSE_WAKE_MS);
    }
    if (b.rc != RDV_ECANCELED)
        return clause_fail(c, "the blocked get returned %s, want "
                           "RDV_ECANCELED", rdv_status_name(b.rc));
    return clause_pass(c, "close woke the blocked get with RDV_ECANCELED "
                       "in %lld ms",
                       (long long)((b.returned_ns - closed) / 1000000));
}
RDV_CLAUSE_SCOPED(cancel_on_close)
