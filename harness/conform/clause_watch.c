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
 *   the rule rdv run --call-watch uses too); a call without a
 *   timeout of its own (set, add, list...) gets WATCH_NO_TIMEOUT_MS,
 *   above the bound such a store puts on it (timeout_ms: 5 s for redis
 *   and tcp, 30 s for exec, 10 s plus 100 ms a MiB for etcd and
 *   ZooKeeper), so a slow 64 MiB set is the store's to fail; one with
 *   no limit (timeout < 0) none: the clause's budget covers it.
 *   All far above what timeout-accuracy judges, so the watch names
 *   hangs and never judges precision.
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

#define WATCH_NO_TIMEOUT_MS 60000

typedef struct watch_store {
    rdv_wrapper w;
    rdv_clause_result *r;
} watch_store;

#define W(s) ((watch_store *)(s))

int clause_watch_begin(rdv_clause_result *r, int64_t bound_ms,
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
        snprintf(buf, cap, "%s blocked for %lld ms: %s", what,
                 (long long)((now_ns - t0) / 1000000), defect);
    }
    return oldest != 0;
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

/* Opens a watched call of op on key(s) carrying deadline. */
static int watch_timed(rdv_store *s, const char *op, const char *try_op,
                       const char *keys, int64_t deadline)
{
    int64_t left_ms = (deadline - rdv_now_ns()) / 1000000;

    rdv_store_fail(s, RDV_OK, "%s", "");
    if (deadline == RDV_DEADLINE_NONE)
        return clause_watch_begin(W(s)->r, 0, "", "%s %s (no timeout)", op,
                                  keys);
    if (left_ms <= 0)
        return clause_watch_begin(W(s)->r, rdv_call_bound_ms(0),
                                  "timeout 0 must try once", "%s %s "
                                  "(timeout 0)", try_op, keys);
    return clause_watch_begin(W(s)->r, rdv_call_bound_ms(left_ms),
                              "a call must end "
                              "at its timeout", "%s %s (timeout %lld ms)",
                              op, keys, (long long)left_ms);
}

/* Opens a watched call of an op without a timeout of its own. */
static int watch_plain(rdv_store *s, const char *op, const char *key)
{
    char k[64];

    rdv_store_fail(s, RDV_OK, "%s", "");
    return clause_watch_begin(W(s)->r, WATCH_NO_TIMEOUT_MS, "a call "
                              "without a timeout must not block", "%s "
                              "'%s'", op,
                              rdv_key_printable(key ? key : "", k, sizeof k));
}

#define WATCHED(s, begin, call)                                             \
    do {                                                                    \
        int slot_ = (begin), rc_ = (call);                                  \
        clause_watch_end(W(s)->r, slot_);                                   \
        return rc_;                                                         \
    } while (0)

static int w_set(rdv_store *s, const char *key, const void *val, size_t len,
                 int flags)
{
    WATCHED(s, watch_plain(s, flags & RDV_SET_CREATE_ONLY ? "create-only set"
                                                          : "set", key),
            rdv_inner_set(s, key, val, len, flags));
}

static int w_get(rdv_store *s, const char *key, void **val, size_t *len,
                 int64_t deadline)
{
    char keys[160];

    WATCHED(s, watch_timed(s, "get", "try_get",
                           keys_text(&key, 1, keys, sizeof keys), deadline),
            rdv_inner_get(s, key, val, len, deadline));
}

static int w_wait(rdv_store *s, const char *const *keys, size_t n,
                  int64_t deadline)
{
    char text[160];

    WATCHED(s, watch_timed(s, "wait", "check",
                           keys_text(keys, n, text, sizeof text), deadline),
            rdv_inner_wait(s, keys, n, deadline));
}

static int w_multi_get(rdv_store *s, const char *const *keys, size_t n,
                       void **vals, size_t *lens, int64_t deadline)
{
    char text[160];

    WATCHED(s, watch_timed(s, "multi_get", "multi_get",
                           keys_text(keys, n, text, sizeof text), deadline),
            rdv_inner_multi_get(s, keys, n, vals, lens, deadline));
}

static int w_add(rdv_store *s, const char *key, int64_t delta,
                 int64_t *result)
{
    WATCHED(s, watch_plain(s, "add", key),
            rdv_inner_add(s, key, delta, result));
}

static int w_compare_set(rdv_store *s, const char *key, const void *expected,
                         size_t expected_len, const void *desired,
                         size_t desired_len, int *won, void **cur,
                         size_t *cur_len)
{
    WATCHED(s, watch_plain(s, "compare_set", key),
            rdv_inner_compare_set(s, key, expected, expected_len, desired,
                                  desired_len, won, cur, cur_len));
}

static int w_del(rdv_store *s, const char *key)
{
    WATCHED(s, watch_plain(s, "delete", key), rdv_inner_delete(s, key));
}

static int w_list(rdv_store *s, const char *prefix, char ***keys, size_t *n)
{
    WATCHED(s, watch_plain(s, "list", prefix),
            rdv_inner_list(s, prefix, keys, n));
}

static int w_multi_set(rdv_store *s, const char *const *keys,
                       const void *const *vals, const size_t *lens, size_t n)
{
    WATCHED(s, watch_plain(s, "multi_set", n ? keys[0] : ""),
            rdv_inner_multi_set(s, keys, vals, lens, n));
}

static int w_num_keys(rdv_store *s, int64_t *n)
{
    WATCHED(s, watch_plain(s, "num_keys", ""), rdv_inner_num_keys(s, n));
}

static int w_delete_prefix(rdv_store *s, const char *prefix, size_t *deleted)
{
    WATCHED(s, watch_plain(s, "delete_prefix", prefix),
            rdv_inner_delete_prefix(s, prefix, deleted));
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
