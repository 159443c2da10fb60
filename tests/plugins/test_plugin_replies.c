/*
 * test_plugin_replies.c - the plugin adapter (stores/plugin.c) against
 * replies that break rdv/plugin.h, from a table in this program opened
 * through the loader's second step (rdv_plugin_open_table). Each case is
 * one finding of tests/fuzz/fuzz_plugin_reply.c, whose corpus holds the
 * matching regress-* input: the reply is RDV_EPROTO naming the plugin,
 * the op and the key, with the plugin's memory freed (ASan and valgrind
 * see a leak or a double free), and good replies still pass.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/plugin.h"
#include "rdv/store.h"
#include "store_internal.h"

/* What the next op answers. */
static struct {
    int rc;
    size_t len;   /* of a value: get, compare_set's cur */
    int null_val; /* the value pointer is NULL */
    int won;
    const char *const *keys; /* list: copied into malloc'd memory */
    size_t n;
    int64_t count;
    const char *msg;
} reply;

static char handle_byte;

static void *t_create(const rdv_plugin_config *cfg, char *errbuf,
                      size_t errlen)
{
    (void)cfg, (void)errbuf, (void)errlen;
    return &handle_byte;
}

static void t_destroy(void *h)
{
    (void)h;
}

static const char *t_errmsg(void *h)
{
    (void)h;
    return reply.msg;
}

static int t_set(void *h, const char *key, const void *val, size_t len,
                 int flags)
{
    (void)h, (void)key, (void)val, (void)len, (void)flags;
    return reply.rc;
}

/* A value of reply.len bytes, at most 8 of them real. */
static void *value(void)
{
    return reply.null_val ? NULL : calloc(1, 8);
}

static int t_get(void *h, const char *key, void **val, size_t *len,
                 int timeout_ms)
{
    (void)h, (void)key, (void)timeout_ms;
    if (reply.rc == RDV_OK) {
        *val = value();
        *len = reply.len;
    }
    return reply.rc;
}

static int t_wait(void *h, const char *const *keys, size_t n,
                  int timeout_ms)
{
    (void)h, (void)keys, (void)n, (void)timeout_ms;
    return reply.rc;
}

static int t_add(void *h, const char *key, int64_t delta, int64_t *result)
{
    (void)h, (void)key;
    *result = delta;
    return reply.rc;
}

static int t_compare_set(void *h, const char *key, const void *expected,
                         size_t expected_len, const void *desired,
                         size_t desired_len, int *won, void **cur,
                         size_t *cur_len)
{
    (void)h, (void)key, (void)expected, (void)expected_len, (void)desired;
    (void)desired_len;
    *won = reply.won;
    if (cur) {
        *cur = value();
        *cur_len = reply.len;
    }
    return reply.rc;
}

static int t_del(void *h, const char *key)
{
    (void)h, (void)key;
    return reply.rc;
}

static int t_list(void *h, const char *prefix, char ***keys, size_t *n)
{
    (void)h, (void)prefix;
    *keys = reply.n ? malloc(reply.n * sizeof **keys) : NULL;
    for (size_t i = 0; i < reply.n; i++)
        (*keys)[i] = reply.keys[i] ? strdup(reply.keys[i]) : NULL;
    *n = reply.n;
    return reply.rc;
}

static int t_num_keys(void *h, int64_t *n)
{
    (void)h;
    *n = reply.count;
    return reply.rc;
}

static const rdv_store_plugin table = {
    .abi_version = RDV_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(rdv_store_plugin),
    .name = "replies",
    .create = t_create, .destroy = t_destroy, .errmsg = t_errmsg,
    .set = t_set, .get = t_get, .wait = t_wait, .add = t_add,
    .compare_set = t_compare_set, .del = t_del, .list = t_list,
    .num_keys = t_num_keys,
};

static rdv_store *s;

static void setup(void)
{
    char err[512];
    rdv_url u;

    memset(&reply, 0, sizeof reply);
    reply.msg = "";
    cr_assert_eq(rdv_url_parse("plugin:replies", &u, err, sizeof err),
                 RDV_OK, "%s", err);
    cr_assert_eq(rdv_plugin_open_table(&u, "replies.so", &table, NULL, 0,
                                       &s, err, sizeof err),
                 RDV_OK, "%s", err);
    rdv_url_free(&u);
}

static void teardown(void)
{
    rdv_store_close(s);
}

TestSuite(plugin_replies, .init = setup, .fini = teardown, .timeout = 30);

/* The detail names the plugin, the op and the key, and says why. */
static void expect_refused(int rc, const char *op, const char *key,
                           const char *why)
{
    const char *d = rdv_store_errmsg(s);

    cr_assert_eq(rc, RDV_EPROTO, "%s: %s (%s)", op, rdv_status_name(rc), d);
    cr_assert(strstr(d, "plugin 'replies' (replies.so) broke the ABI"),
              "%s", d);
    cr_assert(strstr(d, op) && strstr(d, key) && strstr(d, why), "%s", d);
}

Test(plugin_replies, a_value_length_over_value_max_is_refused_and_freed)
{
    void *v = (void *)1;
    size_t len = 1;

    /* SIZE_MAX once made realloc(v, 0) free the value, then get freed
     * it again. */
    reply.len = SIZE_MAX;
    expect_refused(rdv_store_get(s, "k", &v, &len, 0), "get", "key 'k'",
                   "over RDV_VALUE_MAX");
    cr_assert(v == NULL && len == 0);
    reply.len = (size_t)RDV_VALUE_MAX + 1;
    expect_refused(rdv_store_get(s, "k", &v, &len, 0), "get", "key 'k'",
                   "over RDV_VALUE_MAX");
    reply.len = 3;
    cr_assert_eq(rdv_store_get(s, "k", &v, &len, 0), RDV_OK);
    cr_assert(len == 3 && ((char *)v)[3] == '\0');
    free(v);
}

Test(plugin_replies, compare_set_cur_and_won_are_checked)
{
    void *cur = (void *)1;
    size_t cur_len = 1;
    int won = 5;

    reply.null_val = 1;
    reply.len = 4;
    expect_refused(rdv_store_compare_set(s, "k", NULL, 0, "v", 1, &won,
                                         &cur, &cur_len),
                   "compare_set", "key 'k'", "NULL value of 4 bytes");
    cr_assert(cur == NULL && cur_len == 0);
    reply.null_val = 0;
    reply.len = 1;
    reply.won = 7;
    expect_refused(rdv_store_compare_set(s, "k", NULL, 0, "v", 1, &won,
                                         &cur, &cur_len),
                   "compare_set", "key 'k'", "won = 7");
    cr_assert(cur == NULL && cur_len == 0);
    /* NULL and 0: the key is absent, which is no value at all. */
    reply.null_val = 1;
    reply.len = 0;
    reply.won = 0;
    cr_assert_eq(rdv_store_compare_set(s, "k", "x", 1, "v", 1, &won, &cur,
                                       &cur_len), RDV_OK);
    cr_assert(won == 0 && cur == NULL && cur_len == 0);
}

Test(plugin_replies, list_flaws_are_refused_and_freed)
{
    static const struct {
        const char *prefix, *why;
        const char *keys[3];
        size_t n;
    } cases[] = {
        {"p/", "a NULL key", {"p/a", NULL, "p/b"}, 3},
        {"p/", "the key 'p/a' twice", {"p/a", "p/b", "p/a"}, 3},
        {"p/", "the key 'q/a', outside the prefix", {"p/a", "q/a"}, 2},
        {"", "an empty key", {"a", ""}, 2},
    };
    char **keys;
    size_t n;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[64];

        reply.keys = cases[i].keys;
        reply.n = cases[i].n;
        snprintf(what, sizeof what, "prefix '%s'", cases[i].prefix);
        expect_refused(rdv_store_list(s, cases[i].prefix, &keys, &n), "list",
                       what, cases[i].why);
        cr_assert(keys == NULL && n == 0);
    }
    reply.keys = cases[1].keys;
    reply.n = 2;
    cr_assert_eq(rdv_store_list(s, "p/", &keys, &n), RDV_OK);
    cr_assert(n == 2 && strcmp(keys[1], "p/b") == 0);
    rdv_store_list_free(keys, n);
}

Test(plugin_replies, a_negative_key_count_is_refused)
{
    int64_t n = 1;

    reply.count = -3;
    expect_refused(rdv_store_num_keys(s, &n), "num_keys", "whole store",
                   "returned -3 keys");
    cr_assert_eq(n, 0);
}

Test(plugin_replies, a_status_outside_the_table_names_the_key)
{
    reply.rc = -14;
    expect_refused(rdv_store_delete(s, "job/\x1b"), "delete",
                   "key 'job/\\x1b'", "returned -14, which is not");
}

Test(plugin_replies, errmsg_is_bounded_and_escaped)
{
    char *long_msg = malloc(4096);
    const char *d;

    reply.rc = RDV_EIO;
    reply.msg = "disk\x1b[2J gone\n";
    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_EIO);
    cr_assert_str_eq(rdv_store_errmsg(s), "disk\\x1b[2J gone\\x0a");
    /* No NUL within 4096 bytes: read no further than a detail holds. */
    memset(long_msg, 'y', 4096);
    reply.msg = long_msg;
    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_EIO);
    d = rdv_store_errmsg(s);
    cr_assert_eq(strlen(d), RDV_DETAIL_MAX - 1);
    free(long_msg);
}
