/*
 * store_fallback.c - generic versions of the optional store ops, built
 * only on the required ones, so a minimal backend or plugin still offers
 * the whole contract. They run inside the caller's gate (store.c).
 */
#include <stdlib.h>

#include "store_internal.h"

int rdv_fallback_multi_get(rdv_store *s, const char *const *keys, size_t n,
                           void **vals, size_t *lens, int64_t deadline)
{
    int rc = s->ops->wait(s, keys, n, deadline);

    for (size_t i = 0; rc == RDV_OK && i < n; i++)
        rc = s->ops->get(s, keys[i], &vals[i], &lens[i], deadline);
    if (rc) {
        for (size_t i = 0; i < n; i++) {
            free(vals[i]);
            vals[i] = NULL;
            lens[i] = 0;
        }
    }
    return rc;
}

int rdv_fallback_multi_set(rdv_store *s, const char *const *keys,
                           const void *const *vals, const size_t *lens,
                           size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = s->ops->set(s, keys[i], vals[i] ? vals[i] : "", lens[i], 0);

        if (rc)
            return rc;
    }
    return RDV_OK;
}

int rdv_fallback_num_keys(rdv_store *s, int64_t *n)
{
    char **keys = NULL;
    size_t count = 0;
    int rc = s->ops->list(s, "", &keys, &count);

    if (rc)
        return rc;
    rdv_store_list_free(keys, count);
    *n = (int64_t)count;
    return RDV_OK;
}

int rdv_fallback_delete_prefix(rdv_store *s, const char *prefix,
                               size_t *deleted)
{
    char **keys = NULL;
    size_t count = 0;
    int rc = s->ops->list(s, prefix, &keys, &count);

    *deleted = 0;
    for (size_t i = 0; rc == RDV_OK && i < count; i++) {
        rc = s->ops->del(s, keys[i]);
        if (rc == RDV_OK)
            (*deleted)++;
    }
    if (keys)
        rdv_store_list_free(keys, count);
    return rc;
}
