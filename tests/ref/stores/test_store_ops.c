/*
 * tests/ref/stores/test_store_ops.c - what rdv/store_ops.h adds to the
 * public calls: the one table of store-operation names.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rdv/store_ops.h"

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
