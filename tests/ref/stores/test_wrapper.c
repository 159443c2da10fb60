/*
 * tests/ref/stores/test_wrapper.c - the wrapper-store base (rdv_wrapper,
 * rdv/store_ops.h) over a real hash store: every op it does not change
 * reaches the inner store, hooks see each inner call once, the inner's
 * detail becomes the wrapper's, the caller's deadline arrives untouched
 * (also through a chain of wrappers), and close cancels and frees in
 * order. The prefix store is a wrapper too: its scope limit across
 * nested prefixes still holds.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rdv/store_ops.h"

/* A wrapper that changes get only (it notes the deadline it was given)
 * and records what its hooks, cancel and destroy see. */
typedef struct spy {
    rdv_wrapper w;
    int gets;          /* calls to the get override */
    int64_t deadline;  /* the last deadline the override saw */
    rdv_store_op ops[64];
    char keys[64][32];
    int rcs[64];
    int nbefore, nafter;
    int *cancelled;    /* set by the cancel hook, outside the handle */
    int *destroyed;
} spy;

#define SPY(s) ((spy *)(s))

static int spy_get(rdv_store *s, const char *key, void **val, size_t *len,
                   int64_t deadline)
{
    SPY(s)->gets++;
    SPY(s)->deadline = deadline;
    return rdv_inner_get(s, key, val, len, deadline);
}

static void spy_before(rdv_store *s, rdv_store_op op, const char *key)
{
    spy *p = SPY(s);

    if (p->nbefore < 64) {
        p->ops[p->nbefore] = op;
        snprintf(p->keys[p->nbefore], sizeof p->keys[0], "%s",
                 key ? key : "(none)");
    }
    p->nbefore++;
}

static void spy_after(rdv_store *s, rdv_store_op op, int rc)
{
    spy *p = SPY(s);

    if (p->nafter < 64) {
        cr_expect_eq(p->ops[p->nafter], op, "after hook names another op");
        p->rcs[p->nafter] = rc;
    }
    p->nafter++;
}

static void spy_cancel(rdv_store *s)
{
    if (SPY(s)->cancelled)
        (*SPY(s)->cancelled)++;
}

static void spy_destroy(rdv_store *s)
{
    if (SPY(s)->destroyed)
        (*SPY(s)->destroyed)++;
    free(s);
}

static const rdv_wrapper_ops spy_ops = {
    .ops = {.name = "spy", .get = spy_get, .cancel = spy_cancel,
            .destroy = spy_destroy},
    .before = spy_before,
    .after = spy_after,
};

/* A wrapper that changes nothing and has no hooks at all. */
static const rdv_wrapper_ops bare_ops = {.ops = {.name = "bare"}};

static rdv_store *open_hash(void)
{
    rdv_store *s;
    char err[256];

    cr_assert_eq(rdv_store_open("hash:", &s, err, sizeof err), RDV_OK, "%s",
                 err);
    return s;
}

static rdv_store *wrap(rdv_store *inner, const rdv_wrapper_ops *ops)
{
    spy *p = calloc(1, sizeof *p);

    cr_assert(p);
    rdv_wrapper_init(&p->w, ops, inner);
    return &p->w.base;
}

static int64_t ms_since(int64_t t0)
{
    return (rdv_now_ns() - t0) / 1000000;
}

Test(wrapper, forwards_every_op_it_does_not_change)
{
    rdv_store *in = open_hash(), *s = wrap(in, &spy_ops);
    const char *keys[] = {"k1", "k2"};
    const void *vals[] = {"one", "two"};
    size_t lens[] = {3, 3}, n, deleted;
    void *got[2], *v, *cur;
    size_t glen[2], len, cur_len;
    char **list;
    int64_t r, count;
    int won;

    cr_expect_str_eq(rdv_store_name(s), "spy");
    cr_expect_eq(rdv_store_flags(s), rdv_store_flags(in));
    cr_assert_eq(rdv_store_set(s, "a", "x", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_get(in, "a", &v, &len, 0), RDV_OK,
                 "set did not reach the inner store");
    free(v);
    cr_assert_eq(rdv_store_set(in, "b", "y", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_get(s, "b", &v, &len, 0), RDV_OK);
    cr_expect_eq(len, 1);
    cr_expect_str_eq(v, "y");
    free(v);
    cr_expect_eq(rdv_store_wait(s, (const char *[]){"a", "b"}, 2, 0), RDV_OK);
    cr_expect_eq(rdv_store_add(s, "n", 5, &r), RDV_OK);
    cr_expect_eq(r, 5);
    cr_expect_eq(rdv_store_compare_set(s, "a", "x", 1, "z", 1, &won, &cur,
                                       &cur_len), RDV_OK);
    cr_expect_eq(won, 1);
    cr_expect_str_eq(cur, "z");
    free(cur);
    cr_expect_eq(rdv_store_multi_set(s, keys, vals, lens, 2), RDV_OK);
    cr_assert_eq(rdv_store_multi_get(s, keys, 2, got, glen, 0), RDV_OK);
    cr_expect_str_eq(got[0], "one");
    cr_expect_str_eq(got[1], "two");
    free(got[0]);
    free(got[1]);
    cr_assert_eq(rdv_store_list(s, "k", &list, &n), RDV_OK);
    cr_expect_eq(n, 2);
    rdv_store_list_free(list, n);
    cr_expect_eq(rdv_store_num_keys(s, &count), RDV_OK);
    cr_expect_eq(count, 5); /* a b n k1 k2 */
    cr_expect_eq(rdv_store_delete(s, "a"), RDV_OK);
    cr_expect_eq(rdv_store_try_get(in, "a", &v, &len), RDV_ENOTFOUND,
                 "delete did not reach the inner store");
    cr_expect_eq(rdv_store_delete_prefix(s, "k", &deleted), RDV_OK);
    cr_expect_eq(deleted, 2);

    /* One hook pair per inner call, in order, naming op and first key. */
    {
        static const struct {
            rdv_store_op op;
            const char *key;
        } want[] = {
            {RDV_STORE_OP_SET, "a"},       {RDV_STORE_OP_GET, "b"},
            {RDV_STORE_OP_WAIT, "a"},      {RDV_STORE_OP_ADD, "n"},
            {RDV_STORE_OP_COMPARE_SET, "a"}, {RDV_STORE_OP_MULTI_SET, "k1"},
            {RDV_STORE_OP_MULTI_GET, "k1"}, {RDV_STORE_OP_LIST, "k"},
            {RDV_STORE_OP_NUM_KEYS, "(none)"}, {RDV_STORE_OP_DELETE, "a"},
            {RDV_STORE_OP_DELETE_PREFIX, "k"},
        };
        size_t nwant = sizeof want / sizeof want[0];

        cr_assert_eq(SPY(s)->nbefore, (int)nwant, "%d inner calls",
                     SPY(s)->nbefore);
        cr_assert_eq(SPY(s)->nafter, (int)nwant);
        for (size_t i = 0; i < nwant; i++) {
            cr_expect_eq(SPY(s)->ops[i], want[i].op, "call %zu: %s", i,
                         rdv_store_op_name(SPY(s)->ops[i]));
            cr_expect_str_eq(SPY(s)->keys[i], want[i].key, "call %zu", i);
            cr_expect_eq(SPY(s)->rcs[i], RDV_OK, "call %zu", i);
        }
    }
    cr_expect_eq(SPY(s)->gets, 1, "the get override runs for get only");
    rdv_store_close(s);
}

Test(wrapper, copies_the_inner_detail_on_failure)
{
    rdv_store *in = open_hash(), *s = wrap(in, &spy_ops);
    void *v;
    size_t len;

    cr_assert_eq(rdv_store_set(s, "text", "abc", 3, 0), RDV_OK);
    cr_expect_eq(rdv_store_add(s, "text", 1, NULL), RDV_EPROTO);
    cr_expect(strstr(rdv_store_errmsg(s), "text"), "%s",
              rdv_store_errmsg(s));
    cr_expect_str_eq(rdv_store_errmsg(s), rdv_store_errmsg(in));
    cr_expect_eq(SPY(s)->rcs[1], RDV_EPROTO, "after hook saw %d",
                 SPY(s)->rcs[1]);

    cr_expect_eq(rdv_store_set(s, "text", "d", 1, RDV_SET_CREATE_ONLY),
                 RDV_EEXIST);
    cr_expect_str_eq(rdv_store_errmsg(s), rdv_store_errmsg(in));
    cr_expect(strstr(rdv_store_errmsg(s), "text"), "%s",
              rdv_store_errmsg(s));

    cr_expect_eq(rdv_store_get(s, "absent", &v, &len, 0), RDV_ETIMEDOUT);
    cr_expect(strstr(rdv_store_errmsg(s), "absent"), "%s",
              rdv_store_errmsg(s));
    /* The outer handle's own checks still speak for the wrapper. */
    cr_expect_eq(rdv_store_get(s, "", &v, &len, 0), RDV_EINVAL);
    cr_expect(strstr(rdv_store_errmsg(s), "key is empty"), "%s",
              rdv_store_errmsg(s));
    cr_expect_eq(rdv_store_try_get(s, "absent", &v, &len), RDV_ENOTFOUND);
    rdv_store_close(s);
}

Test(wrapper, the_callers_deadline_arrives_untouched)
{
    rdv_store *in = open_hash(), *mid = wrap(in, &spy_ops);
    rdv_store *s = wrap(mid, &spy_ops);
    int64_t deadline = rdv_now_ns() + 20 * 1000000;
    void *v;
    size_t len;

    cr_assert_eq(rdv_store_set(in, "k", "v", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_get_until(s, "k", &v, &len, deadline), RDV_OK);
    free(v);
    cr_expect_eq(SPY(s)->deadline, deadline);
    cr_expect_eq(SPY(mid)->deadline, deadline, "the inner wrapper got %lld, "
                 "not %lld", (long long)SPY(mid)->deadline,
                 (long long)deadline);
    cr_assert_eq(rdv_store_get_until(s, "k", &v, &len, RDV_DEADLINE_NONE),
                 RDV_OK);
    free(v);
    cr_expect_eq(SPY(mid)->deadline, RDV_DEADLINE_NONE);
    rdv_store_close(s);
}

Test(wrapper, a_300_ms_get_times_out_at_300_ms)
{
    rdv_store *in = open_hash(), *s = wrap(wrap(in, &bare_ops), &spy_ops);
    int64_t t0 = rdv_now_ns(), took;
    void *v;
    size_t len;

    cr_assert_eq(rdv_store_get(s, "never", &v, &len, 300), RDV_ETIMEDOUT);
    took = ms_since(t0);
    /* Generous: the timeout fires within timeout + 1 s, never early. */
    cr_expect(took >= 295 && took < 1300, "timed out after %lld ms",
              (long long)took);
    cr_expect(strstr(rdv_store_errmsg(s), "never"), "%s",
              rdv_store_errmsg(s));
    rdv_store_close(s);
}

typedef struct blocked {
    rdv_store *s;
    int rc;
} blocked;

static void *get_forever(void *arg)
{
    blocked *b = arg;
    void *v = NULL;
    size_t len;

    b->rc = rdv_store_get(b->s, "never", &v, &len, -1);
    free(v);
    return NULL;
}

Test(wrapper, close_cancels_through_the_wrapper_then_frees_in_order)
{
    int cancelled = 0, destroyed = 0;
    rdv_store *in = open_hash(), *s = wrap(in, &spy_ops);
    struct timespec tick = {0, 1000000};
    blocked b = {s, RDV_OK};
    pthread_t t;

    SPY(s)->cancelled = &cancelled;
    SPY(s)->destroyed = &destroyed;
    cr_assert_eq(pthread_create(&t, NULL, get_forever, &b), 0);
    /* Close once the get is blocked in the inner store. */
    for (int i = 0; i < 10000 && rdv_store_calls_inside(s) == 0; i++)
        nanosleep(&tick, NULL);
    cr_assert_eq(rdv_store_calls_inside(s), 1);
    nanosleep(&(struct timespec){0, 100 * 1000000}, NULL);
    rdv_store_close(s);
    pthread_join(t, NULL);
    cr_expect_eq(b.rc, RDV_ECANCELED);
    cr_expect_eq(cancelled, 1);
    cr_expect_eq(destroyed, 1);
}

Test(wrapper, prefix_scopes_still_add_up_across_nesting)
{
    char big[1001], small[31];
    rdv_store *in = open_hash(), *outer = NULL, *scoped = NULL;

    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memset(small, 'q', sizeof small - 1);
    small[sizeof small - 1] = '\0';
    cr_assert_eq(rdv_store_prefix_open(in, big, &scoped), RDV_OK);
    cr_expect_str_eq(rdv_store_name(scoped), "prefix");
    /* 1001 + 31 bytes of scope pass the 1024 a key may gain. */
    cr_expect_eq(rdv_store_prefix_open(scoped, small, &outer), RDV_EINVAL);
    cr_assert_eq(rdv_store_prefix_open(scoped, "ok", &outer), RDV_OK);
    cr_expect_eq(rdv_store_set(outer, "k", "v", 1, 0), RDV_OK);
    {
        char key[1100];
        void *v = NULL;
        size_t len;

        snprintf(key, sizeof key, "%s/ok/k", big);
        cr_expect_eq(rdv_store_get(in, key, &v, &len, 0), RDV_OK,
                     "the nested scopes did not reach the inner store");
        free(v);
    }
    rdv_store_close(outer);
}
