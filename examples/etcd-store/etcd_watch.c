/*
 * etcd_watch.c - the etcd plugin's blocking reads: get, wait and
 * multi_get, all one loop (await) that reads the keys, then watches for
 * the missing ones from the revision it read.
 *
 * Choices:
 * - Read, then watch from read revision + 1: etcd replays every event
 *   after that revision, so a key set between the read and the watch is
 *   never missed, and nothing polls. Values come from the watch's PUT
 *   events themselves; no second read.
 * - The keys are read in txns of up to ETCD_TXN_OPS range requests (one
 *   trip for a rendezvous batch of 64), and one watch covers the range
 *   from the smallest missing key to the largest: events for other keys
 *   in between are skipped with a binary search over the sorted keys.
 * - The watch ends at the deadline (the stream is aborted) or at
 *   cancel(). A broken stream (its member died) fails over to the next
 *   endpoint: the missing keys are read again there and watched anew. A
 *   watch refused because its revision was compacted reads again too.
 * - timeout 0 reads once and never watches; that read gets timeout_ms
 *   (the plugin's I/O bound), so even a try-once read may fail over.
 *   Other reads get the op's deadline: a wait without one rides out an
 *   outage of any length, until cancel().
 */
#define _GNU_SOURCE /* qsort_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_store.h"

#define WATCH_RETRY_FIRST_MS 10
#define WATCH_RETRY_MAX_MS 200

typedef struct await {
    etcd_store *s;
    const etcd_op *op;
    const char *const *keys;
    size_t n;
    int want;      /* fetch values (get, multi_get) or not (wait) */
    void **vals;   /* with want: vals[i], lens[i] once present */
    size_t *lens;
    unsigned char *present;
    size_t *order; /* key indices sorted by key bytes */
    size_t missing;
    int64_t rev;   /* the revision the last read saw */
    int compacted; /* the watch's start revision is gone: read again */
} await;

static int by_key(const void *a, const void *b, void *keys)
{
    const char *const *k = keys;

    return strcmp(k[*(const size_t *)a], k[*(const size_t *)b]);
}

/* Marks key i present with an owned value (or none). */
static void mark(await *a, size_t i, void *val, size_t len)
{
    if (a->want) {
        free(a->vals[i]);
        a->vals[i] = val;
        a->lens[i] = len;
    } else {
        free(val);
    }
    a->missing -= !a->present[i];
    a->present[i] = 1;
}

/* Reads the missing keys (txns of range requests) into a. */
static int read_missing(await *a, int64_t deadline)
{
    size_t idx[ETCD_TXN_OPS];
    int rc = RDV_OK;

    a->rev = 0;
    for (size_t i = 0; i < a->n && rc == RDV_OK;) {
        json_t *txn = NULL, *kvs;
        size_t m = 0;
        etcd_reply r;
        int64_t rev;

        for (; i < a->n && m < ETCD_TXN_OPS; i++) {
            const char *k = a->keys[i];

            if (a->present[i])
                continue;
            idx[m++] = i;
            if (etcd_txn_add(&txn, "request_range",
                             etcd_req_range(k, strlen(k), NULL, 0, !a->want,
                                            0)))
                rc = kit_fail(RDV_ENOMEM, "%s: out of memory", a->op->name);
        }
        if (m == 0 || rc) {
            json_decref(txn);
            break;
        }
        rc = etcd_call(a->s, a->op, "/v3/kv/txn", txn, deadline, &r);
        json_decref(txn);
        if (rc)
            break;
        rev = etcd_reply_revision(r.json);
        if (!a->rev || rev < a->rev)
            a->rev = rev;
        for (size_t j = 0; j < m && rc == RDV_OK; j++) {
            void *val = NULL;
            size_t len = 0;

            if (json_array_size(kvs = etcd_txn_kvs(r.json, j)) == 0)
                continue;
            if (a->want)
                rc = etcd_kv_value(json_array_get(kvs, 0), &val, &len);
            if (rc == RDV_OK)
                mark(a, idx[j], val, len);
        }
        json_decref(r.json);
        if (rc && rc != RDV_ENOMEM)
            rc = kit_fail(RDV_EPROTO, "%s on etcd: a value in the reply is "
                          "not base64", a->op->name);
    }
    return rc;
}

/* Applies one watch event to the missing keys it names. A PUT makes a
 * key present; a DELETE changes nothing: the key did exist after the
 * call began, which is what a wait waits for. */
static int apply_event(await *a, json_t *ev)
{
    json_t *kvobj = json_object_get(ev, "kv");
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *const *keys = a->keys;
    size_t lo = 0, hi = a->n;
    etcd_kv kv;
    int rc;

    if (type && strcmp(type, "DELETE") == 0)
        return RDV_OK;
    if ((rc = etcd_kv_read(kvobj, 0, &kv)))
        return rc;
    while (lo < hi) { /* the first sorted key >= kv.key */
        size_t mid = (lo + hi) / 2;

        if (strcmp(keys[a->order[mid]], kv.key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; rc == RDV_OK && lo < a->n && !strcmp(keys[a->order[lo]], kv.key);
         lo++) {
        size_t i = a->order[lo];
        void *val = NULL;
        size_t len = 0;

        if (!a->present[i] && (!a->want ||
                               (rc = etcd_kv_value(kvobj, &val, &len)) == 0))
            mark(a, i, val, len);
    }
    etcd_kv_free(&kv);
    return rc;
}

static int on_watch_line(void *arg, json_t *line)
{
    await *a = arg;
    json_t *res = json_object_get(line, "result"), *ev;
    const char *why;
    size_t i;

    if (!res) {
        why = json_string_value(json_object_get(
            json_object_get(line, "error"), "message"));
        return kit_fail(RDV_EIO, "%s on etcd: the watch failed: %s",
                        a->op->name, why ? why : "no reason given");
    }
    if (json_is_true(json_object_get(res, "canceled"))) {
        if (etcd_json_int(res, "compact_revision")) {
            a->compacted = 1;
            return 1;
        }
        why = json_string_value(json_object_get(res, "cancel_reason"));
        return kit_fail(RDV_EIO, "%s on etcd: the server canceled the "
                        "watch: %s", a->op->name, why ? why : "no reason");
    }
    json_array_foreach(json_object_get(res, "events"), i, ev) {
        int rc = apply_event(a, ev);

        if (rc)
            return rc == RDV_ENOMEM ? kit_fail(rc, "%s: out of memory",
                                               a->op->name)
                                    : kit_fail(rc, "%s on etcd: unreadable "
                                               "watch event", a->op->name);
    }
    return a->missing == 0;
}

/* One watch over the missing keys from a->rev + 1. */
static int watch_missing(await *a, int64_t deadline)
{
    const char *lo = NULL, *hi = NULL;
    unsigned ep = atomic_load(&a->s->current);
    json_t *req;
    char *end;
    size_t hlen;
    int rc;

    for (size_t j = 0; j < a->n; j++) {
        const char *k = a->keys[a->order[j]];

        if (a->present[a->order[j]])
            continue;
        lo = lo ? lo : k;
        hi = k;
    }
    hlen = strlen(hi);
    if (!(end = malloc(hlen + 1)))
        return kit_fail(RDV_ENOMEM, "%s: out of memory", a->op->name);
    memcpy(end, hi, hlen);
    end[hlen] = '\0'; /* the key right after hi: hi + "\0" */
    req = etcd_req_watch(lo, strlen(lo), end, hlen + 1, a->rev + 1);
    free(end);
    if (!req)
        return kit_fail(RDV_ENOMEM, "%s: out of memory", a->op->name);
    a->compacted = 0;
    rc = etcd_stream(a->s, a->op, ep, req, deadline, on_watch_line, a);
    json_decref(req);
    if (rc == RDV_ECONN) /* that member is gone: the next one */
        atomic_compare_exchange_strong(&a->s->current, &ep, ep + 1);
    return rc;
}

/* The timeout's detail: the keys still missing, and why the last try
 * failed when it did (cause, or NULL). */
static int timed_out(const await *a, int64_t t0, const char *cause)
{
    char k[160], list[512], why[512];

    snprintf(why, sizeof why, "%s%s%s", cause ? " (" : "", cause ? cause : "",
             cause ? ")" : "");
    if (a->n == 1 && a->want)
        return kit_fail(RDV_ETIMEDOUT, "%s '%s' on etcd timed out after %lld "
                        "ms%s", a->op->name,
                        kit_printable(a->keys[0], k, sizeof k),
                        kit_ms_since(t0), why);
    kit_missing(list, sizeof list, a->keys, a->n, a->present);
    return kit_fail(RDV_ETIMEDOUT, "%s on etcd timed out after %lld ms: "
                    "%s%s", a->op->name, kit_ms_since(t0), list, why);
}

/* The loop of get, wait and multi_get: read, then watch what is missing,
 * until every key was seen or the deadline. */
static int await_keys(await *a, int timeout_ms)
{
    int64_t t0 = kit_now_ns(), deadline = kit_deadline(timeout_ms);
    int64_t read_deadline = timeout_ms != 0 ? deadline
                                           : etcd_io_deadline(a->s, 0);
    int broken = 0, rc;

    char cause[512];

    for (size_t i = 0; i < a->n; i++)
        a->order[i] = i;
    qsort_r(a->order, a->n, sizeof *a->order, by_key, (void *)a->keys);
    a->missing = a->n;
    for (;;) {
        rc = read_missing(a, read_deadline);
        if (rc == RDV_ETIMEDOUT && timeout_ms > 0) {
            snprintf(cause, sizeof cause, "%s", kit_detail());
            rc = timed_out(a, t0, cause);
        }
        if (rc || a->missing == 0)
            break;
        if (timeout_ms == 0 || kit_now_ns() >= deadline) {
            rc = timed_out(a, t0, NULL);
            break;
        }
        rc = watch_missing(a, deadline);
        if (rc == RDV_OK && !a->compacted)
            break;
        if (rc == RDV_ETIMEDOUT) {
            rc = timed_out(a, t0, NULL);
            break;
        }
        if (rc && rc != RDV_ECONN)
            break;
        if (rc == RDV_ECONN) { /* fail over after a pause */
            snprintf(cause, sizeof cause, "%s", kit_detail());
            if ((rc = etcd_pause(a->s, kit_backoff_ms(broken++,
                                                      WATCH_RETRY_FIRST_MS,
                                                      WATCH_RETRY_MAX_MS)))) {
                rc = kit_fail(rc, "%s on etcd: canceled (the store is "
                              "closing)", a->op->name);
                break;
            }
            if (kit_now_ns() >= deadline) {
                rc = timed_out(a, t0, cause);
                break;
            }
        }
    }
    return rc;
}

/* get, wait and multi_get (a kit_await_fn). */
static int await_run(void *s, const char *name, const char *const *keys,
                     size_t n, void **vals, size_t *lens, int timeout_ms)
{
    etcd_op op = {name, n == 1 ? keys[0] : NULL, 0};
    await a = {s, &op, keys, n, vals != NULL, vals, lens,
               calloc(n ? n : 1, 1), calloc(n ? n : 1, sizeof(size_t)), 0, 0,
               0};
    int rc;

    if (!a.present || !a.order)
        rc = kit_fail(RDV_ENOMEM, "%s: out of memory", name);
    else
        rc = await_keys(&a, timeout_ms);
    free(a.present);
    free(a.order);
    return rc;
}

int etcd_get(void *h, const char *key, void **val, size_t *len,
             int timeout_ms)
{
    return kit_await(await_run, h, "get", &key, 1, val, len, timeout_ms);
}

int etcd_wait(void *h, const char *const *keys, size_t n, int timeout_ms)
{
    return kit_await(await_run, h, "wait", keys, n, NULL, NULL, timeout_ms);
}

int etcd_multi_get(void *h, const char *const *keys, size_t n, void **vals,
                   size_t *lens, int timeout_ms)
{
    return kit_await(await_run, h, "multi_get", keys, n, vals, lens,
                     timeout_ms);
}
