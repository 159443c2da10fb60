/*
 * tests/fuzz/fuzz_file_store.c - what the file store reads from its
 * directory, which any process that can write there controls: the names
 * of the entries (stores/file_name.c) and the header of each key's file
 * (stores/file.c). A real file store in a temporary directory.
 *
 * Byte 0 picks what the rest is:
 *   0  a directory entry's name (up to a '/'), then its content: list
 *      names a key only when that key's own file name is this entry's
 *      (so list, get and delete agree), and get of it answers as below;
 *   1  the content of the file of a short key: get either returns a
 *      value (the last complete record behind a header naming that
 *      key) or refuses with RDV_EPROTO and a message; list then names
 *      the key;
 *   2  the content of the file of a long key (a hashed name, whose key
 *      only the header holds): every key list returns is one whose
 *      file name is this file's, and get of it answers as above.
 * Every key list names is then deleted through the store. After 1 and
 * 2 the file is written again, two sets of the key succeed over
 * whatever it holds, and get returns each.
 *
 * A file that holds a key goes through the store's delete, never a bare
 * unlink: the handle's read cache keeps files open, and only the
 * store's own writers tell it that a name now holds another file
 * (stores/file_cache.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "rdv/status.h"
#include "rdv/store.h"
#include "rdv/store_ops.h"
#include "stores/file_name.h"

static char dir[64];
static rdv_store *store;
static char long_key[400];

static void cleanup(void)
{
    char path[128];

    rdv_store_close(store);
    snprintf(path, sizeof path, "%s/.lock", dir);
    unlink(path);
    rmdir(dir);
}

static void setup(void)
{
    char url[128], err[512];

    snprintf(dir, sizeof dir, "/tmp/rdv-fuzz-file.XXXXXX");
    FUZZ_CHECK(mkdtemp(dir) != NULL, "cannot make a temporary directory");
    snprintf(url, sizeof url, "file://%s", dir);
    FUZZ_CHECK(rdv_store_open(url, &store, err, sizeof err) == RDV_OK,
               "cannot open %s: %s", url, err);
    memset(long_key, 'x', sizeof long_key - 1);
    atexit(cleanup);
}

static void write_file(const char *name, const uint8_t *data, size_t size)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0,
               "cannot write %s", path);
}

/* Removes an entry that holds no key (nothing read it, so nothing
 * keeps it open). */
static void remove_file(const char *name)
{
    char path[512];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* Deletes key through the store: its file goes. */
static void delete_key(const char *key)
{
    int rc = rdv_store_delete(store, key);

    FUZZ_CHECK(rc == RDV_OK, "delete fails with %d: %s", rc,
               rdv_store_errmsg(store));
}

/* get of key answers with the value or a clear refusal. */
static void check_get(const char *key)
{
    void *val = NULL;
    size_t len = 0;
    int rc = rdv_store_get(store, key, &val, &len, 0);

    if (rc == RDV_OK) {
        FUZZ_CHECK(val && ((char *)val)[len] == '\0',
                   "a value that is not NUL-terminated");
        free(val);
    } else {
        FUZZ_CHECK(rc == RDV_EPROTO &&
                       fuzz_msg_ok(rdv_store_errmsg(store), 4096),
                   "get refused with %d, '%s'", rc,
                   rdv_store_errmsg(store));
    }
}

/* A set over whatever the file holds succeeds, and get then returns
 * exactly that value: appended to a file that ends with key's complete
 * record, written as a new file over any other; twice, so the second
 * set appends to what the first left. */
static void check_set(const char *key)
{
    static const char *const sets[] = {"first", "the second value"};

    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) {
        size_t want = strlen(sets[i]), len = 0;
        void *val = NULL;
        int rc = rdv_store_set(store, key, sets[i], want, 0);

        FUZZ_CHECK(rc == RDV_OK, "set over the file fails with %d: %s", rc,
                   rdv_store_errmsg(store));
        rc = rdv_store_get(store, key, &val, &len, 0);
        FUZZ_CHECK(rc == RDV_OK && len == want &&
                       memcmp(val, sets[i], want) == 0,
                   "get after set '%s' answers %d with %zu bytes", sets[i],
                   rc, len);
        free(val);
    }
}

static void check_list(const char *name)
{
    char **keys = NULL, encoded[RDV_FILE_NAME_MAX + 1];
    size_t n = 0;
    int rc = rdv_store_list(store, "", &keys, &n);

    FUZZ_CHECK(rc == RDV_OK, "list fails: %s", rdv_store_errmsg(store));
    FUZZ_CHECK(n <= 1, "one file, %zu keys", n);
    for (size_t i = 0; i < n; i++) {
        rdv_file_name_encode(keys[i], encoded);
        FUZZ_CHECK(strcmp(encoded, name) == 0,
                   "list names a key whose file is %s, not %s", encoded,
                   name);
        check_get(keys[i]);
        delete_key(keys[i]);
    }
    rdv_store_list_free(keys, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[RDV_FILE_NAME_MAX + 1];

    if (!store)
        setup();
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0: {
        /* a name, '/' and NUL ending it, then the file's content */
        const uint8_t *slash = memchr(data + 1, '/', size - 1);
        size_t n = slash ? (size_t)(slash - data - 1) : size - 1;
        size_t skip = slash ? n + 1 : n;
        char *text = fuzz_cstr(data + 1, n);
        size_t len = strlen(text);

        if (len == 0 || len > RDV_FILE_NAME_MAX || text[0] == '.') {
            free(text);
            break;
        }
        write_file(text, data + 1 + skip, size - 1 - skip);
        check_list(text); /* deletes the key it names */
        remove_file(text);
        free(text);
        break;
    }
    case 1:
    case 2: {
        const char *key = data[0] % 3 == 1 ? "job/addr/3" : long_key;

        rdv_file_name_encode(key, name);
        write_file(name, data + 1, size - 1);
        check_get(key);
        check_list(name);
        write_file(name, data + 1, size - 1);
        check_set(key);
        delete_key(key);
        break;
    }
    }
    return 0;
}
