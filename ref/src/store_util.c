/*
 * store_util.c - small helpers every backend shares: the growable key
 * array that list() fills (rdv_store_list_free() releases it), the
 * decimal counter format that add() keeps values in, the detail of a
 * wait that ended with keys missing, and the one table of store
 * operation names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/store_ops.h"

int rdv_keylist_push(rdv_keylist *l, const char *key, size_t len)
{
    char *copy;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **keys = realloc(l->keys, cap * sizeof *keys);

        if (!keys)
            return RDV_ENOMEM;
        l->keys = keys;
        l->cap = cap;
    }
    copy = malloc(len + 1);
    if (!copy)
        return RDV_ENOMEM;
    memcpy(copy, key, len);
    copy[len] = '\0';
    l->keys[l->n++] = copy;
    return RDV_OK;
}

void rdv_keylist_clear(rdv_keylist *l)
{
    rdv_store_list_free(l->keys, l->n);
    memset(l, 0, sizeof *l);
}

int rdv_counter_parse(const void *val, size_t len, int64_t *out)
{
    char buf[32];
    char *end;
    long long x;

    if (len == 0 || len >= sizeof buf)
        return RDV_EPROTO;
    memcpy(buf, val, len);
    buf[len] = '\0';
    errno = 0;
    x = strtoll(buf, &end, 10);
    if (*end || errno || buf[0] == ' ' || buf[0] == '+')
        return RDV_EPROTO;
    *out = x;
    return RDV_OK;
}

int rdv_counter_add(int64_t base, int64_t delta, int64_t *out)
{
    return __builtin_add_overflow(base, delta, out) ? RDV_EINVAL : RDV_OK;
}

size_t rdv_counter_format(int64_t v, char buf[32])
{
    return (size_t)snprintf(buf, 32, "%lld", (long long)v);
}

int rdv_store_fail_wait(rdv_store *s, int status, int64_t started_ns,
                        const char *const *keys, size_t n,
                        const unsigned char *present)
{
    char list[768], k[128];
    size_t missing = 0, shown = 0, o = 0;

    list[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (present[i])
            continue;
        missing++;
        if (o + 140 < sizeof list) {
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
                                  shown ? ", " : "",
                                  rdv_key_printable(keys[i], k, sizeof k));
            shown++;
        }
    }
    if (missing > shown)
        snprintf(list + o, sizeof list - o, " and %zu more",
                 missing - shown);
    return rdv_store_fail(s, status, "wait %s after %lld ms: %zu of %zu "
                          "keys missing: %s",
                          status == RDV_ECANCELED ? "canceled" : "timed out",
                          (long long)((rdv_now_ns() - started_ns) / 1000000),
                          missing, n, list);
}

static const char *const op_names[RDV_STORE_OP_COUNT] = {
    [RDV_STORE_OP_SET] = "set",
    [RDV_STORE_OP_GET] = "get",
    [RDV_STORE_OP_WAIT] = "wait",
    [RDV_STORE_OP_ADD] = "add",
    [RDV_STORE_OP_COMPARE_SET] = "compare_set",
    [RDV_STORE_OP_DELETE] = "delete",
    [RDV_STORE_OP_LIST] = "list",
    [RDV_STORE_OP_MULTI_GET] = "multi_get",
    [RDV_STORE_OP_MULTI_SET] = "multi_set",
    [RDV_STORE_OP_NUM_KEYS] = "num_keys",
    [RDV_STORE_OP_DELETE_PREFIX] = "delete_prefix",
};

const char *rdv_store_op_name(rdv_store_op op)
{
    return (unsigned)op < RDV_STORE_OP_COUNT ? op_names[op] : NULL;
}

int rdv_store_op_parse(const char *name, size_t len, rdv_store_op *op)
{
    for (unsigned i = 0; name && i < RDV_STORE_OP_COUNT; i++)
        if (strlen(op_names[i]) == len && !strncmp(op_names[i], name, len)) {
            *op = (rdv_store_op)i;
            return RDV_OK;
        }
    return RDV_EINVAL;
}
