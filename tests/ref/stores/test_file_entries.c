/*
 * tests/ref/stores/test_file_entries.c - what the file store makes of
 * entries in its directory that it did not write (anyone who can write
 * there can): list names a key only when that key's own file is the
 * entry, so list, get and delete always agree. Found by
 * tests/fuzz/fuzz_file_store.c; its corpus keeps the inputs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_dir.h"
#include "rdv/status.h"
#include "rdv/store.h"

static char dir[64];
static rdv_store *store;

static void open_store(void)
{
    char url[128], err[512];

    file_dir_make(dir, url, "file-entries", "");
    cr_assert_eq(rdv_store_open(url, &store, err, sizeof err), RDV_OK, "%s",
                 err);
}

static void close_store(void)
{
    rdv_store_close(store);
    file_dir_remove(dir);
}

static void put_file(const char *name, const void *data, size_t len)
{
    file_dir_put(dir, name, data, len, 0);
}

/* The keys list returns, after the one real key "real" was set. */
static size_t list_count(void)
{
    char **keys;
    size_t n;

    cr_assert_eq(rdv_store_list(store, "", &keys, &n), RDV_OK, "%s",
                 rdv_store_errmsg(store));
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(keys[i], "real", "list names '%s'", keys[i]);
    rdv_store_list_free(keys, n);
    return n;
}

TestSuite(file_entries, .init = open_store, .fini = close_store);

Test(file_entries, a_name_escaping_a_plain_byte_is_no_key)
{
    void *val;
    size_t len;

    cr_assert_eq(rdv_store_set(store, "real", "v", 1, 0), RDV_OK);
    put_file("k%41", "", 0); /* 'A' needs no escape: its file is "kA" */
    cr_assert_eq(list_count(), 1);
    cr_assert_eq(rdv_store_get(store, "A", &val, &len, 0), RDV_ETIMEDOUT,
                 "get of 'A' must not see the file k%%41");
}

Test(file_entries, a_hashed_file_whose_header_names_another_key_is_no_key)
{
    /* magic "RDVL", key length (host order), key: an empty key and a
     * short key, neither of which lives in a hashed ("h...") file */
    static const unsigned char empty[] = {'R', 'D', 'V', 'L', 0, 0, 0, 0};
    unsigned char other[8 + 4] = {'R', 'D', 'V', 'L'};
    uint32_t klen = 4;

    memcpy(other + 4, &klen, 4);
    memcpy(other + 8, "real", 4);
    cr_assert_eq(rdv_store_set(store, "real", "v", 1, 0), RDV_OK);
    put_file("h226329a92c1115be0315f0a7d3267e91", empty, sizeof empty);
    put_file("h00000000000000000000000000000000", other, sizeof other);
    cr_assert_eq(list_count(), 1, "list counts only the key that was set");
}
