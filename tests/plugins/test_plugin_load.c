/*
 * test_plugin_load.c - the plugin: scheme end to end with real dlopen'd
 * .so files: every load error names the file and what was expected, the
 * plugin's own create message comes through, its options are accepted
 * and typos refused, and the adapter gives the whole store API (with
 * the generic fallbacks) over the SQLite example.
 *
 * Plugin paths come from CMake (RDV_SQLITE_PLUGIN, RDV_BROKEN_DIR).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rdv/store.h"

static char dbdir[] = "/tmp/rdv-plugin-test-XXXXXX";
static char db[256];

static void setup(void)
{
    cr_assert(mkdtemp(dbdir), "mkdtemp");
    snprintf(db, sizeof db, "%s/kv.db", dbdir);
}

static void teardown(void)
{
    char cmd[512];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dbdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(plugin_load, .init = setup, .fini = teardown, .timeout = 60);

/* Opens url expecting failure rc, and checks err holds every needle. */
static void expect_open_error(const char *url, int rc, const char *n1,
                              const char *n2)
{
    char err[1024];
    rdv_store *s = (rdv_store *)1;
    int got = rdv_store_open(url, &s, err, sizeof err);

    cr_assert_eq(got, rc, "open %s: got %s (%s), want %s", url,
                 rdv_status_name(got), err, rdv_status_name(rc));
    cr_assert_null(s);
    cr_assert(strstr(err, n1), "'%s' lacks '%s'", err, n1);
    if (n2)
        cr_assert(strstr(err, n2), "'%s' lacks '%s'", err, n2);
}

Test(plugin_load, missing_file)
{
    expect_open_error("plugin:./no/such/libstore.so", RDV_EINVAL,
                      "./no/such/libstore.so", "no such file");
}

Test(plugin_load, not_a_shared_library)
{
    char path[300], url[400];
    FILE *f;

    snprintf(path, sizeof path, "%s/libjunk.so", dbdir);
    f = fopen(path, "w");
    cr_assert(f);
    fputs("not an ELF file\n", f);
    fclose(f);
    snprintf(url, sizeof url, "plugin:%s", path);
    expect_open_error(url, RDV_EINVAL, path, "cannot load");
}

Test(plugin_load, missing_symbol_names_the_other_abi)
{
    expect_open_error("plugin:" RDV_BROKEN_DIR "/librdv_broken_no_symbol.so"
                      "?db=/tmp/x", RDV_EINVAL, "rdv_store_plugin_v1",
                      "rdv_store_plugin_v2");
}

Test(plugin_load, wrong_abi_version)
{
    expect_open_error("plugin:" RDV_BROKEN_DIR
                      "/librdv_broken_abi_version.so?db=/tmp/x",
                      RDV_EINVAL, "ABI version 99", "expected 1");
}

Test(plugin_load, null_required_op_is_named)
{
    expect_open_error("plugin:" RDV_BROKEN_DIR
                      "/librdv_broken_null_op.so?db=/tmp/x", RDV_EINVAL,
                      "required op 'wait' is NULL", "broken-null-op");
}

Test(plugin_load, a_status_outside_rdv_status_is_eproto)
{
    char url[512], err[1024];
    rdv_store *s = NULL;

    snprintf(url, sizeof url, "plugin:%s/librdv_broken_bad_status.so?db=%s",
             RDV_BROKEN_DIR, db);
    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_eq(rdv_store_delete(s, "k"), RDV_EPROTO);
    cr_assert(strstr(rdv_store_errmsg(s), "delete on key 'k' returned 42, "
                     "which is not an rdv_status"), "%s", rdv_store_errmsg(s));
    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_OK, "usable after");
    rdv_store_close(s);
}

Test(plugin_load, create_failure_passes_the_plugin_message)
{
    expect_open_error("plugin:" RDV_SQLITE_PLUGIN, RDV_ECONN,
                      "create failed", "needs the database file");
    expect_open_error("plugin:" RDV_SQLITE_PLUGIN "?db=/nonexistent/dir/x.db",
                      RDV_ECONN, "cannot open database", "/nonexistent");
}

Test(plugin_load, unknown_option_is_refused)
{
    char url[512];

    snprintf(url, sizeof url, "plugin:%s?db=%s&bussy_ms=5",
             RDV_SQLITE_PLUGIN, db);
    expect_open_error(url, RDV_EINVAL, "unknown option 'bussy_ms'", NULL);
}

Test(plugin_load, failed_create_names_unread_options)
{
    char url[512];

    snprintf(url, sizeof url, "plugin:%s?dbb=%s", RDV_SQLITE_PLUGIN, db);
    expect_open_error(url, RDV_ECONN, "needs the database file",
                      "options it did not read: dbb");
}

Test(plugin_load, bad_option_value_is_named)
{
    char url[512];

    snprintf(url, sizeof url, "plugin:%s?db=%s&poll_ms=soon",
             RDV_SQLITE_PLUGIN, db);
    expect_open_error(url, RDV_ECONN, "poll_ms=soon", NULL);
}

static rdv_store *open_sqlite(const char *extra)
{
    char url[512], err[1024];
    rdv_store *s = NULL;
    int rc;

    snprintf(url, sizeof url, "plugin:%s?db=%s%s", RDV_SQLITE_PLUGIN, db,
             extra);
    rc = rdv_store_open(url, &s, err, sizeof err);
    cr_assert_eq(rc, RDV_OK, "open %s: %s", url, err);
    return s;
}

Test(plugin_load, ops_and_fallbacks_through_the_adapter)
{
    rdv_store *s = open_sqlite("&busy_ms=2000&poll_ms=20");
    const char *keys[] = {"a/1", "a/2", "b"};
    const void *vals[] = {"x", "", "zz"};
    size_t lens[] = {1, 0, 2}, outlens[3], n = 0, deleted = 0;
    void *out[3], *v = NULL;
    char **listed = NULL;
    int64_t count = -1, r = 0;

    cr_assert_str_eq(rdv_store_name(s), "plugin");
    cr_assert_eq(rdv_store_multi_set(s, keys, vals, lens, 3), RDV_OK);
    cr_assert_eq(rdv_store_multi_get(s, keys, 3, out, outlens, 1000),
                 RDV_OK, "%s", rdv_store_errmsg(s));
    cr_assert_eq(outlens[1], 0);
    cr_assert_eq(((char *)out[1])[0], '\0', "values are NUL-terminated");
    cr_assert_eq(memcmp(out[2], "zz", 3), 0);
    for (int i = 0; i < 3; i++)
        free(out[i]);
    cr_assert_eq(rdv_store_list(s, "a/", &listed, &n), RDV_OK);
    cr_assert_eq(n, 2);
    rdv_store_list_free(listed, n);
    cr_assert_eq(rdv_store_num_keys(s, &count), RDV_OK);
    cr_assert_eq(count, 3);
    cr_assert_eq(rdv_store_add(s, "ctr", 5, &r), RDV_OK);
    cr_assert_eq(rdv_store_add(s, "ctr", -7, &r), RDV_OK);
    cr_assert_eq(r, -2);
    cr_assert_eq(rdv_store_try_get(s, "nope", &v, &n), RDV_ENOTFOUND);
    cr_assert(strstr(rdv_store_errmsg(s), "nope"), "%s",
              rdv_store_errmsg(s));
    cr_assert_eq(rdv_store_wait(s, keys, 3, 0), RDV_OK);
    cr_assert_eq(rdv_store_delete_prefix(s, "a/", &deleted), RDV_OK);
    cr_assert_eq(deleted, 2);
    cr_assert_eq(rdv_store_set(s, "b", "q", 1, RDV_SET_CREATE_ONLY),
                 RDV_EEXIST);
    cr_assert(strstr(rdv_store_errmsg(s), "create-only"), "%s",
              rdv_store_errmsg(s));
    rdv_store_close(s);
}

Test(plugin_load, wait_timeout_names_missing_keys)
{
    rdv_store *s = open_sqlite("");
    const char *keys[] = {"here", "gone/1", "gone/2"};

    cr_assert_eq(rdv_store_set(s, "here", "1", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_wait(s, keys, 3, 50), RDV_ETIMEDOUT);
    cr_assert(strstr(rdv_store_errmsg(s), "2 of 3 keys missing: gone/1, "
                     "gone/2"), "%s", rdv_store_errmsg(s));
    rdv_store_close(s);
}

Test(plugin_load, prefix_stays_with_rdv)
{
    rdv_store *scoped = open_sqlite("&prefix=job9");
    rdv_store *raw = open_sqlite("");
    void *v = NULL;
    size_t len = 0;

    cr_assert_str_eq(rdv_store_name(scoped), "prefix");
    cr_assert_eq(rdv_store_set(scoped, "k", "v", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_get(raw, "job9/k", &v, &len, 1000), RDV_OK,
                 "%s", rdv_store_errmsg(raw));
    free(v);
    rdv_store_close(scoped);
    rdv_store_close(raw);
}

Test(plugin_load, two_plugins_in_one_process)
{
    rdv_store *a = open_sqlite("");
    char url[512], err[1024];
    rdv_store *b = NULL;
    int64_t r = 0;

    snprintf(url, sizeof url, "plugin:%s/librdv_broken_loses_writes.so?"
             "db=%s", RDV_BROKEN_DIR, db);
    cr_assert_eq(rdv_store_open(url, &b, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_eq(rdv_store_add(a, "shared", 1, &r), RDV_OK);
    cr_assert_eq(rdv_store_add(b, "shared", 1, &r), RDV_OK);
    cr_assert_eq(r, 2);
    rdv_store_close(b);
    rdv_store_close(a);
}
