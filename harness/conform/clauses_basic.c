/*
 * conform/clauses_basic.c - values and keys: set/get, overwrite,
 * create-only, empty and 64 MiB values, odd keys, bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform/clause.h"
#include "conform/clauses.h"

static int check_set_get(clause_ctx *c)
{
    rdv_store *s = c->s;

    if (!clause_expect(c, s, "set k", rdv_store_set(s, "k", "v1", 2, 0),
                       RDV_OK) ||
        !clause_expect_value(c, s, "k", "v1", 2))
        return 0;
    if (!clause_expect(c, s, "overwrite k",
                       rdv_store_set(s, "k", "value2", 6, 0), RDV_OK) ||
        !clause_expect_value(c, s, "k", "value2", 6))
        return 0;
    if (clause_level(c) < RDV_STORE_LEVEL_FULL)
        return clause_pass(c, "set/get and overwrite behave (create-only "
                           "is above the level the store is judged at)");
    if (!clause_expect(c, s, "create-only set of existing k",
                       rdv_store_set(s, "k", "v3", 2, RDV_SET_CREATE_ONLY),
                       RDV_EEXIST) ||
        !clause_expect_value(c, s, "k", "value2", 6))
        return 0;
    if (!clause_expect(c, s, "create-only set of new k2",
                       rdv_store_set(s, "k2", "x", 1, RDV_SET_CREATE_ONLY),
                       RDV_OK) ||
        !clause_expect_value(c, s, "k2", "x", 1))
        return 0;
    return clause_pass(c, "set/get, overwrite and create-only behave");
}
RDV_CLAUSE_SCOPED(set_get)

static int check_empty_value(clause_ctx *c)
{
    if (!clause_expect(c, c->s, "set empty",
                       rdv_store_set(c->s, "empty", NULL, 0, 0), RDV_OK) ||
        !clause_expect_value(c, c->s, "empty", "", 0))
        return 0;
    return clause_pass(c, "an empty value reads back with length 0");
}
RDV_CLAUSE_SCOPED(empty_value)

static int check_large_value(clause_ctx *c)
{
    size_t len = c->env->quick ? 4u << 20 : RDV_VALUE_MAX;
    unsigned char *big = malloc(RDV_VALUE_MAX + 1);
    int ok;

    if (!big)
        return clause_fail(c, "out of memory for the test value");
    for (size_t i = 0; i <= RDV_VALUE_MAX; i++)
        big[i] = (unsigned char)(i * 2654435761u >> 13);
    ok = clause_expect(c, c->s, "set large",
                       rdv_store_set(c->s, "big", big, len, 0), RDV_OK) &&
         clause_expect_value(c, c->s, "big", big, len) &&
         clause_expect(c, c->s, "set one byte over the limit",
                       rdv_store_set(c->s, "big2", big, RDV_VALUE_MAX + 1,
                                     0), RDV_EINVAL);
    free(big);
    if (!ok)
        return 0;
    if (!strstr(rdv_store_errmsg(c->s), "big2"))
        return clause_fail(c, "oversized value error does not name the "
                           "key: '%s'", rdv_store_errmsg(c->s));
    return clause_pass(c, "a %zu-byte value round-trips; %u bytes is "
                       "RDV_EINVAL: %s", len, RDV_VALUE_MAX + 1,
                       rdv_store_errmsg(c->s));
}
RDV_CLAUSE_SCOPED(large_value)

static int check_odd_keys(clause_ctx *c)
{
    static char binary[256], longest[RDV_KEY_MAX + 1];
    const char *keys[] = {
        "a/b", "../../etc/passwd", "..", ".", "-leading-dash",
        "with space", "caf\xc3\xa9 \xe2\x98\x83", "%2e%2e", "a//b/",
        "\\back\\slash", "*?[glob]", binary, longest,
    };
    size_t n = sizeof keys / sizeof keys[0];
    char **listed = NULL;
    size_t nlisted = 0;

    for (int i = 1; i < 256; i++)
        binary[i - 1] = (char)i;
    memset(longest, 'k', RDV_KEY_MAX);
    for (size_t i = 0; i < n; i++) {
        char what[64];
        size_t vlen = strlen(keys[i]) % 97;

        snprintf(what, sizeof what, "set odd key #%zu", i);
        if (!clause_expect(c, c->s, what,
                           rdv_store_set(c->s, keys[i], keys[i], vlen, 0),
                           RDV_OK) ||
            !clause_expect_value(c, c->s, keys[i], keys[i], vlen))
            return 0;
    }
    if (!clause_expect(c, c->s, "list",
                       rdv_store_list(c->s, "", &listed, &nlisted), RDV_OK))
        return 0;
    for (size_t i = 0; i < n; i++) {
        int found = 0;

        for (size_t j = 0; j < nlisted; j++)
            found |= strcmp(listed[j], keys[i]) == 0;
        if (!found) {
            rdv_store_list_free(listed, nlisted);
            return clause_fail(c, "list did not return odd key #%zu "
                               "exactly (listed %zu keys)", i, nlisted);
        }
    }
    rdv_store_list_free(listed, nlisted);
    if (nlisted != n)
        return clause_fail(c, "list returned %zu keys, %zu were set",
                           nlisted, n);
    return clause_pass(c, "%zu odd keys (bytes 1-255, UTF-8, '/', '..', "
                       "spaces, '-', 4096 bytes) round-trip and list", n);
}
RDV_CLAUSE_SCOPED(odd_keys)

static int check_bad_input(clause_ctx *c)
{
    static char too_long[RDV_KEY_MAX + 2];
    struct {
        const char *what;
        const char *key;
    } cases[] = {
        {"NULL key", NULL},
        {"empty key", ""},
        {"4097-byte key", too_long},
    };

    memset(too_long, 'x', RDV_KEY_MAX + 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *v = NULL;
        size_t len;

        if (!clause_expect(c, c->s, cases[i].what,
                           rdv_store_set(c->s, cases[i].key, "v", 1, 0),
                           RDV_EINVAL) ||
            !clause_expect(c, c->s, cases[i].what,
                           rdv_store_get(c->s, cases[i].key, &v, &len, 0),
                           RDV_EINVAL))
            return 0;
        if (!rdv_store_errmsg(c->s)[0])
            return clause_fail(c, "%s: RDV_EINVAL without a detail",
                               cases[i].what);
    }
    return clause_pass(c, "bad keys give RDV_EINVAL: %s",
                       rdv_store_errmsg(c->s));
}
RDV_CLAUSE_SCOPED(bad_input)

static int check_try_get_missing(clause_ctx *c)
{
    const char *keys[] = {"missing"};
    void *v = NULL;
    size_t len;

    if (!clause_expect(c, c->s, "try_get missing",
                       rdv_store_try_get(c->s, "missing", &v, &len),
                       RDV_ENOTFOUND) ||
        !clause_expect(c, c->s, "check missing",
                       rdv_store_check(c->s, keys, 1), RDV_ENOTFOUND))
        return 0;
    if (!clause_expect(c, c->s, "set", rdv_store_set(c->s, "missing", "1",
                                                     1, 0), RDV_OK) ||
        !clause_expect(c, c->s, "check present",
                       rdv_store_check(c->s, keys, 1), RDV_OK))
        return 0;
    return clause_pass(c, "missing keys give RDV_ENOTFOUND without "
                       "blocking");
}
RDV_CLAUSE_SCOPED(try_get_missing)
