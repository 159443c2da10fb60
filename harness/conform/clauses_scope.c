/*
 * conform/clauses_scope.c - delete, batches, list/num_keys scoping, and
 * cleanup by prefix: the parts that decide whether a finished
 * rendezvous leaves anything behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform/clause.h"
#include "conform/clauses.h"

static int check_delete(clause_ctx *c)
{
    void *v = NULL;
    size_t len;

    if (!clause_expect(c, c->s, "set", rdv_store_set(c->s, "d", "1", 1, 0),
                       RDV_OK) ||
        !clause_expect(c, c->s, "delete", rdv_store_delete(c->s, "d"),
                       RDV_OK) ||
        !clause_expect(c, c->s, "try_get deleted",
                       rdv_store_try_get(c->s, "d", &v, &len),
                       RDV_ENOTFOUND) ||
        !clause_expect(c, c->s, "get deleted",
                       rdv_store_get(c->s, "d", &v, &len, 100),
                       RDV_ETIMEDOUT) ||
        !clause_expect(c, c->s, "delete missing",
                       rdv_store_delete(c->s, "d"), RDV_OK) ||
        !clause_expect(c, c->s, "set again",
                       rdv_store_set(c->s, "d", "2", 1, RDV_SET_CREATE_ONLY),
                       RDV_OK))
        return 0;
    return clause_pass(c, "a deleted key is gone, can be created again, "
                       "and deleting a missing key is RDV_OK");
}
RDV_CLAUSE_SCOPED(delete)

#define BATCH 64

static int check_multi(clause_ctx *c)
{
    char names[BATCH][16], vals[BATCH][16];
    const char *keys[BATCH];
    const void *in[BATCH];
    size_t lens[BATCH], outlens[BATCH];
    void *out[BATCH];
    int ok = 1;

    for (int i = 0; i < BATCH; i++) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        lens[i] = (size_t)snprintf(vals[i], sizeof vals[i], "v%d", i * 7);
        keys[i] = names[i];
        in[i] = vals[i];
    }
    if (!clause_expect(c, c->s, "multi_set",
                       rdv_store_multi_set(c->s, keys, in, lens, BATCH),
                       RDV_OK) ||
        !clause_expect(c, c->s, "multi_get",
                       rdv_store_multi_get(c->s, keys, BATCH, out, outlens,
                                           5000), RDV_OK))
        return 0;
    for (int i = 0; i < BATCH; i++) {
        if (ok && (outlens[i] != lens[i] || memcmp(out[i], vals[i], lens[i])))
            ok = clause_fail(c, "multi_get returned the wrong value for %s",
                             names[i]);
        free(out[i]);
    }
    if (!ok)
        return 0;
    keys[BATCH - 1] = "absent";
    if (!clause_expect(c, c->s, "multi_get with an absent key",
                       rdv_store_multi_get(c->s, keys, BATCH, out, outlens,
                                           100), RDV_ETIMEDOUT))
        return 0;
    for (int i = 0; i < BATCH; i++)
        if (out[i])
            return clause_fail(c, "a failed multi_get left value %d set", i);
    return clause_pass(c, "%d keys set and read in one call; a missing "
                       "key times out", BATCH);
}
RDV_CLAUSE_SCOPED(multi)

static int count_listed(clause_ctx *c, rdv_store *s, const char *prefix,
                        size_t *n)
{
    char **keys = NULL;
    int rc = rdv_store_list(s, prefix, &keys, n);

    rdv_store_list_free(keys, *n);
    return clause_expect(c, s, "list", rc, RDV_OK);
}

/* A fresh handle on the clause's URL scoped to "<clause prefix>/name". */
static rdv_store *open_scope(clause_ctx *c, const char *name)
{
    char prefix[128], err[256];
    rdv_store *raw, *scoped;

    snprintf(prefix, sizeof prefix, "%s/%s", c->prefix, name);
    if (rdv_store_open(c->env->url, &raw, err, sizeof err))
        return NULL;
    if (rdv_store_prefix_open(raw, prefix, &scoped)) {
        rdv_store_close(raw);
        return NULL;
    }
    return clause_watch_store(c->r, scoped);
}

static void close_scope(clause_ctx *c, rdv_store *s)
{
    if (s)
        rdv_store_delete_prefix(s, "", NULL);
    clause_close(c, s);
}

static int check_list_scope(clause_ctx *c)
{
    rdv_store *a = open_scope(c, "jobA"), *b = open_scope(c, "jobB");
    size_t na = 0, nb = 0, nx = 0;
    int64_t ka = -1;
    int ok = a && b;

    if (!ok)
        clause_fail(c, "cannot open two prefix scopes on %s", c->env->url);
    ok = ok &&
         clause_expect(c, a, "set", rdv_store_set(a, "x", "1", 1, 0),
                       RDV_OK) &&
         clause_expect(c, a, "set", rdv_store_set(a, "y", "1", 1, 0),
                       RDV_OK) &&
         clause_expect(c, b, "set", rdv_store_set(b, "x", "2", 1, 0),
                       RDV_OK) &&
         count_listed(c, a, "", &na) && count_listed(c, b, "", &nb) &&
         count_listed(c, a, "x", &nx) &&
         clause_expect(c, a, "num_keys", rdv_store_num_keys(a, &ka), RDV_OK);
    if (ok && (na != 2 || nb != 1 || nx != 1 || ka != 2))
        ok = clause_fail(c, "scopes leak: jobA lists %zu (want 2), jobB "
                         "%zu (want 1), jobA 'x*' %zu (want 1), jobA "
                         "num_keys %lld (want 2)", na, nb, nx,
                         (long long)ka);
    close_scope(c, a);
    close_scope(c, b);
    return ok ? clause_pass(c, "list and num_keys stay inside their prefix")
              : 0;
}
RDV_CLAUSE_SCOPED(list_scope)

static int check_cleanup(clause_ctx *c)
{
    size_t deleted = 0, left = 1;
    int64_t n = -1;

    for (int i = 0; i < 50; i++) {
        char key[32];

        snprintf(key, sizeof key, "job/addr/%d", i);
        if (!clause_expect(c, c->s, "set", rdv_store_set(c->s, key, "r", 1,
                                                         0), RDV_OK))
            return 0;
    }
    if (!clause_expect(c, c->s, "delete_prefix",
                       rdv_store_delete_prefix(c->s, "job/", &deleted),
                       RDV_OK) ||
        !count_listed(c, c->s, "", &left) ||
        !clause_expect(c, c->s, "num_keys", rdv_store_num_keys(c->s, &n),
                       RDV_OK))
        return 0;
    if (deleted != 50 || left != 0 || n != 0)
        return clause_fail(c, "delete_prefix removed %zu of 50 keys; %zu "
                           "listed and %lld counted afterwards", deleted,
                           left, (long long)n);
    return clause_pass(c, "delete_prefix removed all 50 keys; zero remain");
}
RDV_CLAUSE_SCOPED(cleanup)
