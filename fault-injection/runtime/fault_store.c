/*
 * runtime/fault_store.c - the fault store: a wrapper (rdv_wrapper in
 * rdv/store_ops.h) around any store that applies the plan's store.*
 * faults to the calls that match them (op, key glob via fnmatch, rank).
 *
 * Each call first asks decide() what happens: every matching fault
 * counts the call (its op index) and draws from the mix, and each fault
 * that fires is logged as one line. The call then sleeps for the delays,
 * and either fails (error, stall), drops the write (lose), serves an old
 * value or nothing (stale), or goes through to the inner store
 * (rdv_inner_*, with the caller's deadline as it is). Sleeps wait on a
 * condition variable so closing the store cancels them promptly.
 */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/fault_history.h"
#include "fault_internal.h"
#include "rdv/clock.h"
#include "rdv/store_ops.h"

/* A stall without ms on a call without a deadline (set, add, ...) lasts
 * the context's default timeout. */
#define STALL_DEFAULT_MS 30000

typedef struct fault_store {
    rdv_wrapper w;
    rdv_fault_rank *fr;
    pthread_mutex_t mu; /* cancelled, history */
    pthread_cond_t cv;
    int cancelled;
    rdv_fault_history *history;
} fault_store;

#define FS(s) ((fault_store *)(s))

/* What decide() found for one call. */
typedef struct action {
    const char *op;             /* the op's name, for messages */
    int64_t delay_ms;
    const rdv_fault *error, *stall, *lose, *stale;
    int64_t stall_ms, stale_ms; /* -1: until the deadline */
    uint64_t call;              /* 1-based call number of the first fault */
    char key[160];              /* first matching key, printable */
    const char *stale_key;      /* the key store.stale matched (raw) */
} action;

static unsigned kind_ops(const rdv_fault *f)
{
    unsigned ops = f->ops ? f->ops : RDV_FOP_ALL;
    unsigned writes = RDV_FOP(RDV_STORE_OP_SET) |
                      RDV_FOP(RDV_STORE_OP_MULTI_SET);

    if (f->kind == RDV_FK_STORE_LOSE)
        return f->ops ? ops & (writes | RDV_FOP(RDV_STORE_OP_DELETE))
                      : writes;
    if (f->kind == RDV_FK_STORE_STALE)
        return ops & RDV_FOP_READS;
    return ops;
}

/* The first key the fault's glob matches, or NULL. No key (num_keys)
 * matches only a fault without key=. */
static const char *match_key(const rdv_fault *f, const char *const *keys,
                             size_t n)
{
    if (!f->key[0])
        return n ? keys[0] : "";
    for (size_t k = 0; k < n; k++)
        if (fnmatch(f->key, keys[k], 0) == 0)
            return keys[k];
    return NULL;
}

static int fires(const rdv_fault_rank *fr, const rdv_fault *f, uint64_t i)
{
    if (f->nth)
        return i + 1 == (uint64_t)f->nth;
    return f->p >= 1.0 ||
           rdv_fault_unit(fr->seed, fr->rank, i, f->id, RDV_SALT_FIRE) < f->p;
}

static void take(rdv_fault_rank *fr, const rdv_fault *f, uint64_t i,
                 const char *op, const char *key, action *a)
{
    const rdv_fault **slot = NULL;
    int64_t ms = f->given[RDV_FP_MS] ? rdv_fault_pick(&f->ms, fr->seed,
                                                      fr->rank, i, f->id,
                                                      RDV_SALT_MS)
                                     : -1;
    char k[160];

    rdv_key_printable(key, k, sizeof k);
    switch (f->kind) {
    case RDV_FK_STORE_DELAY:
        a->delay_ms += ms;
        if (!a->key[0]) /* for a message if the delay times the call out */
            snprintf(a->key, sizeof a->key, "%s", k);
        rdv_fault_log(fr, f, "%s '%s' call %llu: delayed %lld ms", op, k,
                      (unsigned long long)i + 1, (long long)ms);
        return;
    case RDV_FK_STORE_ERROR: slot = &a->error; break;
    case RDV_FK_STORE_STALL: slot = &a->stall; a->stall_ms = ms; break;
    case RDV_FK_STORE_LOSE: slot = &a->lose; break;
    default:
        slot = &a->stale;
        if (!a->stale) {
            a->stale_ms = ms;
            a->stale_key = key;
        }
        break;
    }
    if (*slot)
        return; /* the first fault of a kind wins */
    *slot = f;
    if (!a->call) {
        a->call = i + 1;
        snprintf(a->key, sizeof a->key, "%s", k);
    }
    if (f->kind == RDV_FK_STORE_ERROR)
        rdv_fault_log(fr, f, "%s '%s' call %llu: fails with %s", op, k,
                      (unsigned long long)i + 1, rdv_status_name(f->code));
    else if (ms >= 0)
        rdv_fault_log(fr, f, "%s '%s' call %llu: %s for %lld ms", op, k,
                      (unsigned long long)i + 1,
                      f->kind == RDV_FK_STORE_STALL ? "stalls" : "stale",
                      (long long)ms);
    else
        rdv_fault_log(fr, f, "%s '%s' call %llu: %s", op, k,
                      (unsigned long long)i + 1,
                      f->kind == RDV_FK_STORE_LOSE    ? "write dropped"
                      : f->kind == RDV_FK_STORE_STALL ? "stalls until the "
                                                        "deadline"
                                                      : "stale until the "
                                                        "deadline");
}

static void decide(fault_store *fs, rdv_store_op op, const char *const *keys,
                   size_t n, action *a)
{
    rdv_fault_rank *fr = fs->fr;

    memset(a, 0, sizeof *a);
    a->op = rdv_store_op_name(op);
    pthread_mutex_lock(&fr->lock);
    for (size_t k = 0; k < fr->n; k++) {
        const rdv_fault *f = &fr->faults[k];
        const char *key;
        uint64_t i;

        if (rdv_fault_info(f)->family != RDV_FF_STORE ||
            !(kind_ops(f) & RDV_FOP(op)) ||
            !rdv_fault_has_rank(f, fr->rank) || !(key = match_key(f, keys, n)))
            continue;
        i = fr->calls[k]++;
        if (fires(fr, f, i))
            take(fr, f, i, a->op, key, a);
    }
    pthread_mutex_unlock(&fr->lock);
}

/* Sleeps until `until` (monotonic ns); RDV_ECANCELED if the store is
 * closed meanwhile. */
static int nap_until(fault_store *fs, int64_t until)
{
    struct timespec ts = {.tv_sec = until / 1000000000,
                          .tv_nsec = until % 1000000000};
    int rc = RDV_OK;

    pthread_mutex_lock(&fs->mu);
    while (!fs->cancelled && rdv_now_ns() < until)
        pthread_cond_timedwait(&fs->cv, &fs->mu, &ts);
    if (fs->cancelled)
        rc = RDV_ECANCELED;
    pthread_mutex_unlock(&fs->mu);
    return rc;
}

static int64_t after_ms(int64_t ms, int64_t deadline)
{
    int64_t t = rdv_now_ns() + ms * 1000000;

    return t < deadline ? t : deadline;
}

/* Decides what happens to a call (into a), then runs its delays, errors
 * and stalls. RDV_OK lets the call go on, unless a->lose drops it. A
 * delay never outlasts the call's deadline: a call with a deadline of its
 * own then tries once, so the store's timeout contract holds under any
 * injected delay; a call without one (set, add...) made while a
 * rendezvous runs has the rendezvous's deadline
 * (rdv_fault_rank_set_timeout) and ends there with RDV_ETIMEDOUT, as a
 * store that slow would make it. */
static int enter(fault_store *fs, rdv_store_op which, const char *const *keys,
                 size_t n, int64_t deadline, action *a)
{
    rdv_store *s = &fs->w.base;
    int64_t start, stall_ms, until;
    int borrowed = deadline == RDV_DEADLINE_NONE &&
                   (deadline = rdv_fault_rank_call_deadline(fs->fr)) !=
                       RDV_DEADLINE_NONE;
    const char *op;
    int rc;

    decide(fs, which, keys, n, a);
    op = a->op;
    start = rdv_now_ns();
    until = after_ms(a->delay_ms, deadline);
    if (a->delay_ms > 0 && (rc = nap_until(fs, until)))
        return rdv_store_fail(s, rc, "%s '%s': store closed during an "
                              "injected delay", op, a->key);
    if (a->delay_ms > 0 && borrowed && until == deadline)
        return rdv_store_fail(s, RDV_ETIMEDOUT, "%s '%s' timed out after "
                              "%lld ms: an injected delay of %lld ms reached "
                              "the rendezvous deadline (store.delay)", op,
                              a->key,
                              (long long)((rdv_now_ns() - start) / 1000000),
                              (long long)a->delay_ms);
    if (a->error)
        return rdv_store_fail(s, a->error->code, "%s '%s' failed: injected "
                              "%s (fault #%d %s, call %llu)", op, a->key,
                              rdv_status_name(a->error->code),
                              a->error->id + 1,
                              rdv_fault_kinds[a->error->kind].name,
                              (unsigned long long)a->call);
    if (!a->stall)
        return RDV_OK;
    stall_ms = a->stall_ms >= 0 ? a->stall_ms
               : deadline == RDV_DEADLINE_NONE ? STALL_DEFAULT_MS
                                               : INT64_MAX / 2000000;
    if ((rc = nap_until(fs, after_ms(stall_ms, deadline))))
        return rdv_store_fail(s, rc, "%s '%s': store closed while stalled",
                              op, a->key);
    return rdv_store_fail(s, RDV_ETIMEDOUT, "%s '%s' timed out after %lld "
                          "ms: the store stalled (fault #%d store.stall, "
                          "call %llu)", op, a->key,
                          (long long)((rdv_now_ns() - start) / 1000000),
                          a->stall->id + 1, (unsigned long long)a->call);
}

/* store.stale with nothing older to serve: a replica that lags. The
 * key stays absent until ms after this handle first read it (so repeated
 * reads do not push the lag out), or for good without ms; a read whose
 * deadline comes first times out naming the key. */
static int stale_absent(fault_store *fs, const action *a, int64_t deadline)
{
    int64_t until = deadline, since;
    int rc;

    if (a->stale_ms >= 0) {
        pthread_mutex_lock(&fs->mu);
        since = rdv_fault_history_first_read(fs->history, a->stale_key,
                                             rdv_now_ns());
        pthread_mutex_unlock(&fs->mu);
        until = since + a->stale_ms * 1000000;
        if (until > deadline)
            until = deadline;
    }
    if (until == RDV_DEADLINE_NONE)
        until = after_ms(STALL_DEFAULT_MS, deadline);
    if ((rc = nap_until(fs, until)))
        return rdv_store_fail(&fs->w.base, rc, "%s '%s': store closed",
                              a->op, a->key);
    if (until < deadline)
        return RDV_OK;
    return rdv_store_fail(&fs->w.base, RDV_ETIMEDOUT, "%s timed out: key '%s' "
                          "missing (a stale replica, fault #%d store.stale, "
                          "call %llu)", a->op, a->key, a->stale->id + 1,
                          (unsigned long long)a->call);
}

static void remember(fault_store *fs, const char *key, const void *val,
                     size_t len)
{
    pthread_mutex_lock(&fs->mu);
    rdv_fault_history_note(fs->history, key, val, len);
    pthread_mutex_unlock(&fs->mu);
}

static int fs_set(rdv_store *s, const char *key, const void *val, size_t len,
                  int flags)
{
    action a;
    int rc = enter(FS(s), RDV_STORE_OP_SET, &key, 1, RDV_DEADLINE_NONE, &a);

    if (rc || a.lose)
        return rc;
    if ((rc = rdv_inner_set(s, key, val, len, flags)) == RDV_OK)
        remember(FS(s), key, val, len);
    return rc;
}

static int fs_get(rdv_store *s, const char *key, void **val, size_t *len,
                  int64_t deadline)
{
    action a;
    int rc = enter(FS(s), RDV_STORE_OP_GET, &key, 1, deadline, &a);

    if (rc)
        return rc;
    if (a.stale) {
        pthread_mutex_lock(&FS(s)->mu);
        rc = rdv_fault_history_previous(FS(s)->history, key, val, len);
        pthread_mutex_unlock(&FS(s)->mu);
        if (rc)
            return RDV_OK;
        if ((rc = stale_absent(FS(s), &a, deadline)))
            return rc;
    }
    if ((rc = rdv_inner_get(s, key, val, len, deadline)) == RDV_OK)
        remember(FS(s), key, *val, *len);
    return rc;
}

static int fs_wait(rdv_store *s, const char *const *keys, size_t n,
                   int64_t deadline)
{
    action a;
    int rc = enter(FS(s), RDV_STORE_OP_WAIT, keys, n, deadline, &a);

    if (rc || (a.stale && (rc = stale_absent(FS(s), &a, deadline))))
        return rc;
    return rdv_inner_wait(s, keys, n, deadline);
}

static int fs_multi_get(rdv_store *s, const char *const *keys, size_t n,
                        void **vals, size_t *lens, int64_t deadline)
{
    action a;
    int rc = enter(FS(s), RDV_STORE_OP_MULTI_GET, keys, n, deadline, &a);

    if (rc || (a.stale && (rc = stale_absent(FS(s), &a, deadline))))
        return rc;
    return rdv_inner_multi_get(s, keys, n, vals, lens, deadline);
}

/* Calls without a deadline and without a fault of their own: enter,
 * then go through unless dropped. */
#define THROUGH(s, op, keys, n, call)                                     \
    do {                                                                  \
        action a_;                                                        \
        int rc_ = enter(FS(s), (op), (keys), (n), RDV_DEADLINE_NONE, &a_); \
        if (rc_ || a_.lose)                                               \
            return rc_;                                                   \
        return (call);                                                    \
    } while (0)

static int fs_add(rdv_store *s, const char *key, int64_t delta,
                  int64_t *result)
{
    THROUGH(s, RDV_STORE_OP_ADD, &key, 1,
            rdv_inner_add(s, key, delta, result));
}

static int fs_compare_set(rdv_store *s, const char *key, const void *expected,
                          size_t expected_len, const void *desired,
                          size_t desired_len, int *won, void **cur,
                          size_t *cur_len)
{
    THROUGH(s, RDV_STORE_OP_COMPARE_SET, &key, 1,
            rdv_inner_compare_set(s, key, expected, expected_len, desired,
                                  desired_len, won, cur, cur_len));
}

static int fs_del(rdv_store *s, const char *key)
{
    THROUGH(s, RDV_STORE_OP_DELETE, &key, 1, rdv_inner_delete(s, key));
}

static int fs_list(rdv_store *s, const char *prefix, char ***keys, size_t *n)
{
    THROUGH(s, RDV_STORE_OP_LIST, &prefix, 1,
            rdv_inner_list(s, prefix, keys, n));
}

static int fs_num_keys(rdv_store *s, int64_t *n)
{
    THROUGH(s, RDV_STORE_OP_NUM_KEYS, NULL, 0, rdv_inner_num_keys(s, n));
}

static int fs_delete_prefix(rdv_store *s, const char *prefix,
                            size_t *deleted)
{
    THROUGH(s, RDV_STORE_OP_DELETE_PREFIX, &prefix, 1,
            rdv_inner_delete_prefix(s, prefix, deleted));
}

/* multi_set drops only the keys the losing fault's glob matches. */
static int fs_multi_set(rdv_store *s, const char *const *keys,
                        const void *const *vals, const size_t *lens,
                        size_t n)
{
    const char **k2 = NULL;
    const void **v2 = NULL;
    size_t *l2 = NULL, m = 0;
    action a;
    int rc = enter(FS(s), RDV_STORE_OP_MULTI_SET, keys, n, RDV_DEADLINE_NONE,
                   &a);

    if (rc)
        return rc;
    if (!a.lose)
        return rdv_inner_multi_set(s, keys, vals, lens, n);
    k2 = malloc(n * sizeof *k2);
    v2 = malloc(n * sizeof *v2);
    l2 = malloc(n * sizeof *l2);
    rc = k2 && v2 && l2 ? RDV_OK
                        : rdv_store_fail(s, RDV_ENOMEM, "out of memory");
    for (size_t i = 0; rc == RDV_OK && i < n; i++)
        if (a.lose->key[0] && fnmatch(a.lose->key, keys[i], 0) != 0) {
            k2[m] = keys[i];
            v2[m] = vals[i];
            l2[m++] = lens[i];
        }
    if (rc == RDV_OK && m)
        rc = rdv_inner_multi_set(s, k2, v2, l2, m);
    free(k2);
    free(v2);
    free(l2);
    return rc;
}

/* Wakes injected delays and stalls; the wrapper then cancels the inner
 * store's waiters. */
static void fs_cancel(rdv_store *s)
{
    pthread_mutex_lock(&FS(s)->mu);
    FS(s)->cancelled = 1;
    pthread_cond_broadcast(&FS(s)->cv);
    pthread_mutex_unlock(&FS(s)->mu);
}

static void fs_destroy(rdv_store *s)
{
    rdv_fault_history_destroy(FS(s)->history);
    pthread_cond_destroy(&FS(s)->cv);
    pthread_mutex_destroy(&FS(s)->mu);
    free(s);
}

static const rdv_wrapper_ops fault_ops = {
    .ops = {
        .name = "fault",
        .set = fs_set,
        .get = fs_get,
        .wait = fs_wait,
        .add = fs_add,
        .compare_set = fs_compare_set,
        .del = fs_del,
        .list = fs_list,
        .destroy = fs_destroy,
        .multi_get = fs_multi_get,
        .multi_set = fs_multi_set,
        .num_keys = fs_num_keys,
        .delete_prefix = fs_delete_prefix,
        .cancel = fs_cancel,
    },
};

static int has_store_faults(const rdv_fault_rank *fr)
{
    for (size_t k = 0; k < fr->n; k++)
        if (rdv_fault_info(&fr->faults[k])->family == RDV_FF_STORE &&
            rdv_fault_has_rank(&fr->faults[k], fr->rank))
            return 1;
    return 0;
}

int rdv_fault_rank_wrap_store(rdv_fault_rank *fr, rdv_store *inner,
                              rdv_store **out)
{
    pthread_condattr_t ca;
    fault_store *fs;

    if (!fr || !inner || !out)
        return RDV_EINVAL;
    if (!has_store_faults(fr)) {
        *out = inner;
        return RDV_OK;
    }
    if (!(fs = calloc(1, sizeof *fs)) ||
        !(fs->history = rdv_fault_history_create())) {
        free(fs);
        return RDV_ENOMEM;
    }
    pthread_mutex_init(&fs->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fs->cv, &ca);
    pthread_condattr_destroy(&ca);
    fs->fr = fr;
    rdv_wrapper_init(&fs->w, &fault_ops, inner);
    *out = &fs->w.base;
    return RDV_OK;
}
