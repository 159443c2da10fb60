/*
 * stores/prefix.c - scopes any store to "prefix/". A wrapper
 * (rdv_wrapper): every key gains the prefix on the way in and loses it
 * on the way out, and list, num_keys and delete_prefix see only this
 * scope, so two jobs on one server never see each other's keys.
 *
 * Choices:
 * - Every op with a key is changed; the scoped key reaches the inner
 *   store through rdv_inner_*, which may pass RDV_KEY_MAX by the
 *   prefix's length (RDV_SCOPED_KEY_MAX) where the public calls would
 *   refuse it.
 * - num_keys is the generic count over this store's own list, not the
 *   inner's count, which would see every scope.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

typedef struct prefix_store {
    rdv_wrapper w;
    char *prefix; /* "job7/" */
    size_t plen;
} prefix_store;

#define P(s) ((prefix_store *)(s))

/* Builds "prefix/key" (or "prefix/" + a list prefix) in a malloc'd
 * string; NULL, with the detail set, when out of memory or when the
 * result would pass the scoped key limit. */
static char *scoped(rdv_store *s, const char *key)
{
    size_t klen = strlen(key);
    char *k;

    if (P(s)->plen + klen > RDV_SCOPED_KEY_MAX) {
        rdv_store_fail(s, RDV_EINVAL, "key with prefix '%s' is longer "
                       "than %u bytes", P(s)->prefix, RDV_SCOPED_KEY_MAX);
        return NULL;
    }
    k = malloc(P(s)->plen + klen + 1);
    if (!k) {
        rdv_store_fail(s, RDV_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(k, P(s)->prefix, P(s)->plen);
    memcpy(k + P(s)->plen, key, klen + 1);
    return k;
}

static char **scoped_all(rdv_store *s, const char *const *keys, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof *out);

    for (size_t i = 0; out && i < n; i++) {
        out[i] = scoped(s, keys[i]);
        if (!out[i]) {
            rdv_store_list_free(out, i);
            return NULL;
        }
    }
    if (!out)
        rdv_store_fail(s, RDV_ENOMEM, "out of memory");
    return out;
}

/* The body of an op on one key: scope it, run `call` with k in its
 * place, free it. A macro because the ops differ in signature. */
#define ON_SCOPED(s, key, call)                      \
    do {                                             \
        char *k = scoped((s), (key));                \
        int rc_;                                     \
        if (!k)                                      \
            return RDV_EINVAL;                       \
        rc_ = (call);                                \
        free(k);                                     \
        return rc_;                                  \
    } while (0)

/* The same for an op on n keys, with ks in their place. */
#define ON_SCOPED_ALL(s, keys, n, call)              \
    do {                                             \
        char **ks = scoped_all((s), (keys), (n));    \
        int rc_;                                     \
        if (!ks)                                     \
            return RDV_EINVAL;                       \
        rc_ = (call);                                \
        rdv_store_list_free(ks, (n));                \
        return rc_;                                  \
    } while (0)

static int prefix_set(rdv_store *s, const char *key, const void *val,
                      size_t len, int flags)
{
    ON_SCOPED(s, key, rdv_inner_set(s, k, val, len, flags));
}

static int prefix_get(rdv_store *s, const char *key, void **val,
                      size_t *len, int64_t deadline)
{
    ON_SCOPED(s, key, rdv_inner_get(s, k, val, len, deadline));
}

static int prefix_add(rdv_store *s, const char *key, int64_t delta,
                      int64_t *result)
{
    ON_SCOPED(s, key, rdv_inner_add(s, k, delta, result));
}

static int prefix_compare_set(rdv_store *s, const char *key,
                              const void *expected, size_t expected_len,
                              const void *desired, size_t desired_len,
                              int *won, void **cur, size_t *cur_len)
{
    ON_SCOPED(s, key, rdv_inner_compare_set(s, k, expected, expected_len,
                                            desired, desired_len, won, cur,
                                            cur_len));
}

static int prefix_del(rdv_store *s, const char *key)
{
    ON_SCOPED(s, key, rdv_inner_delete(s, k));
}

static int prefix_delete_prefix(rdv_store *s, const char *prefix,
                                size_t *deleted)
{
    ON_SCOPED(s, prefix, rdv_inner_delete_prefix(s, k, deleted));
}

static int prefix_wait(rdv_store *s, const char *const *keys, size_t n,
                       int64_t deadline)
{
    ON_SCOPED_ALL(s, keys, n,
                  rdv_inner_wait(s, (const char *const *)ks, n, deadline));
}

static int prefix_multi_get(rdv_store *s, const char *const *keys, size_t n,
                            void **vals, size_t *lens, int64_t deadline)
{
    ON_SCOPED_ALL(s, keys, n,
                  rdv_inner_multi_get(s, (const char *const *)ks, n, vals,
                                      lens, deadline));
}

static int prefix_multi_set(rdv_store *s, const char *const *keys,
                            const void *const *vals, const size_t *lens,
                            size_t n)
{
    ON_SCOPED_ALL(s, keys, n,
                  rdv_inner_multi_set(s, (const char *const *)ks, vals,
                                      lens, n));
}

static int prefix_list(rdv_store *s, const char *prefix, char ***keys,
                       size_t *n)
{
    char *p = scoped(s, prefix);
    int rc;

    if (!p)
        return RDV_EINVAL;
    rc = rdv_inner_list(s, p, keys, n);
    free(p);
    /* Strip our prefix in place: each key is a malloc'd string. */
    for (size_t i = 0; rc == RDV_OK && i < *n; i++)
        memmove((*keys)[i], (*keys)[i] + P(s)->plen,
                strlen((*keys)[i]) - P(s)->plen + 1);
    return rc;
}

static void prefix_destroy(rdv_store *s)
{
    free(P(s)->prefix);
    free(s);
}

static const rdv_wrapper_ops prefix_ops = {
    .ops = {
        .name = "prefix",
        .set = prefix_set,
        .get = prefix_get,
        .wait = prefix_wait,
        .add = prefix_add,
        .compare_set = prefix_compare_set,
        .del = prefix_del,
        .list = prefix_list,
        .destroy = prefix_destroy,
        .multi_get = prefix_multi_get,
        .multi_set = prefix_multi_set,
        .num_keys = rdv_fallback_num_keys,
        .delete_prefix = prefix_delete_prefix,
    },
};

/* The bytes the inner store's own scopes already add: a prefix store is
 * a wrapper whose table holds prefix_list. */
static size_t inner_scope_len(const rdv_store *inner)
{
    return inner->ops->list == prefix_list ? P(inner)->plen : 0;
}

int rdv_store_prefix_open(rdv_store *inner, const char *prefix,
                          rdv_store **out)
{
    prefix_store *p;
    size_t plen;

    if (!inner || !prefix || !prefix[0] || !out)
        return RDV_EINVAL;
    plen = strlen(prefix);
    if (plen + 1 + inner_scope_len(inner) > RDV_SCOPED_KEY_MAX - RDV_KEY_MAX)
        return RDV_EINVAL; /* scopes may add at most 1024 bytes in all */
    p = calloc(1, sizeof *p);
    if (!p || !(p->prefix = malloc(plen + 2))) {
        free(p);
        return RDV_ENOMEM;
    }
    memcpy(p->prefix, prefix, plen);
    p->prefix[plen] = '/';
    p->prefix[plen + 1] = '\0';
    p->plen = plen + 1;
    rdv_wrapper_init(&p->w, &prefix_ops, inner);
    *out = &p->w.base;
    return RDV_OK;
}
