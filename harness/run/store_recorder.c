/*
 * harness/run/store_recorder.c - the recording decorator (rdv/store_ops.h).
 *
 * Every op is forwarded through the public rdv_store_* call of the inner
 * store, so the inner store's own checks, fallbacks and close protocol
 * apply unchanged; blocking ops pass the caller's deadline through
 * (rdv_store_*_until). Recording is a few stores into the rank's own
 * slot: no locks, no allocation, nothing that could change the timing
 * of the race being hunted by more than a clock read.
 */
#include <stdlib.h>
#include <string.h>

#include "rdv/store_ops.h"
#include "run/store_recorder.h"

typedef struct recorder {
    rdv_store base;
    rdv_store *inner;
    rdv_slot *slot;
    rdv_op_event *events;
    uint32_t cap;
} recorder;

#define R(s) ((recorder *)(s))

static void op_begin(rdv_store *s, int op, const char *key)
{
    rdv_slot *sl = R(s)->slot;

    sl->op = op;
    rdv_key_printable(key ? key : "", sl->op_key, sizeof sl->op_key);
    sl->op_t0_ns = rdv_now_ns();
    atomic_store_explicit(&sl->op_active, 1, memory_order_release);
}

/* Closes the op opened by op_begin, keeps its event, and passes the
 * inner store's detail up so messages still name the key. */
static int op_end(rdv_store *s, int rc)
{
    rdv_slot *sl = R(s)->slot;
    int64_t t1 = rdv_now_ns();

    atomic_store_explicit(&sl->op_active, 0, memory_order_release);
    sl->nops++;
    if (sl->nevents < R(s)->cap) {
        rdv_op_event *e = &R(s)->events[sl->nevents++];

        e->t0_ns = sl->op_t0_ns;
        e->t1_ns = t1;
        e->op = (int16_t)sl->op;
        e->rc = (int16_t)rc;
        memcpy(e->key, sl->op_key, sizeof e->key);
    } else if (R(s)->cap) {
        sl->ndropped++;
    }
    if (rc)
        rdv_store_fail(s, rc, "%s", rdv_store_errmsg(R(s)->inner));
    return rc;
}

static int rec_set(rdv_store *s, const char *key, const void *val,
                   size_t len, int flags)
{
    op_begin(s, RDV_STORE_OP_SET, key);
    return op_end(s, rdv_store_set(R(s)->inner, key, val, len, flags));
}

static int rec_get(rdv_store *s, const char *key, void **val, size_t *len,
                   int64_t deadline)
{
    op_begin(s, RDV_STORE_OP_GET, key);
    return op_end(s, rdv_store_get_until(R(s)->inner, key, val, len,
                                         deadline));
}

static int rec_wait(rdv_store *s, const char *const *keys, size_t n,
                    int64_t deadline)
{
    op_begin(s, RDV_STORE_OP_WAIT, n ? keys[0] : NULL);
    return op_end(s, rdv_store_wait_until(R(s)->inner, keys, n, deadline));
}

static int rec_add(rdv_store *s, const char *key, int64_t delta,
                   int64_t *result)
{
    op_begin(s, RDV_STORE_OP_ADD, key);
    return op_end(s, rdv_store_add(R(s)->inner, key, delta, result));
}

static int rec_compare_set(rdv_store *s, const char *key,
                           const void *expected, size_t expected_len,
                           const void *desired, size_t desired_len,
                           int *won, void **cur, size_t *cur_len)
{
    op_begin(s, RDV_STORE_OP_COMPARE_SET, key);
    return op_end(s, rdv_store_compare_set(R(s)->inner, key, expected,
                                           expected_len, desired,
                                           desired_len, won, cur,
                                           cur_len));
}

static int rec_del(rdv_store *s, const char *key)
{
    op_begin(s, RDV_STORE_OP_DELETE, key);
    return op_end(s, rdv_store_delete(R(s)->inner, key));
}

static int rec_list(rdv_store *s, const char *prefix, char ***keys,
                    size_t *n)
{
    op_begin(s, RDV_STORE_OP_LIST, prefix);
    return op_end(s, rdv_store_list(R(s)->inner, prefix, keys, n));
}

static int rec_multi_get(rdv_store *s, const char *const *keys, size_t n,
                         void **vals, size_t *lens, int64_t deadline)
{
    op_begin(s, RDV_STORE_OP_MULTI_GET, n ? keys[0] : NULL);
    return op_end(s, rdv_store_multi_get_until(R(s)->inner, keys, n, vals,
                                               lens, deadline));
}

static int rec_multi_set(rdv_store *s, const char *const *keys,
                         const void *const *vals, const size_t *lens,
                         size_t n)
{
    op_begin(s, RDV_STORE_OP_MULTI_SET, n ? keys[0] : NULL);
    return op_end(s, rdv_store_multi_set(R(s)->inner, keys, vals, lens, n));
}

static int rec_num_keys(rdv_store *s, int64_t *n)
{
    op_begin(s, RDV_STORE_OP_NUM_KEYS, NULL);
    return op_end(s, rdv_store_num_keys(R(s)->inner, n));
}

static int rec_delete_prefix(rdv_store *s, const char *prefix,
                             size_t *deleted)
{
    op_begin(s, RDV_STORE_OP_DELETE_PREFIX, prefix);
    return op_end(s, rdv_store_delete_prefix(R(s)->inner, prefix, deleted));
}

static void rec_cancel(rdv_store *s)
{
    rdv_store *in = R(s)->inner;

    if (in->ops->cancel)
        in->ops->cancel(in);
}

static void rec_destroy(rdv_store *s)
{
    rdv_store_close(R(s)->inner);
    free(s);
}

static const rdv_store_ops recorder_ops = {
    .name = "recorder",
    .set = rec_set,
    .get = rec_get,
    .wait = rec_wait,
    .add = rec_add,
    .compare_set = rec_compare_set,
    .del = rec_del,
    .list = rec_list,
    .destroy = rec_destroy,
    .multi_get = rec_multi_get,
    .multi_set = rec_multi_set,
    .num_keys = rec_num_keys,
    .delete_prefix = rec_delete_prefix,
    .cancel = rec_cancel,
};

int rdv_recorder_open(rdv_store *inner, rdv_slot *slot,
                      rdv_op_event *events, uint32_t cap, rdv_store **out)
{
    recorder *r = calloc(1, sizeof *r);

    if (!r)
        return RDV_ENOMEM;
    rdv_store_init(&r->base, &recorder_ops);
    r->base.flags = inner->flags;
    r->inner = inner;
    r->slot = slot;
    r->events = events;
    r->cap = events ? cap : 0;
    *out = &r->base;
    return RDV_OK;
}
