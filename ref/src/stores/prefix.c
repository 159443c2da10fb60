/*
 * stores/prefix.c - scopes any store to "prefix/". A decorator: every
 * key gains the prefix on the way in and loses it on the way out, and
 * list, num_keys and delete_prefix see only this scope, so two jobs on
 * one server never see each other's keys.
 *
 * The decorator calls the inner backend's ops directly: the caller's
 * arguments were checked once at the outer handle, and the scoped key
 * may pass RDV_KEY_MAX by the prefix's length (RDV_SCOPED_KEY_MAX), which
 * the public entry points would refuse. The inner handle is closed only
 * from destroy(), after the outer gate has drained, so bypassing its
 * gate is safe.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

typedef struct prefix_store {
    rdv_store base;
    rdv_store *inner;
    char *prefix; /* "job7/" */
    size_t plen;
} prefix_store;

#define P(s) ((prefix_store *)(s))
#define IN(s) (P(s)->inner)
/* An optional inner op, or its generic fallback. */
#define INNER_OP(s, op) (IN(s)->ops->op ? IN(s)->ops->op : rdv_fallback_##op)

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

/* The inner store's detail becomes ours: it names the full key. */
static int pass(rdv_store *s, int rc)
{
    if (rc)
        rdv_store_fail(s, rc, "%s", rdv_store_errmsg(P(s)->inner));
    return rc;
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

static int prefix_set(rdv_store *s, const char *key, const void *val,
                      size_t len, int flags)
{
    char *k = scoped(s, key);
    int rc = k ? IN(s)->ops->set(IN(s), k, val, len, flags) : RDV_EINVAL;

    free(k);
    return k ? pass(s, rc) : rc;
}

static int prefix_get(rdv_store *s, const char *key, void **val,
                      size_t *len, int64_t deadline)
{
    char *k = scoped(s, key);
    int rc;

    if (!k)
        return RDV_EINVAL;
    rc = IN(s)->ops->get(IN(s), k, val, len, deadline);
    free(k);
    return pass(s, rc);
}

static int prefix_wait(rdv_store *s, const char *const *keys, size_t n,
                       int64_t deadline)
{
    char **ks = scoped_all(s, keys, n);
    int rc;

    if (!ks)
        return RDV_EINVAL;
    rc = IN(s)->ops->wait(IN(s), (const char *const *)ks, n, deadline);
    rdv_store_list_free(ks, n);
    return pass(s, rc);
}

static int prefix_multi_get(rdv_store *s, const char *const *keys, size_t n,
                            void **vals, size_t *lens, int64_t deadline)
{
    char **ks = scoped_all(s, keys, n);
    int rc;

    if (!ks)
        return RDV_EINVAL;
    rc = INNER_OP(s, multi_get)(IN(s), (const char *const *)ks, n, vals,
                                lens, deadline);
    rdv_store_list_free(ks, n);
    return pass(s, rc);
}

static int prefix_multi_set(rdv_store *s, const char *const *keys,
                            const void *const *vals, const size_t *lens,
                            size_t n)
{
    char **ks = scoped_all(s, keys, n);
    int rc;

    if (!ks)
        return RDV_EINVAL;
    rc = INNER_OP(s, multi_set)(IN(s), (const char *const *)ks, vals, lens,
                                n);
    rdv_store_list_free(ks, n);
    return pass(s, rc);
}

static int prefix_add(rdv_store *s, const char *key, int64_t delta,
                      int64_t *result)
{
    char *k = scoped(s, key);
    int rc = k ? IN(s)->ops->add(IN(s), k, delta, result) : RDV_EINVAL;

    free(k);
    return k ? pass(s, rc) : rc;
}

static int prefix_compare_set(rdv_store *s, const char *key,
                              const void *expected, size_t expected_len,
                              const void *desired, size_t desired_len,
                              int *won, void **cur, size_t *cur_len)
{
    char *k = scoped(s, key);
    int rc;

    if (!k)
        return RDV_EINVAL;
    rc = IN(s)->ops->compare_set(IN(s), k, expected, expected_len, desired,
                                 desired_len, won, cur, cur_len);
    free(k);
    return pass(s, rc);
}

static int prefix_del(rdv_store *s, const char *key)
{
    char *k = scoped(s, key);
    int rc = k ? IN(s)->ops->del(IN(s), k) : RDV_EINVAL;

    free(k);
    return k ? pass(s, rc) : rc;
}

static int prefix_list(rdv_store *s, const char *prefix, char ***keys,
                       size_t *n)
{
    char *p = scoped(s, prefix);
    int rc;

    if (!p)
        return RDV_EINVAL;
    rc = IN(s)->ops->list(IN(s), p, keys, n);
    free(p);
    /* Strip our prefix in place: each key is a malloc'd string. */
    for (size_t i = 0; rc == RDV_OK && i < *n; i++)
        memmove((*keys)[i], (*keys)[i] + P(s)->plen,
                strlen((*keys)[i]) - P(s)->plen + 1);
    return pass(s, rc);
}

static int prefix_delete_prefix(rdv_store *s, const char *prefix,
                                size_t *deleted)
{
    char *p = scoped(s, prefix);
    int rc;

    if (!p)
        return RDV_EINVAL;
    rc = INNER_OP(s, delete_prefix)(IN(s), p, deleted);
    free(p);
    return pass(s, rc);
}

static void prefix_cancel(rdv_store *s)
{
    rdv_store *in = P(s)->inner;

    if (in->ops->cancel)
        in->ops->cancel(in);
}

static void prefix_destroy(rdv_store *s)
{
    rdv_store_close(P(s)->inner);
    free(P(s)->prefix);
    free(s);
}

static size_t inner_scope_len(const rdv_store *inner);

static const rdv_store_ops prefix_ops = {
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
    .delete_prefix = prefix_delete_prefix,
    .cancel = prefix_cancel,
};

/* The bytes the inner store's own scopes already add. */
static size_t inner_scope_len(const rdv_store *inner)
{
    return inner->ops == &prefix_ops ? P(inner)->plen : 0;
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
    rdv_store_init(&p->base, &prefix_ops);
    memcpy(p->prefix, prefix, plen);
    p->prefix[plen] = '/';
    p->prefix[plen + 1] = '\0';
    p->plen = plen + 1;
    p->inner = inner;
    p->base.flags = inner->flags;
    *out = &p->base;
    return RDV_OK;
}
