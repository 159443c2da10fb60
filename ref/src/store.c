/*
 * store.c - the public rdv_store_* calls. They hold everything every
 * backend would otherwise repeat: argument checks, timeout-to-deadline
 * conversion, the fallbacks for optional ops, the close protocol, and
 * the error detail.
 *
 * Choices:
 * - Close protocol: each call enters a gate (a counter under a mutex).
 *   Close marks the handle closing, asks the backend to cancel blocked
 *   calls, waits for the counter to reach zero and only then destroys the
 *   backend, so no thread ever returns into freed memory.
 * - Deadlines: the *_until calls are the real entry points; the
 *   millisecond ones turn the timeout into a deadline once and call them.
 * - Error detail: one string per thread that failed on the handle, found
 *   by pthread_self() in a list under the gate mutex and written only by
 *   its own thread. A shared string would be a data race between threads
 *   sharing a handle, and could hand one thread another's message; one
 *   thread-local string for every handle would make the details of two
 *   handles (a wrapper and its inner store) the same string. A thread's
 *   first failure on a handle costs one malloc of RDV_DETAIL_MAX bytes,
 *   kept until close: one per thread that failed there (a new thread
 *   with a reused pthread_t takes over the entry).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* One thread's error detail on one handle. */
struct rdv_store_detail {
    struct rdv_store_detail *next;
    pthread_t thread;
    char text[RDV_DETAIL_MAX];
};

void rdv_store_init(rdv_store *s, const rdv_store_ops *ops)
{
    s->ops = ops;
    pthread_mutex_init(&s->gate, NULL);
    pthread_cond_init(&s->idle, NULL);
    s->calls = 0;
    s->closing = 0;
    s->flags = ops->flags;
    s->details = NULL;
}

/* The calling thread's detail on s, made (empty) on its first failure
 * when make is set; NULL when it has none or memory ran out. Only this
 * thread writes or reads the text, so only the list needs the lock. */
static char *detail_of(const rdv_store *s, int make)
{
    rdv_store *m = (rdv_store *)s; /* errmsg is const; the lock is not */
    pthread_t self = pthread_self();
    struct rdv_store_detail *d;

    pthread_mutex_lock(&m->gate);
    for (d = m->details; d && !pthread_equal(d->thread, self); d = d->next)
        ;
    if (!d && make && (d = malloc(sizeof *d))) {
        d->thread = self;
        d->text[0] = '\0';
        d->next = m->details;
        m->details = d;
    }
    pthread_mutex_unlock(&m->gate);
    return d ? d->text : NULL;
}

int rdv_store_fail(rdv_store *s, int status, const char *fmt, ...)
{
    char *text = detail_of(s, 1);
    va_list ap;

    if (text) {
        va_start(ap, fmt);
        vsnprintf(text, RDV_DETAIL_MAX, fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *rdv_store_errmsg(const rdv_store *s)
{
    const char *text;

    if (!s)
        return "no store";
    text = detail_of(s, 0);
    return text ? text : "";
}

unsigned rdv_store_flags(const rdv_store *s)
{
    return s ? s->flags : 0;
}

int rdv_store_is_inherited(const rdv_store *s)
{
    return s && (s->flags & RDV_STORE_INHERITED);
}

int rdv_store_contract_level(const rdv_store *s)
{
    if (!s)
        return 0;
    return (s->flags & RDV_STORE_GLOO_LEVEL) ? RDV_STORE_LEVEL_GLOO
                                              : RDV_STORE_LEVEL_FULL;
}

const char *rdv_store_name(const rdv_store *s)
{
    return s ? s->ops->name : "none";
}

const char *rdv_key_printable(const char *key, char *buf, size_t cap)
{
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)key;
         *p && o + 8 < cap; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            buf[o++] = (char)*p;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", *p);
    }
    if (o + 8 >= cap && key[0])
        o += (size_t)snprintf(buf + o, cap - o, "...");
    buf[o < cap ? o : cap - 1] = '\0';
    return buf;
}

static int check_key(rdv_store *s, const char *op, const char *key)
{
    if (!key)
        return rdv_store_fail(s, RDV_EINVAL, "%s: key is NULL", op);
    if (!key[0])
        return rdv_store_fail(s, RDV_EINVAL, "%s: key is empty", op);
    if (strnlen(key, RDV_KEY_MAX + 1) > RDV_KEY_MAX)
        return rdv_store_fail(s, RDV_EINVAL,
                              "%s: key is longer than %u bytes", op,
                              RDV_KEY_MAX);
    return RDV_OK;
}

static int check_keys(rdv_store *s, const char *op, const char *const *keys,
                      size_t n)
{
    if (n && !keys)
        return rdv_store_fail(s, RDV_EINVAL, "%s: key array is NULL", op);
    for (size_t i = 0; i < n; i++) {
        int rc = check_key(s, op, keys[i]);

        if (rc)
            return rc;
    }
    return RDV_OK;
}

static int check_value(rdv_store *s, const char *op, const char *key,
                       const void *val, size_t len)
{
    char k[128];

    if (len > RDV_VALUE_MAX)
        return rdv_store_fail(s, RDV_EINVAL,
                              "%s '%s': value of %zu bytes is larger than "
                              "the %u-byte limit", op,
                              rdv_key_printable(key, k, sizeof k), len,
                              RDV_VALUE_MAX);
    if (len && !val)
        return rdv_store_fail(s, RDV_EINVAL, "%s '%s': value is NULL", op,
                              rdv_key_printable(key, k, sizeof k));
    return RDV_OK;
}

static int gate_enter(rdv_store *s)
{
    int closing;

    pthread_mutex_lock(&s->gate);
    closing = s->closing;
    if (!closing)
        s->calls++;
    pthread_mutex_unlock(&s->gate);
    if (closing)
        return rdv_store_fail(s, RDV_ECANCELED, "store is closing");
    return RDV_OK;
}

static int gate_leave(rdv_store *s, int rc)
{
    pthread_mutex_lock(&s->gate);
    if (--s->calls == 0 && s->closing)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->gate);
    return rc;
}

/* Runs one backend call inside the gate. Written as a macro because the
 * ops differ in signature; it only brackets `call`. */
#define GATED(s, call)                          \
    do {                                        \
        int rc_ = gate_enter(s);                \
        if (rc_)                                \
            return rc_;                         \
        return gate_leave((s), (call));         \
    } while (0)

int rdv_store_calls_inside(rdv_store *s)
{
    int calls;

    pthread_mutex_lock(&s->gate);
    calls = s->calls;
    pthread_mutex_unlock(&s->gate);
    return calls;
}

void rdv_store_close(rdv_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->gate);
    s->closing = 1;
    pthread_mutex_unlock(&s->gate);
    if (s->ops->cancel)
        s->ops->cancel(s);
    pthread_mutex_lock(&s->gate);
    while (s->calls > 0)
        pthread_cond_wait(&s->idle, &s->gate);
    pthread_mutex_unlock(&s->gate);
    while (s->details) {
        struct rdv_store_detail *d = s->details;

        s->details = d->next;
        free(d);
    }
    pthread_mutex_destroy(&s->gate);
    pthread_cond_destroy(&s->idle);
    s->ops->destroy(s);
}

int rdv_store_set(rdv_store *s, const char *key, const void *val,
                  size_t len, int flags)
{
    int rc;

    if (!s)
        return RDV_EINVAL;
    if ((rc = check_key(s, "set", key)) ||
        (rc = check_value(s, "set", key, val, len)))
        return rc;
    if (flags & ~RDV_SET_CREATE_ONLY)
        return rdv_store_fail(s, RDV_EINVAL, "set: unknown flags 0x%x",
                              (unsigned)flags);
    GATED(s, s->ops->set(s, key, val ? val : "", len, flags));
}

int rdv_store_get_until(rdv_store *s, const char *key, void **val,
                        size_t *len, int64_t deadline)
{
    int rc;

    if (!s)
        return RDV_EINVAL;
    if ((rc = check_key(s, "get", key)))
        return rc;
    if (!val || !len)
        return rdv_store_fail(s, RDV_EINVAL, "get: output pointer is NULL");
    *val = NULL;
    *len = 0;
    GATED(s, s->ops->get(s, key, val, len, deadline));
}

int rdv_store_get(rdv_store *s, const char *key, void **val, size_t *len,
                  int timeout_ms)
{
    return rdv_store_get_until(s, key, val, len,
                               rdv_deadline_from_ms(timeout_ms));
}

int rdv_store_try_get(rdv_store *s, const char *key, void **val,
                      size_t *len)
{
    int rc = rdv_store_get_until(s, key, val, len, rdv_deadline_from_ms(0));
    char k[128];

    if (rc == RDV_ETIMEDOUT)
        rc = rdv_store_fail(s, RDV_ENOTFOUND, "key '%s' not found",
                            rdv_key_printable(key, k, sizeof k));
    return rc;
}

int rdv_store_wait_until(rdv_store *s, const char *const *keys, size_t n,
                         int64_t deadline)
{
    int rc;

    if (!s)
        return RDV_EINVAL;
    if ((rc = check_keys(s, "wait", keys, n)))
        return rc;
    if (n == 0)
        return RDV_OK;
    GATED(s, s->ops->wait(s, keys, n, deadline));
}

int rdv_store_wait(rdv_store *s, const char *const *keys, size_t n,
                   int timeout_ms)
{
    return rdv_store_wait_until(s, keys, n, rdv_deadline_from_ms(timeout_ms));
}

int rdv_store_check(rdv_store *s, const char *const *keys, size_t n)
{
    int rc = rdv_store_wait_until(s, keys, n, rdv_deadline_from_ms(0));

    /* Keep the backend's list of missing keys, change only the code. */
    return rc == RDV_ETIMEDOUT ? RDV_ENOTFOUND : rc;
}

int rdv_store_add(rdv_store *s, const char *key, int64_t delta,
                  int64_t *result)
{
    int64_t ignored;
    int rc;

    if (!s)
        return RDV_EINVAL;
    if ((rc = check_key(s, "add", key)))
        return rc;
    GATED(s, s->ops->add(s, key, delta, result ? result : &ignored));
}

int rdv_store_compare_set(rdv_store *s, const char *key,
                          const void *expected, size_t expected_len,
                          const void *desired, size_t desired_len,
                          int *won, void **cur, size_t *cur_len)
{
    int ignored_won;
    int rc;

    if (!s)
        return RDV_EINVAL;
    if ((rc = check_key(s, "compare_set", key)) ||
        (rc = check_value(s, "compare_set", key, desired, desired_len)) ||
        (expected && (rc = check_value(s, "compare_set", key, expected,
                                       expected_len))))
        return rc;
    if ((cur == NULL) != (cur_len == NULL))
        return rdv_store_fail(s, RDV_EINVAL,
                              "compare_set: cur and cur_len must both be "
                              "given or both be NULL");
    if (cur) {
        *cur = NULL;
        *cur_len = 0;
    }
    GATED(s, s->ops->compare_set(s, key, expected, expected_len,
                                 desired ? desired : "", desired_len,
                                 won ? won : &ignored_won, cur, cur_len));
}

int rdv_store_delete(rdv_store *s, const char *key)
{
    int rc;

    if (!s)
        return RDV_EINVAL;
    if ((rc = check_key(s, "delete", key)))
        return rc;
    GATED(s, s->ops->del(s, key));
}

int rdv_store_delete_prefix(rdv_store *s, const char *prefix,
                            size_t *deleted)
{
    size_t ignored;

    if (!s)
        return RDV_EINVAL;
    if (!prefix)
        prefix = "";
    GATED(s, (s->ops->delete_prefix ? s->ops->delete_prefix
                                    : rdv_fallback_delete_prefix)(
                 s, prefix, deleted ? deleted : &ignored));
}

int rdv_store_multi_get_until(rdv_store *s, const char *const *keys,
                              size_t n, void **vals, size_t *lens,
                              int64_t deadline)
{
    int rc;

    if (!s)
        return RDV_EINVAL;
    if ((rc = check_keys(s, "multi_get", keys, n)))
        return rc;
    if (n && (!vals || !lens))
        return rdv_store_fail(s, RDV_EINVAL,
                              "multi_get: output arrays are NULL");
    for (size_t i = 0; i < n; i++) {
        vals[i] = NULL;
        lens[i] = 0;
    }
    if (n == 0)
        return RDV_OK;
    GATED(s, (s->ops->multi_get ? s->ops->multi_get
                                : rdv_fallback_multi_get)(s, keys, n, vals,
                                                          lens, deadline));
}

int rdv_store_multi_get(rdv_store *s, const char *const *keys, size_t n,
                        void **vals, size_t *lens, int timeout_ms)
{
    return rdv_store_multi_get_until(s, keys, n, vals, lens,
                                     rdv_deadline_from_ms(timeout_ms));
}

int rdv_store_multi_set(rdv_store *s, const char *const *keys,
                        const void *const *vals, const size_t *lens,
                        size_t n)
{
    int rc;

    if (!s)
        return RDV_EINVAL;
    if ((rc = check_keys(s, "multi_set", keys, n)))
        return rc;
    if (n && (!vals || !lens))
        return rdv_store_fail(s, RDV_EINVAL,
                              "multi_set: value arrays are NULL");
    for (size_t i = 0; i < n; i++)
        if ((rc = check_value(s, "multi_set", keys[i], vals[i], lens[i])))
            return rc;
    if (n == 0)
        return RDV_OK;
    GATED(s, (s->ops->multi_set ? s->ops->multi_set
                                : rdv_fallback_multi_set)(s, keys, vals,
                                                          lens, n));
}

int rdv_store_list(rdv_store *s, const char *prefix, char ***keys,
                   size_t *n)
{
    if (!s)
        return RDV_EINVAL;
    if (!keys || !n)
        return rdv_store_fail(s, RDV_EINVAL, "list: output is NULL");
    *keys = NULL;
    *n = 0;
    GATED(s, s->ops->list(s, prefix ? prefix : "", keys, n));
}

void rdv_store_list_free(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

int rdv_store_num_keys(rdv_store *s, int64_t *n)
{
    if (!s)
        return RDV_EINVAL;
    if (!n)
        return rdv_store_fail(s, RDV_EINVAL, "num_keys: output is NULL");
    GATED(s, (s->ops->num_keys ? s->ops->num_keys
                               : rdv_fallback_num_keys)(s, n));
}
