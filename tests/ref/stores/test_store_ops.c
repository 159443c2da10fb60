/*
 * tests/ref/stores/test_store_ops.c - what rdv/store_ops.h adds to the
 * public calls: the one table of store-operation names, and the *_until
 * entry points for code that holds a deadline.
 */
#include <criterion/criterion.h>
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
