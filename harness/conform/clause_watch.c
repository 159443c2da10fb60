/*
 * conform/clause_watch.c - the call watch: every store call a clause
 * makes is recorded, while it runs, in the clause's result
 * (rdv_clause_result.calls) with the bound past which it is a defect,
 * so the watchdog of `rdv conform` (conform_isolate.c) ends a hang as
 * soon as it is one and names it: "try_get 'missing' (timeout 0)
 * blocked for 2000 ms: timeout 0 must try once", not "no verdict after
 * 180000 ms".
 *
 * Choices:
 * - A wrapper store (rdv_wrapper) around the clause's scoped handle and
 *   every child's, so no clause has to remember to record its calls and
 *   the bound comes from the deadline the call really carries.
 * - Bounds: a call with a timeout gets rdv_call_bound_ms
 *   (common/call_bound.h: 2 s for timeout 0, else T plus max(2 s, T/2),
 *   the rule rdv run --call-watch uses too); a call without a timeout
 *   of its own (set, add, delete, list...) must not block and gets
 *   rdv_call_plain_bound_ms (6 s, plus a second a MiB it moves), so a
 *   store that hangs in a set is named within seconds, while redis
 *   under ASan, etcd, ZooKeeper or an exec adapter on a loaded host
 *   answer far inside it; one with no limit (timeout < 0) none: the
 *   clause's budget covers it. All far above what timeout-accuracy
 *   judges, so the watch names hangs and never judges precision.
 * - Every call is timed, and the thread keeps the last one (what, the
 *   status, how long, the detail right after it) until a verdict
 *   quotes it (clause_watch_quote): so every failure's evidence says
 *   how long the call it judges took, from one place, not per clause.
 * - Each call clears the handle's detail for its thread first, so a
 *   failure quotes what this call said, never what an earlier one left.
 * - Slots are claimed with an atomic exchange and published by t0_ns;
 *   no locks, since the watchdog reads them from another process. With
 *   every slot taken a call goes unwatched; the budget still holds.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/call_bound.h"
#include "conform/clause.h"
#include "rdv/store_ops.h"

typedef struct watch_store {
    rdv_wrapper w;
    rdv_clause_result *r;
} watch_store;

#define W(s) ((watch_store *)(s))

int clause_watch_begin(rdv_clause_result *r, int64_t bound_ms, int plain,
                       const char *defect, const char *fmt, ...)
{
    for (int i = 0; r && i < RDV_CLAUSE_CALLS; i++) {
        rdv_clause_call *k = &r->calls[i];
        va_list ap;

        if (__atomic_exchange_n(&k->busy, 1, __ATOMIC_ACQUIRE))
            continue;
        va_start(ap, fmt);
        vsnprintf(k->what, sizeof k->what, fmt, ap);
        va_end(ap);
        snprintf(k->defect, sizeof k->defect, "%s", defect);
        k->bound_ms = bound_ms;
        k->plain = plain;
        __atomic_store_n(&k->t0_ns, rdv_now_ns(), __ATOMIC_RELEASE);
        return i;
    }
    return -1;
}

void clause_watch_end(rdv_clause_result *r, int slot)
{
    if (!r || slot < 0)
        return;
    __atomic_store_n(&r->calls[slot].t0_ns, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&r->calls[slot].busy, 0, __ATOMIC_RELEASE);
}

int rdv_clause_overrun(const rdv_clause_result *r, int64_t now_ns, char *buf,
                       size_t cap)
{
    int64_t oldest = 0;
    int plain = 0;

    for (int i = 0; i < RDV_CLAUSE_CALLS; i++) {
        const rdv_clause_call *k = &r->calls[i];
        int64_t t0 = __atomic_load_n(&k->t0_ns, __ATOMIC_ACQUIRE);
        char what[sizeof k->what], defect[sizeof k->defect];
        int64_t bound = k->bound_ms;

        if (!t0 || !bound || now_ns - t0 <= bound * 1000000 ||
            (oldest && t0 >= oldest))
            continue;
        memcpy(what, k->what, sizeof what);
        memcpy(defect, k->defect, sizeof defect);
        what[sizeof what - 1] = defect[sizeof defect - 1] = '\0';
        /* The call may have ended, and its slot been reused, while we
         * copied: judge it only if it is still the same call. */
        if (__atomic_load_n(&k->t0_ns, __ATOMIC_ACQUIRE) != t0)
            continue;
        oldest = t0;
        plain = k->plain;
        snprintf(buf, cap, "%s blocked for %lld ms: %s", what,
                 (long long)((now_ns - t0) / 1000000), defect);
    }
    return !oldest ? 0 : plain ? 2 : 1;
}

/* "'a', 'b', ... (3 keys)" for a list of keys. */
static const char *keys_text(const char *const *keys, size_t n, char *buf,
                             size_t cap)
{
    char k[64];
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && i < 2 && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s'%s'", i ? ", " : "",
                              rdv_key_printable(keys[i], k, sizeof k));
    if (n > 2 && o < cap)
        snprintf(buf + o, cap - o, ", ... (%zu keys)", n);
    return buf;
}

/* One call through a watched handle: what it is, its slot, its start. */
typedef struct watch_call {
    char what[200];
    int slot;
    int try_once; /* timeout 0: RDV_ETIMEDOUT reaches the caller as
                     RDV_ENOTFOUND (store.c) */
    int64_t t0_ns;
} watch_call;

/* The last call this thread made through a watched handle, for the
 * evidence of the verdict that follows it (clause_watch_quote). */
typedef struct watch_last {
    const rdv_store *s; /* NULL: none since the last verdict */
    char what[200];
    int rc;
    int64_t ns;
    char detail[240]; /* the handle's detail right after the call */
} watch_last;

static __thread watch_last last_call;

static void watch_start(rdv_store *s, watch_call *k, int64_t bound_ms,
                        int plain, const char *defect)
{
    rdv_store_fail(s, RDV_OK, "%s", "");
    k->try_once = 0;
    k->slot = clause_watch_begin(W(s)->r, bound_ms, plain, defect, "%s",
                                 k->what);
    k->t0_ns = rdv_now_ns();
}

/* Opens a watched call of op on key(s) carrying deadline. */
static void watch_timed(rdv_store *s, watch_call *k, const char *op,
                        const char *try_op, const char *keys,
                        int64_t deadline)
{
    int64_t left_ms = (deadline - rdv_now_ns()) / 1000000;

    if (deadline == RDV_DEADLINE_NONE) {
        snprintf(k->what, sizeof k->what, "%s %s (no timeout)", op, keys);
        watch_start(s, k, 0, 0, "");
    } else if (left_ms <= 0) {
        snprintf(k->what, sizeof k->what, "%s %s (timeout 0)", try_op, keys);
        watch_start(s, k, rdv_call_bound_ms(0), 0,
                    "timeout 0 must try once");
        k->try_once = 1;
    } else {
        snprintf(k->what, sizeof k->what, "%s %s (timeout %lld ms)", op,
                 keys, (long long)left_ms);
        watch_start(s, k, rdv_call_bound_ms(left_ms), 0,
                    "a call must end at its timeout");
    }
}

/* Opens a watched call of an op without a timeout of its own, moving
 * bytes: bounded by rdv_call_plain_bound_ms, since such a call must not
 * block ("set 'k' blocked for 6001 ms: a set must not block"). Counted
 * as one caller: a clause's racers (8 at most, mp-add) have always ended
 * far inside the base bound, and a tight bound is what names a hanging
 * set within seconds. */
static void watch_plain(rdv_store *s, watch_call *k, const char *op,
                        const char *key, uint64_t bytes)
{
    char kp[64], defect[64];

    snprintf(k->what, sizeof k->what, "%s '%s'", op,
             rdv_key_printable(key ? key : "", kp, sizeof kp));
    snprintf(defect, sizeof defect, "%s %s must not block",
             rdv_call_article(op), op);
    watch_start(s, k, rdv_call_plain_bound_ms(bytes, 1), 1, defect);
}

/* Closes a watched call: frees its slot and keeps it as the thread's
 * last call, with its duration and the detail it left. */
static int watch_done(rdv_store *s, watch_call *k, int rc)
{
    watch_last *l = &last_call;

    l->ns = rdv_now_ns() - k->t0_ns;
    clause_watch_end(W(s)->r, k->slot);
    l->s = s;
    /* in the terms the clause sees */
    l->rc = k->try_once && rc == RDV_ETIMEDOUT ? RDV_ENOTFOUND : rc;
    memcpy(l->what, k->what, sizeof l->what);
    snprintf(l->detail, sizeof l->detail, "%s",
             rc == RDV_OK ? "" : rdv_store_errmsg(s));
    return rc;
}

size_t clause_watch_quote(char *buf, size_t cap)
{
    watch_last *l = &last_call;
    int n;

    if (!l->s || cap == 0)
        return 0;
    n = snprintf(buf, cap, "%s returned %s after %.1f ms%s%s%s", l->what,
                 rdv_status_name(l->rc), (double)l->ns / 1e6,
                 l->rc == RDV_OK ? "" : " (detail: ",
                 l->rc == RDV_OK ? "" : l->detail[0] ? l->detail
                                                     : "none given",
                 l->rc == RDV_OK ? "" : ")");
    l->s = NULL;
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

int clause_watch_pending(void)
{
    return last_call.s != NULL;
}

void clause_watch_forget(void)
{
    last_call.s = NULL;
}

static int w_set(rdv_store *s, const char *key, const void *val, size_t len,
                 int flags)
{
    watch_call k;

    watch_plain(s, &k, flags & RDV_SET_CREATE_ONLY ? "create-only set"
                                                   : "set", key, len);
    return watch_done(s, &k, rdv_inner_set(s, key, val, len, flags));
}

static int w_get(rdv_store *s, const char *key, void **val, size_t *len,
                 int64_t deadline)
{
    char keys[160];
    watch_call k;

    watch_timed(s, &k, "get", "try_get", keys_text(&key, 1, keys,
                                                   sizeof keys), deadline);
    return watch_done(s, &k, rdv_inner_get(s, key, val, len, deadline));
}

static int w_wait(rdv_store *s, const char *const *keys, size_t n,
                  int64_t deadline)
{
    char text[160];
    watch_call k;

    watch_timed(s, &k, "wait", "check", keys_text(keys, n, text,
                                                  sizeof text), deadline);
    return watch_done(s, &k, rdv_inner_wait(s, keys, n, deadline));
}

static int w_multi_get(rdv_store *s, const char *const *keys, size_t n,
                       void **vals, size_t *lens, int64_t deadline)
{
    char text[160];
    watch_call k;

    watch_timed(s, &k, "multi_get", "multi_get",
                keys_text(keys, n, text, sizeof text), deadline);
    return watch_done(s, &k, rdv_inner_multi_get(s, keys, n, vals, lens,
                                                 deadline));
}

static int w_add(rdv_store *s, const char *key, int64_t delta,
                 int64_t *result)
{
    watch_call k;

    watch_plain(s, &k, "add", key, 0);
    return watch_done(s, &k, rdv_inner_add(s, key, delta, result));
}

static int w_compare_set(rdv_store *s, const char *key, const void *expected,
                         size_t expected_len, const void *desired,
                         size_t desired_len, int *won, void **cur,
                         size_t *cur_len)
{
    watch_call k;

    watch_plain(s, &k, "compare_set", key, expected_len + desired_len);
    return watch_done(s, &k, rdv_inner_compare_set(s, key, expected,
                                                   expected_len, desired,
                                                   desired_len, won, cur,
                                                   cur_len));
}

static int w_del(rdv_store *s, const char *key)
{
    watch_call k;

    watch_plain(s, &k, "delete", key, 0);
    return watch_done(s, &k, rdv_inner_delete(s, key));
}

static int w_list(rdv_store *s, const char *prefix, char ***keys, size_t *n)
{
    watch_call k;

    watch_plain(s, &k, "list", prefix, 0);
    return watch_done(s, &k, rdv_inner_list(s, prefix, keys, n));
}

static int w_multi_set(rdv_store *s, const char *const *keys,
                       const void *const *vals, const size_t *lens, size_t n)
{
    uint64_t bytes = 0;
    watch_call k;

    for (size_t i = 0; i < n; i++)
        bytes += lens[i];
    watch_plain(s, &k, "multi_set", n ? keys[0] : "", bytes);
    return watch_done(s, &k, rdv_inner_multi_set(s, keys, vals, lens, n));
}

static int w_num_keys(rdv_store *s, int64_t *n)
{
    watch_call k;

    watch_plain(s, &k, "num_keys", "", 0);
    return watch_done(s, &k, rdv_inner_num_keys(s, n));
}

static int w_delete_prefix(rdv_store *s, const char *prefix, size_t *deleted)
{
    watch_call k;

    watch_plain(s, &k, "delete_prefix", prefix, 0);
    return watch_done(s, &k, rdv_inner_delete_prefix(s, prefix, deleted));
}

static const rdv_wrapper_ops watch_ops = {
    .ops = {
        .name = "conform-watch",
        .set = w_set,
        .get = w_get,
        .wait = w_wait,
        .add = w_add,
        .compare_set = w_compare_set,
        .del = w_del,
        .list = w_list,
        .multi_get = w_multi_get,
        .multi_set = w_multi_set,
        .num_keys = w_num_keys,
        .delete_prefix = w_delete_prefix,
    },
};

rdv_store *clause_watch_store(rdv_clause_result *r, rdv_store *inner)
{
    watch_store *w = calloc(1, sizeof *w);

    if (!w) {
        rdv_store_close(inner);
        return NULL;
    }
    w->r = r;
    rdv_wrapper_init(&w->w, &watch_ops, inner);
    return &w->w.base;
}
