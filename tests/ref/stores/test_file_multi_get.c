/*
 * tests/ref/stores/test_file_multi_get.c - the file store's own multi_get
 * (stores/file_wait.c): it reads the keys that are there at once and
 * waits only for the rest, here published later by another process;
 * and when one never comes it times out with no value kept and names
 * that key. Real processes on a real directory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file_dir.h"
#include "rdv/status.h"
#include "rdv/store.h"

#define KEYS 64
#define LATE 32 /* keys [LATE, KEYS) are set by a child, after a pause */

static char dir[64], url[128];

static void make_dir(void)
{
    file_dir_make(dir, url, "file-mget", "");
}

static void remove_dir(void)
{
    file_dir_remove(dir);
}

TestSuite(file_multi_get, .init = make_dir, .fini = remove_dir,
          .timeout = 120);

static void key_val(int i, char *key, char *val)
{
    snprintf(key, 32, "mget/%d", i);
    snprintf(val, 32, "value-%d", i * 7);
}

/* Sets keys [from, to) on s; 0 when every set succeeded. */
static int set_range(rdv_store *s, int from, int to)
{
    char key[32], val[32];

    for (int i = from; i < to; i++) {
        key_val(i, key, val);
        if (rdv_store_set(s, key, val, strlen(val), 0) != RDV_OK)
            return -1;
    }
    return 0;
}

static void late_writer(void)
{
    struct timespec pause = {0, 100 * 1000 * 1000};
    char err[512];
    rdv_store *s;

    if (rdv_store_open(url, &s, err, sizeof err))
        exit(3);
    nanosleep(&pause, NULL);
    exit(set_range(s, LATE, KEYS) ? 4 : 0);
}

Test(file_multi_get, waits_for_the_keys_set_later)
{
    char keyb[KEYS][32], val[32], err[512];
    const char *keys[KEYS];
    void *vals[KEYS];
    size_t lens[KEYS];
    rdv_store *s;
    pid_t pid;
    int st;

    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_eq(set_range(s, 0, LATE), 0, "%s", rdv_store_errmsg(s));
    for (int i = 0; i < KEYS; i++) {
        key_val(i, keyb[i], val);
        keys[i] = keyb[i];
    }
    pid = fork();
    cr_assert(pid >= 0, "fork");
    if (pid == 0)
        late_writer();
    cr_assert_eq(rdv_store_multi_get(s, keys, KEYS, vals, lens, 30000),
                 RDV_OK, "%s", rdv_store_errmsg(s));
    for (int i = 0; i < KEYS; i++) {
        int same;

        key_val(i, keyb[i], val);
        same = lens[i] == strlen(val) && memcmp(vals[i], val, lens[i]) == 0;
        cr_expect(same, "%s: got %zu bytes '%.*s', want '%s'", keys[i],
                  lens[i],
                  (int)lens[i], (char *)vals[i], val);
        free(vals[i]);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the late writer ended with status 0x%x", st);
    rdv_store_close(s);
}

Test(file_multi_get, times_out_naming_the_missing_key_and_keeps_nothing)
{
    const char *keys[] = {"mget/0", "mget/1", "mget/never"};
    char err[512];
    void *vals[3];
    size_t lens[3];
    rdv_store *s;
    int rc;

    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_eq(set_range(s, 0, 2), 0, "%s", rdv_store_errmsg(s));
    rc = rdv_store_multi_get(s, keys, 3, vals, lens, 50);
    cr_expect_eq(rc, RDV_ETIMEDOUT, "multi_get returned %s",
                 rdv_status_name(rc));
    for (int i = 0; i < 3; i++)
        cr_expect(vals[i] == NULL && lens[i] == 0,
                  "a failed multi_get left a value for %s", keys[i]);
    cr_expect(strstr(rdv_store_errmsg(s), "mget/never") != NULL,
              "the detail does not name the missing key: %s",
              rdv_store_errmsg(s));
    rdv_store_close(s);
}
