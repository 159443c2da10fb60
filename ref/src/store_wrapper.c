/*
 * store_wrapper.c - the base of every store that wraps another one
 * (rdv_wrapper in rdv/store_ops.h): the prefix store, the fault store,
 * the harness's recorder. A wrapper names the ops it changes; this file
 * forwards the rest, copies the inner store's detail on failure, and
 * cancels and closes the inner store.
 *
 * Choices:
 * - rdv_wrapper_init copies the wrapper's table into the handle and
 *   fills every NULL op with its forwarder, so store.c dispatches a
 *   wrapper like any backend. The outer handle never runs a generic
 *   fallback on the wrapper's behalf: that would turn one multi_get
 *   into a wait and n gets, each seen by the wrapper.
 * - Forwarding calls the inner backend's ops (or the generic fallbacks
 *   for its optional ones) with the caller's arguments and deadline as
 *   they are: checked once at the outer handle, never turned back into
 *   milliseconds. It skips the inner's gate: the wrapper owns the inner
 *   store and closes it only from destroy, after the outer gate drained.
 * - On failure the inner's detail becomes the wrapper's. Each thread
 *   reads its own detail (store.c), so the copy is this call's message
 *   even while other threads fail on the same handles.
 * - cancel and destroy always reach the inner store. A wrapper's own
 *   cancel runs first (it wakes the wrapper's sleepers, then the inner's
 *   waiters); its destroy runs last, when nothing can call into it.
 */
#include <stdlib.h>

#include "store_internal.h"

#define W(s) ((rdv_wrapper *)(s))
#define IN(s) (W(s)->inner)
/* An optional inner op, or its generic fallback. */
#define INNER_OP(s, op) (IN(s)->ops->op ? IN(s)->ops->op : rdv_fallback_##op)

static void before(rdv_store *s, rdv_store_op op, const char *key)
{
    if (W(s)->wops->before)
        W(s)->wops->before(s, op, key);
}

/* The inner store's detail becomes ours (it names the key), then the
 * after hook sees the result. */
static int after(rdv_store *s, rdv_store_op op, int rc)
{
    if (rc)
        rdv_store_fail(s, rc, "%s", rdv_store_errmsg(IN(s)));
    if (W(s)->wops->after)
        W(s)->wops->after(s, op, rc);
    return rc;
}

/* The body of every forwarder: hooks around one inner call. A macro
 * because the ops differ in signature; it only brackets `call`. */
#define FORWARD(s, op, key, call)          \
    do {                                   \
        before((s), (op), (key));          \
        return after((s), (op), (call));   \
    } while (0)

int rdv_inner_set(rdv_store *s, const char *key, const void *val,
                  size_t len, int flags)
{
    FORWARD(s, RDV_STORE_OP_SET, key,
            IN(s)->ops->set(IN(s), key, val, len, flags));
}

int rdv_inner_get(rdv_store *s, const char *key, void **val, size_t *len,
                  int64_t deadline)
{
    FORWARD(s, RDV_STORE_OP_GET, key,
            IN(s)->ops->get(IN(s), key, val, len, deadline));
}

int rdv_inner_wait(rdv_store *s, const char *const *keys, size_t n,
                   int64_t deadline)
{
    FORWARD(s, RDV_STORE_OP_WAIT, n ? keys[0] : NULL,
            IN(s)->ops->wait(IN(s), keys, n, deadline));
}

int rdv_inner_add(rdv_store *s, const char *key, int64_t delta,
                  int64_t *result)
{
    FORWARD(s, RDV_STORE_OP_ADD, key,
            IN(s)->ops->add(IN(s), key, delta, result));
}

int rdv_inner_compare_set(rdv_store *s, const char *key,
                          const void *expected, size_t expected_len,
                          const void *desired, size_t desired_len, int *won,
                          void **cur, size_t *cur_len)
{
    FORWARD(s, RDV_STORE_OP_COMPARE_SET, key,
            IN(s)->ops->compare_set(IN(s), key, expected, expected_len,
                                    desired, desired_len, won, cur,
                                    cur_len));
}

int rdv_inner_delete(rdv_store *s, const char *key)
{
    FORWARD(s, RDV_STORE_OP_DELETE, key, IN(s)->ops->del(IN(s), key));
}

int rdv_inner_list(rdv_store *s, const char *prefix, char ***keys,
                   size_t *n)
{
    FORWARD(s, RDV_STORE_OP_LIST, prefix,
            IN(s)->ops->list(IN(s), prefix, keys, n));
}

int rdv_inner_multi_get(rdv_store *s, const char *const *keys, size_t n,
                        void **vals, size_t *lens, int64_t deadline)
{
    FORWARD(s, RDV_STORE_OP_MULTI_GET, n ? keys[0] : NULL,
            INNER_OP(s, multi_get)(IN(s), keys, n, vals, lens, deadline));
}

int rdv_inner_multi_set(rdv_store *s, const char *const *keys,
                        const void *const *vals, const size_t *lens,
                        size_t n)
{
    FORWARD(s, RDV_STORE_OP_MULTI_SET, n ? keys[0] : NULL,
            INNER_OP(s, multi_set)(IN(s), keys, vals, lens, n));
}

int rdv_inner_num_keys(rdv_store *s, int64_t *n)
{
    FORWARD(s, RDV_STORE_OP_NUM_KEYS, NULL, INNER_OP(s, num_keys)(IN(s), n));
}

int rdv_inner_delete_prefix(rdv_store *s, const char *prefix,
                            size_t *deleted)
{
    FORWARD(s, RDV_STORE_OP_DELETE_PREFIX, prefix,
            INNER_OP(s, delete_prefix)(IN(s), prefix, deleted));
}

static void wrapper_cancel(rdv_store *s)
{
    if (W(s)->wops->ops.cancel)
        W(s)->wops->ops.cancel(s);
    if (IN(s)->ops->cancel)
        IN(s)->ops->cancel(IN(s));
}

static void wrapper_destroy(rdv_store *s)
{
    rdv_store_close(IN(s));
    if (W(s)->wops->ops.destroy)
        W(s)->wops->ops.destroy(s);
    else
        free(s);
}

void rdv_wrapper_init(rdv_wrapper *w, const rdv_wrapper_ops *ops,
                      rdv_store *inner)
{
    rdv_store_ops *t = &w->table;

    *t = ops->ops;
    t->set = t->set ? t->set : rdv_inner_set;
    t->get = t->get ? t->get : rdv_inner_get;
    t->wait = t->wait ? t->wait : rdv_inner_wait;
    t->add = t->add ? t->add : rdv_inner_add;
    t->compare_set = t->compare_set ? t->compare_set : rdv_inner_compare_set;
    t->del = t->del ? t->del : rdv_inner_delete;
    t->list = t->list ? t->list : rdv_inner_list;
    t->multi_get = t->multi_get ? t->multi_get : rdv_inner_multi_get;
    t->multi_set = t->multi_set ? t->multi_set : rdv_inner_multi_set;
    t->num_keys = t->num_keys ? t->num_keys : rdv_inner_num_keys;
    t->delete_prefix = t->delete_prefix ? t->delete_prefix
                                        : rdv_inner_delete_prefix;
    t->cancel = wrapper_cancel;
    t->destroy = wrapper_destroy;
    w->inner = inner;
    w->wops = ops;
    rdv_store_init(&w->base, t);
    w->base.flags = inner->flags;
}
