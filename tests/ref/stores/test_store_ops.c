/*
 * tests/ref/stores/test_store_ops.c - what rdv/store_ops.h adds to the
 * public calls: the one table of store-operation names, the *_until
 * entry points for code that holds a deadline, and the error detail of
 * a handle shared by threads (each thread reads its own last failure,
 * with no data race: run under ASan, or TSan, to see the latter).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/store_ops.h"

static rdv_store *open_url(const char *url)
{
    rdv_store *s;
    char err[256];

    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    return s;
}

Test(store_op, every_op_has_one_name_that_parses_back)
{
    for (int i = 0; i < RDV_STORE_OP_COUNT; i++) {
        const char *name = rdv_store_op_name((rdv_store_op)i);
        rdv_store_op op = RDV_STORE_OP_COUNT;

        cr_assert(name && name[0], "op %d has no name", i);
        cr_expect_eq(rdv_store_op_parse(name, strlen(name), &op), RDV_OK,
                     "%s", name);
        cr_expect_eq(op, (rdv_store_op)i, "%s parsed as %d", name, op);
        for (int j = 0; j < i; j++)
            cr_expect_str_neq(name, rdv_store_op_name((rdv_store_op)j));
    }
    cr_expect_str_eq(rdv_store_op_name(RDV_STORE_OP_COMPARE_SET),
                     "compare_set");
    cr_expect_str_eq(rdv_store_op_name(RDV_STORE_OP_DELETE_PREFIX),
                     "delete_prefix");
    cr_expect_null(rdv_store_op_name(RDV_STORE_OP_COUNT));
    cr_expect_null(rdv_store_op_name((rdv_store_op)-1));
}

Test(store_op, parse_takes_a_length_and_knows_one_name_per_op)
{
    rdv_store_op op = RDV_STORE_OP_COUNT;

    /* Spec atoms are not NUL-terminated: the length decides. */
    cr_expect_eq(rdv_store_op_parse("get|wait", 3, &op), RDV_OK);
    cr_expect_eq(op, RDV_STORE_OP_GET);
    cr_expect_eq(rdv_store_op_parse("multi_get", 5, &op), RDV_EINVAL);
    /* "cas" is the fault spec language's alias, not a librdv name. */
    cr_expect_eq(rdv_store_op_parse("cas", 3, &op), RDV_EINVAL);
    cr_expect_eq(rdv_store_op_parse("", 0, &op), RDV_EINVAL);
    cr_expect_eq(rdv_store_op_parse("GET", 3, &op), RDV_EINVAL);
}

Test(store_until, deadlines_and_checks_match_the_ms_calls)
{
    rdv_store *s = open_url("hash:");
    const char *keys[] = {"a", "b"};
    void *vals[2], *v;
    size_t lens[2], len;
    int64_t t0;

    cr_assert_eq(rdv_store_set(s, "a", "1", 1, 0), RDV_OK);
    /* A deadline in the past tries once. */
    t0 = rdv_now_ns();
    cr_expect_eq(rdv_store_get_until(s, "b", &v, &len, t0 - 1000000000),
                 RDV_ETIMEDOUT);
    cr_expect(strstr(rdv_store_errmsg(s), "b"), "%s", rdv_store_errmsg(s));
    cr_expect_eq(rdv_store_wait_until(s, keys, 2, t0), RDV_ETIMEDOUT);
    cr_expect(strstr(rdv_store_errmsg(s), "1 of 2 keys missing: b"), "%s",
              rdv_store_errmsg(s));
    cr_expect_eq(rdv_store_multi_get_until(s, keys, 2, vals, lens, t0),
                 RDV_ETIMEDOUT);
    cr_expect_null(vals[0], "a failed multi_get returns no value");
    cr_assert_eq(rdv_store_set(s, "b", "22", 2, 0), RDV_OK);
    cr_assert_eq(rdv_store_multi_get_until(s, keys, 2, vals, lens,
                                           RDV_DEADLINE_NONE), RDV_OK);
    cr_expect_str_eq(vals[0], "1");
    cr_expect_eq(lens[1], 2);
    free(vals[0]);
    free(vals[1]);
    cr_assert_eq(rdv_store_get_until(s, "b", &v, &len, rdv_now_ns()),
                 RDV_OK);
    cr_expect_str_eq(v, "22");
    free(v);
    /* The same argument checks as the millisecond calls. */
    cr_expect_eq(rdv_store_get_until(s, NULL, &v, &len, 0), RDV_EINVAL);
    cr_expect(strstr(rdv_store_errmsg(s), "key is NULL"), "%s",
              rdv_store_errmsg(s));
    cr_expect_eq(rdv_store_get_until(s, "a", NULL, &len, 0), RDV_EINVAL);
    cr_expect_eq(rdv_store_wait_until(s, NULL, 1, 0), RDV_EINVAL);
    cr_expect_eq(rdv_store_multi_get_until(s, keys, 2, NULL, lens, 0),
                 RDV_EINVAL);
    cr_expect_eq(rdv_store_wait_until(NULL, keys, 1, 0), RDV_EINVAL);
    rdv_store_close(s);
}

/* Threads failing on one handle at once: each must read back the detail
 * of its own failure, whatever the others wrote meanwhile. */
#define THREADS 8
#define ROUNDS 300

typedef struct failer {
    rdv_store *s;
    int id;
    int wrong;   /* rounds whose detail named another thread's key */
    char seen[RDV_DETAIL_MAX];
} failer;

static void *fail_often(void *arg)
{
    failer *f = arg;

    for (int r = 0; r < ROUNDS; r++) {
        char key[64];
        void *v;
        size_t len;
        int rc;

        snprintf(key, sizeof key, "thread-%d-round-%d", f->id, r);
        /* Alternate a backend failure and a check at the outer handle
         * (a value over the limit is refused before it is read). */
        rc = r % 2 ? rdv_store_get(f->s, key, &v, &len, 0)
                   : rdv_store_set(f->s, key, "x", RDV_VALUE_MAX + 1u, 0);
        snprintf(f->seen, sizeof f->seen, "%s", rdv_store_errmsg(f->s));
        if (rc == RDV_OK || !strstr(f->seen, key))
            f->wrong++;
    }
    return NULL;
}

static void threads_fail_on(const char *url)
{
    rdv_store *s = open_url(url);
    failer f[THREADS];
    pthread_t t[THREADS];

    for (int i = 0; i < THREADS; i++) {
        f[i] = (failer){.s = s, .id = i};
        cr_assert_eq(pthread_create(&t[i], NULL, fail_often, &f[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        cr_expect_eq(f[i].wrong, 0, "%s: thread %d read another detail %d "
                     "times, last: %s", url, i, f[i].wrong, f[i].seen);
    /* This thread never failed on s: it has no detail. */
    cr_expect_str_eq(rdv_store_errmsg(s), "");
    rdv_store_close(s);
}

Test(store_detail, threads_sharing_a_handle_each_read_their_own)
{
    threads_fail_on("hash:");
}

Test(store_detail, threads_sharing_a_wrapper_each_read_their_own)
{
    /* prefix= wraps hash: the wrapper copies the inner's detail. */
    threads_fail_on("hash:?prefix=scope");
}

Test(store_detail, a_later_failure_replaces_the_threads_detail)
{
    rdv_store *s = open_url("hash:");
    void *v;
    size_t len;

    cr_expect_str_eq(rdv_store_errmsg(s), "");
    cr_expect_eq(rdv_store_get(s, "first", &v, &len, 0), RDV_ETIMEDOUT);
    cr_expect(strstr(rdv_store_errmsg(s), "first"), "%s",
              rdv_store_errmsg(s));
    cr_expect_eq(rdv_store_get(s, "second", &v, &len, 0), RDV_ETIMEDOUT);
    cr_expect(strstr(rdv_store_errmsg(s), "second") &&
                  !strstr(rdv_store_errmsg(s), "first"),
              "%s", rdv_store_errmsg(s));
    cr_expect_str_eq(rdv_store_errmsg(NULL), "no store");
    rdv_store_close(s);
}
