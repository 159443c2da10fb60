/*
 * harness/workload/workload_store.c - the `store` workload step: what the store
 * must get right across processes, checked from inside the ranks.
 *
 * Cheap probes of each clause's core, so a run or a matrix catches the
 * broken stores conform catches (conform stays the thorough judge):
 *   1. every rank adds 1 to one counter COUNT times; afterwards the
 *      counter must read N * COUNT (a non-atomic add loses updates);
 *   2. four rounds of: every rank writes one of its own two keys, in
 *      turn (rounds 2 and 3 overwrite), then reads every peer's key of
 *      the round, which must hold this round's value (a store that
 *      serves stale values after an overwrite is caught);
 *   3. rank 0 writes a value of BIG_LEN bytes, past the 64 KiB where
 *      fixed buffers and frame limits tend to end; every rank must read
 *      back every byte (a store that truncates is caught);
 *   4. three rounds of: every rank, released at once by a collective,
 *      create-only sets one key; exactly one must get RDV_OK (counted
 *      over the mesh, not through the store), and the key must hold
 *      that rank's value (a check-then-set create lets a second writer
 *      win);
 *   5. a get (even ranks) and a wait (odd ranks; a lone rank does both)
 *      with a short timeout on a key nobody writes must end with
 *      RDV_ETIMEDOUT, and soon (a store that ignores its
 *      timeout either hangs here, and the supervisor reports no-hang
 *      with this step and op, or returns late, which results-correct
 *      reports; a wait that returns RDV_OK at its deadline is caught).
 * "After" means after on every rank, without trusting the store under
 * test to order anything: the probes run interleaved in phases, each
 * ended by one collective over the mesh that no rank leaves before
 * every rank has entered it (a barrier, or the sum that counts a
 * create-only round's winners). A key written in one phase is read in
 * the next and written again no sooner than the one after (hence two
 * keys per rank, in turn, for probe 2). Collectives, not store calls,
 * are what the step waits on most (each one a wake-up of every rank,
 * on a busy host a time slice or more), so there are six: a barrier
 * before the adds and one after, the three sums, and a barrier before
 * cleanup.
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

#define ROUNDS 3 /* create-only races; overwrite rounds are one more */
#define BIG_LEN (256 * 1024 + 13)
#define BIG_KEY "kv/big"
#define RACE_KEY "kv/once/" /* and the round */
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

/* Overwrite round's key of rank: two keys per rank, taken in turn. */
static void val_key(int rank, int round, char *key, size_t cap)
{
    snprintf(key, cap, "kv/val/%d/%d", rank, round % 2);
}

static void val_text(int rank, int round, const rdv_step_env *env,
                     char *val, size_t cap)
{
    snprintf(val, cap, "rank %d round %d seed %llu", rank, round,
             (unsigned long long)env->seed);
}

static int overwrite_set(const rdv_step_env *env, int round, char *err,
                         size_t errlen)
{
    char key[64], val[64];
    int rc;

    val_key(env->rank, round, key, sizeof key);
    val_text(env->rank, round, env, val, sizeof val);
    if ((rc = rdv_store_set(env->store, key, val, strlen(val), 0)))
        return store_fail(env, "set", rc, err, errlen);
    return RDV_OK;
}

/* Every peer's key of round, written a phase ago, must hold round's
 * value. */
static int overwrite_read(const rdv_step_env *env, int round,
                          rdv_step_out *out, char *err, size_t errlen)
{
    char key[64], want[64];

    for (int p = 0; p < env->nranks; p++) {
        void *got = NULL;
        size_t len = 0;
        int rc;

        val_key(p, round, key, sizeof key);
        val_text(p, round, env, want, sizeof want);
        rc = rdv_store_get(env->store, key, &got, &len, env->timeout_ms);
        if (rc)
            return store_fail(env, "get", rc, err, errlen);
        if (len != strlen(want) || memcmp(got, want, len) != 0)
            mismatch(out, "rank %d: key %s read '%.*s' after it was "
                     "%swritten with '%s'%s", env->rank, key,
                     (int)(len < 64 ? len : 64), (const char *)got,
                     round >= 2 ? "over" : "", want,
                     round >= 2 ? " (stale read)" : "");
        free(got);
    }
    return RDV_OK;
}

/* Byte i of the large value: varies with i and the seed, so a shifted,
 * truncated or zero-filled read differs early. */
static unsigned char big_byte(const rdv_step_env *env, uint32_t i)
{
    return (unsigned char)(i * 131 + (i >> 8) + (uint32_t)env->seed);
}

#define BIG_BLOCK 4096

/* The index of the first of val[0..len) that is not big_byte, or len.
 * Branch-free within a block, so the common all-equal case vectorizes;
 * only a bad block is scanned again for the culprit. */
static size_t big_first_wrong(const rdv_step_env *env,
                              const unsigned char *val, size_t len)
{
    for (uint32_t at = 0; at < len; at += BIG_BLOCK) {
        uint32_t end = len - at < BIG_BLOCK ? (uint32_t)len : at + BIG_BLOCK;
        int bad = 0;

        for (uint32_t i = at; i < end; i++)
            bad |= val[i] != big_byte(env, i);
        for (uint32_t i = at; bad && i < end; i++)
            if (val[i] != big_byte(env, i))
                return i;
    }
    return len;
}

static int big_set(const rdv_step_env *env, char *err, size_t errlen)
{
    unsigned char *val = rdv_step_buf_alloc(BIG_LEN);
    int rc;

    if (!val)
        return store_fail(env, "allocating the large value", RDV_ENOMEM,
                          err, errlen);
    for (uint32_t i = 0; i < BIG_LEN; i++)
        val[i] = big_byte(env, i);
    rc = rdv_store_set(env->store, BIG_KEY, val, BIG_LEN, 0);
    rdv_step_buf_free(val, BIG_LEN);
    return rc ? store_fail(env, "set " BIG_KEY, rc, err, errlen) : RDV_OK;
}

static int big_check(const rdv_step_env *env, rdv_step_out *out, char *err,
                     size_t errlen)
{
    unsigned char *val = NULL;
    size_t len = 0, i;
    int rc = rdv_store_get(env->store, BIG_KEY, (void **)&val, &len,
                           env->timeout_ms);

    if (rc)
        return store_fail(env, "get " BIG_KEY, rc, err, errlen);
    i = big_first_wrong(env, val, len < BIG_LEN ? len : BIG_LEN);
    if (len != BIG_LEN)
        mismatch(out, "rank %d: key " BIG_KEY " read back %zu bytes, %d "
                 "were written (the store %s large values)", env->rank, len,
                 BIG_LEN, len < BIG_LEN ? "truncates" : "pads");
    else if (i < len)
        mismatch(out, "rank %d: key " BIG_KEY " (%d bytes) read back "
                 "different from byte %zu on", env->rank, BIG_LEN, i);
    free(val);
    return RDV_OK;
}

static void race_key(int round, char *key, size_t cap)
{
    snprintf(key, cap, RACE_KEY "%d", round);
}

/* What this rank's create-only set of round's key writes. */
static void race_value(const rdv_step_env *env, int round, char *val,
                       size_t cap)
{
    snprintf(val, cap, "rank %d created " RACE_KEY "%d", env->rank, round);
}

/* This rank's create-only set of round's key; *won says whether it
 * got RDV_OK. */
static int race_set(const rdv_step_env *env, int round, int *won, char *err,
                    size_t errlen)
{
    char key[64], val[64];
    int rc;

    race_key(round, key, sizeof key);
    race_value(env, round, val, sizeof val);
    rc = rdv_store_set(env->store, key, val, strlen(val),
                       RDV_SET_CREATE_ONLY);
    if (rc && rc != RDV_EEXIST)
        return store_fail(env, "create-only set", rc, err, errlen);
    *won = rc == RDV_OK;
    return RDV_OK;
}

/* The winner count over the mesh: the collective that ends a phase. */
static int race_count(const rdv_step_env *env, int won, int64_t *winners,
                      char *err, size_t errlen)
{
    char said[RDV_DETAIL_MAX];
    int rc;

    *winners = won;
    if ((rc = rdv_step_sum(env, winners, said, sizeof said)))
        snprintf(err, errlen, "store step: counting create-only winners: "
                 "%s: %s", rdv_status_name(rc), said);
    return rc;
}

/* After the races: round's key must have had exactly one winner and
 * hold its value (this rank's, when it won). */
static int race_judge(const rdv_step_env *env, int round, int won,
                      int64_t winners, rdv_step_out *out, char *err,
                      size_t errlen)
{
    char key[64], val[64];
    void *got = NULL;
    size_t len = 0;
    int rc;

    race_key(round, key, sizeof key);
    race_value(env, round, val, sizeof val);
    rc = rdv_store_get(env->store, key, &got, &len, env->timeout_ms);
    if (rc)
        return store_fail(env, "get after create-only", rc, err, errlen);
    if (winners != 1)
        mismatch(out, "rank %d: %lld of %d ranks' create-only sets of %s "
                 "returned RDV_OK, expected exactly 1%s", env->rank,
                 (long long)winners, env->nranks, key,
                 winners > 1 ? " (the store let a second writer win)" : "");
    else if (won && (len != strlen(val) || memcmp(got, val, len) != 0))
        mismatch(out, "rank %d: its create-only set of %s returned RDV_OK, "
                 "but the key holds '%.*s'", env->rank, key,
                 (int)(len < 64 ? len : 64), (const char *)got);
    else if (strncmp(got, "rank ", 5) != 0 || len >= sizeof val)
        mismatch(out, "rank %d: %s holds '%.*s' after the create-only race, "
                 "no rank's value", env->rank, key, (int)(len < 64 ? len : 64),
                 (const char *)got);
    free(got);
    return RDV_OK;
}

/* Judges a get or wait (op) with PROBE_TIMEOUT_MS on a key nobody
 * writes, started at t0: it must end RDV_ETIMEDOUT, and soon. RDV_OK is
 * the store claiming a key that is not there. */
static int judge_timeout(const rdv_step_env *env, const char *op,
                         const char *key, int rc, int64_t t0,
                         rdv_step_out *out, char *err, size_t errlen)
{
    long long ms = (long long)((rdv_now_ns() - t0) / 1000000);
    char what[96];

    if (rc == RDV_ETIMEDOUT && ms > PROBE_TIMEOUT_MS + PROBE_SLACK_MS)
        mismatch(out, "rank %d: %s of never-written key %s with a %d ms "
                 "timeout returned after %lld ms: the store ignores its "
                 "timeout", env->rank, op, key, PROBE_TIMEOUT_MS, ms);
    else if (rc == RDV_OK)
        mismatch(out, "rank %d: %s of never-written key %s returned RDV_OK "
                 "after %lld ms (its timeout: %d ms): the store says a "
                 "missing key is there", env->rank, op, key, ms,
                 PROBE_TIMEOUT_MS);
    else if (rc != RDV_ETIMEDOUT) {
        snprintf(what, sizeof what, "%s of a missing key", op);
        return store_fail(env, what, rc, err, errlen);
    }
    return RDV_OK;
}

/* Even ranks probe a get, odd ranks a wait (a lone rank both): each
 * probe costs its whole timeout, and this way the step waits one of
 * them out instead of two in a row, while every run of two ranks or
 * more still probes both. */
static int probe_timeout(const rdv_step_env *env, rdv_step_out *out,
                         char *err, size_t errlen)
{
    char key[64];
    const char *keys[] = {key};
    void *got = NULL;
    size_t len;
    int64_t t0 = rdv_now_ns();
    int rc;

    snprintf(key, sizeof key, "kv/absent/%d", env->rank);
    if (env->rank % 2 == 0) {
        rc = rdv_store_get(env->store, key, &got, &len, PROBE_TIMEOUT_MS);
        free(got);
        rc = judge_timeout(env, "get", key, rc, t0, out, err, errlen);
        if (rc || env->nranks > 1)
            return rc;
    }
    t0 = rdv_now_ns();
    rc = rdv_store_wait(env->store, keys, 1, PROBE_TIMEOUT_MS);
    return judge_timeout(env, "wait", key, rc, t0, out, err, errlen);
}

/* Deletes the keys every rank shared (the counter, the large value, the
 * race keys); the first failure's status, naming the key. */
static int delete_shared(const rdv_step_env *env, char *err, size_t errlen)
{
    char key[64];
    int rc = RDV_OK;

    for (int i = 0; i < 2 + ROUNDS && rc == RDV_OK; i++) {
        if (i < 2)
            snprintf(key, sizeof key, "%s", i ? BIG_KEY : COUNTER_KEY);
        else
            race_key(i - 2, key, sizeof key);
        if ((rc = rdv_store_delete(env->store, key)))
            snprintf(err, errlen, "store step: delete %s: %s: %s", key,
                     rdv_status_name(rc), rdv_store_errmsg(env->store));
    }
    return rc;
}

/* This rank's two overwrite keys; the first failure's status. */
static int delete_own(const rdv_step_env *env, char *err, size_t errlen)
{
    char key[64];
    int rc = RDV_OK;

    for (int round = 0; round < 2 && rc == RDV_OK; round++) {
        val_key(env->rank, round, key, sizeof key);
        if ((rc = rdv_store_delete(env->store, key)))
            store_fail(env, "delete", rc, err, errlen);
    }
    return rc;
}

/* Best effort after a failure: this rank's keys and the shared ones
 * (deleting a missing key is fine, and the run has failed anyway). */
static void forget(const rdv_step_env *env)
{
    char err[RDV_DETAIL_MAX];

    delete_own(env, err, sizeof err);
    delete_shared(env, err, sizeof err);
}

/* The phases (head comment); each loop pass is one, ended by the sum of
 * its create-only round, and the race's set comes first in it so the
 * ranks race as they leave the collective. */
static int run_phases(const rdv_step *st, const rdv_step_env *env,
                      rdv_step_out *out, char *err, size_t errlen)
{
    int won[ROUNDS];
    int64_t winners[ROUNDS];
    int rc = barrier(env, "before adds", err, errlen);

    if (rc == RDV_OK)
        rc = probe_adds(st, env, err, errlen);
    if (rc == RDV_OK)
        rc = overwrite_set(env, 0, err, errlen);
    if (rc == RDV_OK)
        rc = barrier(env, "after adds", err, errlen);
    for (int r = 0; r < ROUNDS && rc == RDV_OK; r++) {
        rc = race_set(env, r, &won[r], err, errlen);
        if (rc == RDV_OK && r == 0)
            rc = check_counter(st, env, out, err, errlen);
        if (rc == RDV_OK)
            rc = overwrite_read(env, r, out, err, errlen);
        if (rc == RDV_OK)
            rc = overwrite_set(env, r + 1, err, errlen);
        if (rc == RDV_OK && r == ROUNDS - 1 && env->rank == 0)
            rc = big_set(env, err, errlen);
        if (rc == RDV_OK)
            rc = race_count(env, won[r], &winners[r], err, errlen);
    }
    if (rc == RDV_OK)
        rc = overwrite_read(env, ROUNDS, out, err, errlen);
    if (rc == RDV_OK)
        rc = big_check(env, out, err, errlen);
    for (int r = 0; r < ROUNDS && rc == RDV_OK; r++)
        rc = race_judge(env, r, won[r], winners[r], out, err, errlen);
    if (rc == RDV_OK)
        rc = probe_timeout(env, out, err, errlen);
    /* Everyone has read every key once this barrier is passed. */
    if (rc == RDV_OK)
        rc = barrier(env, "before cleanup", err, errlen);
    if (rc == RDV_OK)
        rc = delete_own(env, err, errlen);
    if (rc == RDV_OK && env->rank == 0)
        rc = delete_shared(env, err, errlen);
    return rc;
}

int rdv_step_run_store(const rdv_step *st, const rdv_step_env *env,
                       rdv_step_out *out, char *err, size_t errlen)
{
    int rc;

    out->correct = 1;
    out->t_enter_ns = rdv_now_ns();
    if ((rc = run_phases(st, env, out, err, errlen)))
        forget(env); /* the run failed: leave no key of ours behind */
    out->t_exit_ns = rdv_now_ns();
    out->ran = rc == RDV_OK;
    return rc;
}
