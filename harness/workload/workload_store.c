/*
 * harness/workload/workload_store.c - the `store` workload step: what the store
 * must get right across processes, checked from inside the ranks.
 *
 * Three probes, separated by barriers over the mesh (so "after" means
 * after on every rank, without trusting the store under test to order
 * anything):
 *   1. every rank adds 1 to one counter COUNT times; afterwards the
 *      counter must read N * COUNT (a non-atomic add loses updates);
 *   2. three rounds of: every rank overwrites its own key, then reads
 *      every peer's key, which must hold this round's value (a store
 *      that serves stale values after an overwrite is caught);
 *   3. a get with a short timeout on a key nobody writes must end with
 *      RDV_ETIMEDOUT, and soon (a store that ignores its timeout either
 *      hangs here, and the supervisor reports no-hang with this step and
 *      op, or returns late, which results-correct reports).
 * Every key it made is deleted at the end, so a store whose delete does
 * not delete shows up in no-leak.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/collectives.h"
#include "rdv/clock.h"
#include "workload/workload_exec.h"
#include "workload/workload_values.h"

#define ROUNDS 3
#define PROBE_TIMEOUT_MS 1
/* How late a timed-out get may return. Generous: the machine running
 * the harness may be busy, and this judges the store, not the clock. */
#define PROBE_SLACK_MS 2000
#define COUNTER_KEY "kv/counter"

static int barrier(const rdv_step_env *env, const char *why, char *err,
                   size_t errlen)
{
    char said[RDV_DETAIL_MAX];
    int rc = rdv_step_barrier(env, said, sizeof said);

    if (rc)
        snprintf(err, errlen, "store step: barrier %s: %s: %s", why,
                 rdv_status_name(rc), said);
    return rc;
}

static int store_fail(const rdv_step_env *env, const char *what, int rc,
                      char *err, size_t errlen)
{
    snprintf(err, errlen, "store step: %s: %s: %s", what,
             rdv_status_name(rc), rdv_store_errmsg(env->store));
    return rc;
}

/* Records the first wrong observation as the step's note. */
static void mismatch(rdv_step_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void mismatch(rdv_step_out *out, const char *fmt, ...)
{
    va_list ap;

    if (!out->correct)
        return;
    out->correct = 0;
    va_start(ap, fmt);
    vsnprintf(out->note, sizeof out->note, fmt, ap);
    va_end(ap);
}

static int probe_adds(const rdv_step *st, const rdv_step_env *env,
                      char *err, size_t errlen)
{
    for (size_t i = 0; i < st->count; i++) {
        int rc = rdv_store_add(env->store, COUNTER_KEY, 1, NULL);

        if (rc)
            return store_fail(env, "add " COUNTER_KEY, rc, err, errlen);
    }
    return RDV_OK;
}

static int check_counter(const rdv_step *st, const rdv_step_env *env,
                         rdv_step_out *out, char *err, size_t errlen)
{
    char want[32], got[32];
    int64_t v = 0;
    int rc = rdv_store_add(env->store, COUNTER_KEY, 0, &v);

    if (rc)
        return store_fail(env, "read " COUNTER_KEY, rc, err, errlen);
    snprintf(want, sizeof want, "%zu", st->count * (size_t)env->nranks);
    snprintf(got, sizeof got, "%lld", (long long)v);
    if (strcmp(want, got) != 0)
        mismatch(out, "rank %d: key " COUNTER_KEY " is %s after every "
                 "rank's adds, expected %s: the store lost atomic updates",
                 env->rank, got, want);
    out->digest ^= (uint64_t)v;
    return RDV_OK;
}

static int probe_overwrites(const rdv_step_env *env, rdv_step_out *out,
                            char *err, size_t errlen)
{
    char key[64], val[64], want[64];
    int rc = RDV_OK;

    for (int round = 0; round < ROUNDS && rc == RDV_OK; round++) {
        snprintf(key, sizeof key, "kv/val/%d", env->rank);
        snprintf(val, sizeof val, "rank %d round %d seed %llu", env->rank,
                 round, (unsigned long long)env->seed);
        rc = rdv_store_set(env->store, key, val, strlen(val), 0);
        if (rc)
            return store_fail(env, "set", rc, err, errlen);
        if ((rc = barrier(env, "after overwrite", err, errlen)))
            return rc;
        for (int p = 0; p < env->nranks && rc == RDV_OK; p++) {
            void *got = NULL;
            size_t len = 0;

            snprintf(key, sizeof key, "kv/val/%d", p);
            snprintf(want, sizeof want, "rank %d round %d seed %llu", p,
                     round, (unsigned long long)env->seed);
            rc = rdv_store_get(env->store, key, &got, &len, env->timeout_ms);
            if (rc)
                return store_fail(env, "get", rc, err, errlen);
            if (len != strlen(want) || memcmp(got, want, len) != 0)
                mismatch(out, "rank %d: key %s read '%.*s' after it was "
                         "overwritten with '%s' (stale read)", env->rank,
                         key, (int)(len < 64 ? len : 64), (const char *)got,
                         want);
            free(got);
        }
        rc = barrier(env, "after reads", err, errlen);
    }
    return rc;
}

static int probe_timeout(const rdv_step_env *env, rdv_step_out *out,
                         char *err, size_t errlen)
{
    char key[64];
    void *got = NULL;
    size_t len;
    int rc;

    int64_t t0 = rdv_now_ns(), ms;

    snprintf(key, sizeof key, "kv/absent/%d", env->rank);
    rc = rdv_store_get(env->store, key, &got, &len, PROBE_TIMEOUT_MS);
    free(got);
    ms = (rdv_now_ns() - t0) / 1000000;
    if (rc == RDV_ETIMEDOUT && ms > PROBE_TIMEOUT_MS + PROBE_SLACK_MS)
        mismatch(out, "rank %d: get of never-written key %s with a %d ms "
                 "timeout returned after %lld ms: the store ignores its "
                 "timeout", env->rank, key, PROBE_TIMEOUT_MS, (long long)ms);
    if (rc == RDV_ETIMEDOUT)
        return RDV_OK;
    if (rc == RDV_OK) {
        mismatch(out, "rank %d: get of never-written key %s returned a "
                 "value", env->rank, key);
        return RDV_OK;
    }
    return store_fail(env, "get of a missing key", rc, err, errlen);
}

static int cleanup(const rdv_step_env *env, char *err, size_t errlen)
{
    char key[64];
    int rc;

    snprintf(key, sizeof key, "kv/val/%d", env->rank);
    if ((rc = rdv_store_delete(env->store, key)))
        return store_fail(env, "delete", rc, err, errlen);
    /* Everyone has read the counter once this barrier is passed. */
    if ((rc = barrier(env, "before cleanup", err, errlen)))
        return rc;
    if (env->rank == 0 && (rc = rdv_store_delete(env->store, COUNTER_KEY)))
        return store_fail(env, "delete", rc, err, errlen);
    return RDV_OK;
}

/* Best effort after a failure: this rank's key and the counter (deleting
 * a missing key is fine, and the run has failed anyway). */
static void forget(const rdv_step_env *env)
{
    char key[64];

    snprintf(key, sizeof key, "kv/val/%d", env->rank);
    rdv_store_delete(env->store, key);
    rdv_store_delete(env->store, COUNTER_KEY);
}

int rdv_step_run_store(const rdv_step *st, const rdv_step_env *env,
                       rdv_step_out *out, char *err, size_t errlen)
{
    int rc;

    out->correct = 1;
    out->t_enter_ns = rdv_now_ns();
    rc = barrier(env, "before adds", err, errlen);
    if (rc == RDV_OK)
        rc = probe_adds(st, env, err, errlen);
    if (rc == RDV_OK)
        rc = barrier(env, "after adds", err, errlen);
    if (rc == RDV_OK)
        rc = check_counter(st, env, out, err, errlen);
    if (rc == RDV_OK)
        rc = probe_overwrites(env, out, err, errlen);
    if (rc == RDV_OK)
        rc = probe_timeout(env, out, err, errlen);
    if (rc == RDV_OK)
        rc = cleanup(env, err, errlen);
    else
        forget(env); /* the run failed: leave no key of ours behind */
    out->t_exit_ns = rdv_now_ns();
    out->ran = rc == RDV_OK;
    return rc;
}
