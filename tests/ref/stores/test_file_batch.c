/*
 * tests/ref/stores/test_file_batch.c - the file store's reads of many
 * keys at once (stores/file_batch.c): a multi_get of more keys than one
 * batch, of values small and larger than the first read, empty, cached
 * and not, some missing, returns every value right, on ext4 (/tmp, whose
 * reads the ring does) and tmpfs (/dev/shm, read by pread), and each
 * case checks that the handle did make its ring, so it tests the batch
 * and not the one-key read; no fd is left open after close; a file that
 * is no record for its key fails the multi_get naming that file; a
 * forked child reads with the handle it inherited; a process out of fds
 * still reads every key; opens io_uring cancels (no worker thread may
 * start) are read one by one. A chunk is batched when 16 of its keys or more
 * are cached, so each case reads its keys once first. Real files, real
 * processes.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file_dir.h"
#include "rdv/status.h"
#include "rdv/store.h"

#define KEYS 150 /* two full batches of 64 and a part */
#define BIG 9000 /* more than the one-key read's first 4 KiB */
#define MID 2000 /* more than a batch reads of each file, less than 4 KiB */

static char dir[64], url[128];

static void make_dir(void)
{
    file_dir_make(dir, url, "file-batch", "");
}

static void remove_dir(void)
{
    file_dir_remove(dir);
}

TestSuite(file_batch, .init = make_dir, .fini = remove_dir, .timeout = 120);

/* Key i's value: every 7th one BIG bytes, every 5th MID, every 11th
 * empty, the rest short; the bytes depend on i, so a value read for the
 * wrong key shows. */
static size_t val_of(int i, char *buf)
{
    size_t len = i % 7 == 3    ? BIG
                 : i % 5 == 2  ? MID
                 : i % 11 == 5 ? 0
                               : 10 + (size_t)i % 40;

    for (size_t b = 0; b < len; b++)
        buf[b] = (char)('a' + (i * 31 + (int)b) % 26);
    return len;
}

static void key_of(int i, char *key)
{
    snprintf(key, 32, "batch/%d", i);
}

/* How many of this process's fds are io_uring instances, or open on
 * files of d (the read cache's). */
static void count_fds(const char *d, int *rings, int *files)
{
    char prefix[80];

    snprintf(prefix, sizeof prefix, "%s/", d);
    *rings = file_dir_fds("anon_inode:[io_uring]");
    *files = file_dir_fds(prefix);
}

/* Sets every key but the missing ones (i % 13 == 4) on u's store. */
static void set_keys(rdv_store *s)
{
    static char val[BIG];
    char key[32];

    for (int i = 0; i < KEYS; i++) {
        if (i % 13 == 4)
            continue;
        key_of(i, key);
        cr_assert_eq(rdv_store_set(s, key, val, val_of(i, val), 0), RDV_OK,
                     "%s", rdv_store_errmsg(s));
    }
}

/* multi_get of the keys that exist, twice (by name, then from the
 * cache), then of all with a short timeout, which must name a missing
 * key and keep nothing. */
static void read_all(rdv_store *s)
{
    static char want[BIG];
    char keyb[KEYS][32];
    const char *keys[KEYS];
    void *vals[KEYS];
    size_t lens[KEYS], n = 0;

    for (int i = 0; i < KEYS; i++)
        if (i % 13 != 4) {
            key_of(i, keyb[n]);
            keys[n] = keyb[n];
            n++;
        }
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(rdv_store_multi_get(s, keys, n, vals, lens, 5000),
                     RDV_OK, "round %d: %s", round, rdv_store_errmsg(s));
        for (size_t k = 0; k < n; k++) {
            int i = atoi(keys[k] + strlen("batch/"));
            size_t len = val_of(i, want);

            cr_expect(lens[k] == len && memcmp(vals[k], want, len) == 0,
                      "round %d: %s read %zu bytes, want %zu", round,
                      keys[k], lens[k], len);
            cr_expect_eq(((char *)vals[k])[lens[k]], '\0');
            free(vals[k]);
        }
    }
    for (int i = 0; i < KEYS; i++) {
        key_of(i, keyb[i]);
        keys[i] = keyb[i];
    }
    cr_assert_eq(rdv_store_multi_get(s, keys, KEYS, vals, lens, 50),
                 RDV_ETIMEDOUT, "%s", rdv_store_errmsg(s));
    cr_expect(strstr(rdv_store_errmsg(s), "batch/4"), "%s",
              rdv_store_errmsg(s));
    for (int i = 0; i < KEYS; i++)
        cr_expect_null(vals[i], "%s kept a value after the failure",
                       keys[i]);
}

/* The whole case on the directory d (a file:// store there). */
static void reads_every_key_in(const char *d)
{
    char u[160], err[512];
    int rings0, files0, rings, files;
    rdv_store *s;

    snprintf(u, sizeof u, "file://%s", d);
    count_fds(d, &rings0, &files0);
    cr_assert_eq(rdv_store_open(u, &s, err, sizeof err), RDV_OK, "%s", err);
    set_keys(s);
    read_all(s);
    count_fds(d, &rings, &files);
    cr_expect_eq(rings, rings0 + 1, "the handle made no ring (%d io_uring "
                 "fds, %d before): the batch was not tested", rings, rings0);
    cr_expect_gt(files, files0, "no key file is cached");
    rdv_store_close(s);
    count_fds(d, &rings, &files);
    cr_expect(rings == rings0 && files == files0, "after close: %d rings "
              "and %d files of %s open, %d and %d before", rings, files, d,
              rings0, files0);
}

Test(file_batch, reads_every_key_on_disk)
{
    reads_every_key_in(dir);
}

Test(file_batch, reads_every_key_on_tmpfs)
{
    char d[64] = "/dev/shm/rdv-file-batch.XXXXXX";

    if (!mkdtemp(d))
        cr_skip_test("no tmpfs at /dev/shm to test on: %m");
    reads_every_key_in(d);
    file_dir_remove(d);
}

/* The name of the only key file in dir. */
static void only_entry(char *name, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    cr_assert(d, "opendir %s", dir);
    name[0] = '\0';
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            snprintf(name, cap, "%s", e->d_name);
    closedir(d);
    cr_assert(name[0], "no key file in %s", dir);
}

Test(file_batch, a_file_that_is_no_record_fails_naming_it)
{
    char name[256], err[512];
    int rings0, rings, files;
    rdv_store *s;
    void *vals[KEYS];
    size_t lens[KEYS];
    char keyb[KEYS][32];
    const char *keys[KEYS];

    count_fds(dir, &rings0, &files);
    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_eq(rdv_store_set(s, "batch/bad", "x", 1, 0), RDV_OK);
    only_entry(name, sizeof name);
    set_keys(s);
    for (int i = 0; i < 64; i++) {
        key_of(i % 13 == 4 ? i + 5 : i, keyb[i]); /* not the missing ones */
        keys[i] = keyb[i];
    }
    keys[40] = "batch/bad";
    /* Read once, so the files are cached and the next read is batched;
     * then the file is overwritten in place (the same inode, as a
     * cached fd sees it). */
    cr_assert_eq(rdv_store_multi_get(s, keys, 64, vals, lens, 1000), RDV_OK,
                 "%s", rdv_store_errmsg(s));
    for (int i = 0; i < 64; i++)
        free(vals[i]);
    file_dir_put(dir, name, "not a record at all", 19, 0);
    cr_assert_eq(rdv_store_multi_get(s, keys, 64, vals, lens, 1000),
                 RDV_EPROTO, "%s", rdv_store_errmsg(s));
    cr_expect(strstr(rdv_store_errmsg(s), name) &&
                  strstr(rdv_store_errmsg(s), "batch/bad"),
              "the error names neither the file %s nor its key: %s", name,
              rdv_store_errmsg(s));
    for (int i = 0; i < 64; i++)
        cr_expect_null(vals[i], "%s kept a value after the failure",
                       keys[i]);
    count_fds(dir, &rings, &files);
    cr_expect_eq(rings, rings0 + 1, "no ring was made: the batch was not "
                 "tested");
    rdv_store_close(s);
}

/* Waits for the child pid, which must end with status 0; codes says
 * what its other statuses mean. */
static void expect_child_ok(pid_t pid, const char *codes)
{
    int st;

    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the child ended with status 0x%x (%s)", st, codes);
}

/* A multi_get of 64 existing keys from key `from` on: 0 when every
 * value came back right, 1 when it failed, 2 when a value was wrong. */
static int reads_64(rdv_store *s, int from)
{
    static char want[BIG];
    char keyb[64][32];
    const char *keys[64];
    void *vals[64];
    size_t lens[64];
    int bad = 0;

    for (int i = 0; i < 64; i++) {
        int k = from + i;

        key_of(k % 13 == 4 ? k + 5 : k, keyb[i]); /* not the missing ones */
        keys[i] = keyb[i];
    }
    if (rdv_store_multi_get(s, keys, 64, vals, lens, 5000) != RDV_OK)
        return 1;
    for (int i = 0; i < 64; i++) {
        int k = atoi(keys[i] + strlen("batch/"));
        size_t len = val_of(k, want);

        bad |= lens[i] != len || memcmp(vals[i], want, len) != 0;
        free(vals[i]);
    }
    return bad ? 2 : 0;
}

Test(file_batch, a_forked_child_reads_with_the_handle_it_inherited)
{
    char err[512];
    int rings0, rings, files;
    rdv_store *s;
    pid_t pid;

    count_fds(dir, &rings0, &files);
    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    set_keys(s);
    for (int round = 0; round < 2; round++) /* by name, then batched */
        cr_assert_eq(reads_64(s, 0), 0, "the parent's read %d failed: %s",
                     round, rdv_store_errmsg(s));
    count_fds(dir, &rings, &files);
    cr_assert_eq(rings, rings0 + 1, "the parent made no ring: the batch "
                 "was not tested");
    pid = fork();
    cr_assert(pid >= 0, "fork");
    if (pid == 0)
        exit(reads_64(s, 0));
    expect_child_ok(pid, "1: its multi_get failed, 2: a value was wrong");
    cr_expect_eq(reads_64(s, 0), 0, "the parent's read after the child's "
                 "failed: %s", rdv_store_errmsg(s));
    rdv_store_close(s);
}

Test(file_batch, a_process_out_of_fds_still_reads_every_key)
{
    struct rlimit lim;
    char err[512];
    int rings0, rings, files;
    rdv_store *s;
    pid_t pid;
    int st;

    if (getenv("RDV_TEST_QUICK"))
        cr_skip_test("RDV_TEST_QUICK (ci/valgrind): valgrind keeps fds of "
                     "its own under the limit this case sets; the release "
                     "and ASan runs judge it");
    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    set_keys(s);
    rdv_store_close(s);
    pid = fork();
    cr_assert(pid >= 0, "fork");
    if (pid == 0) {
        /* Keys 0-63 read twice: cached, and the ring made. Then a limit
         * of 40 fds, below the 64 cached (the cache's cap was set at
         * open, under the old limit): keys 20-83 find 44 cached, and the
         * 20 others' opens in the batch fail (EMFILE), to be read by the
         * one-key code, which gives the cache's fds (and the ring's)
         * back. */
        count_fds(dir, &rings0, &files);
        if (rdv_store_open(url, &s, err, sizeof err))
            exit(3);
        for (int round = 0; round < 2; round++)
            if ((st = reads_64(s, 0)))
                exit(st);
        count_fds(dir, &rings, &files);
        if (rings != rings0 + 1)
            exit(5);
        getrlimit(RLIMIT_NOFILE, &lim);
        lim.rlim_cur = 40;
        if (setrlimit(RLIMIT_NOFILE, &lim))
            exit(4);
        st = reads_64(s, 20);
        rdv_store_close(s);
        exit(st);
    }
    expect_child_ok(pid, "1: a multi_get failed, 2: a value was wrong, 3: "
                    "open, 4: setrlimit, 5: no ring was made");
}

/* In a child that may start no thread (RLIMIT_NPROC = 1, as uid nobody:
 * root is exempt): io_uring cancels the opens it would hand to a worker
 * (names never seen, not in the dentry cache), and the batch must leave
 * them to the one-key code, not fail. Exit status: 0, 1 the multi_get
 * did not time out naming a missing key, 2 a value was wrong after, 3
 * open, 4 dropping to nobody or the limit, 5 no ring was made. */
static void no_thread_child(const char *d)
{
    struct rlimit one;
    char u[160], err[512], keyb[84][32];
    const char *keys[84];
    void *vals[84];
    size_t lens[84];
    int rings0, rings, files, rc;
    rdv_store *s;

    /* The hard limit stays, so the soft one goes back up before exit:
     * LeakSanitizer needs a thread of its own then. */
    if (getrlimit(RLIMIT_NPROC, &one) || setgid(65534) || setuid(65534))
        exit(4);
    one.rlim_cur = 1;
    if (setrlimit(RLIMIT_NPROC, &one))
        exit(4);
    snprintf(u, sizeof u, "file://%s", d);
    count_fds(d, &rings0, &files);
    if (rdv_store_open(u, &s, err, sizeof err))
        exit(3);
    for (int i = 0; i < 84; i++) {
        snprintf(keyb[i], sizeof keyb[i], "nproc/%d", i);
        keys[i] = keyb[i];
        if (i < 64 && rdv_store_set(s, keys[i], "v", 1, 0))
            exit(3);
    }
    for (int round = 0; round < 2; round++) { /* cached, then batched */
        if (rdv_store_multi_get(s, keys, 64, vals, lens, 1000))
            exit(2);
        for (int i = 0; i < 64; i++)
            free(vals[i]);
    }
    count_fds(d, &rings, &files);
    if (rings != rings0 + 1)
        exit(5);
    rc = rdv_store_multi_get(s, keys + 20, 64, vals, lens, 0);
    if (rc != RDV_ETIMEDOUT || !strstr(rdv_store_errmsg(s), "nproc/64"))
        exit(1);
    rdv_store_close(s);
    one.rlim_cur = one.rlim_max;
    exit(setrlimit(RLIMIT_NPROC, &one) ? 4 : 0);
}

Test(file_batch, opens_the_ring_cancels_are_read_one_by_one)
{
    pid_t pid;

    if (geteuid() != 0)
        cr_skip_test("needs root, to run the child as nobody: root is "
                     "exempt from RLIMIT_NPROC");
    cr_assert_eq(chown(dir, 65534, 65534), 0, "chown %s: %m", dir);
    pid = fork();
    cr_assert(pid >= 0, "fork");
    if (pid == 0)
        no_thread_child(dir);
    expect_child_ok(pid, "1: the multi_get did not time out naming the "
                    "missing key, 2: a read failed, 3: open or set, 4: "
                    "setuid or the limit, 5: no ring was made");
}
