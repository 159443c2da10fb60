/*
 * tests/ref/stores/test_file_log.c - the file store's per-key files as
 * logs of records (stores/file.c): a set of an existing key appends a
 * record, a reader takes the last complete one, a record a dead writer
 * left short (or zeros a crash left) is neither read nor written over in
 * place, a full file is rewritten, and a file of the older format is
 * refused by name. Real files in a
 * real directory; a real forked writer, SIGKILLed, for atomic publish.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file_dir.h"
#include "rdv/status.h"
#include "rdv/store.h"

static char dir[64], url[128];
static rdv_store *store;

static void open_store(void)
{
    char err[512];

    file_dir_make(dir, url, "file-log", "");
    cr_assert_eq(rdv_store_open(url, &store, err, sizeof err), RDV_OK, "%s",
                 err);
}

static void close_store(void)
{
    rdv_store_close(store);
    file_dir_remove(dir);
}

/* Appends len bytes to the file name in dir, as a dead writer would have
 * left them. */
static void append_raw(const char *name, const void *data, size_t len)
{
    file_dir_put(dir, name, data, len, 1);
}

static struct stat file_stat(const char *name)
{
    char path[256];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return st;
}

static long file_size(const char *name)
{
    return (long)file_stat(name).st_size;
}

/* A record's head as the store writes it: the length, its complement. */
static void append_head(const char *name, uint32_t len)
{
    uint32_t head[2] = {len, ~len};

    append_raw(name, head, sizeof head);
}

static void expect_value(const char *key, const char *want)
{
    void *val;
    size_t len;

    cr_assert_eq(rdv_store_get(store, key, &val, &len, 1000), RDV_OK, "%s",
                 rdv_store_errmsg(store));
    cr_expect_eq(len, strlen(want));
    cr_expect_str_eq((char *)val, want);
    free(val);
}

TestSuite(file_log, .init = open_store, .fini = close_store);

Test(file_log, a_set_of_an_existing_key_appends_and_the_last_record_wins)
{
    ino_t ino;

    /* header 8 + key 1, then a record per value: head 8 + bytes */
    cr_assert_eq(rdv_store_set(store, "k", "one", 3, 0), RDV_OK);
    ino = file_stat("kk").st_ino;
    cr_assert_eq(rdv_store_set(store, "k", "three", 5, 0), RDV_OK);
    expect_value("k", "three");
    cr_expect_eq(file_size("kk"), 8 + 1 + (8 + 3) + (8 + 5));
    cr_expect_eq(file_stat("kk").st_ino, ino, "the set wrote a new file");
}

/* The next set after a file that ends in bytes no record holds writes a
 * new file: the old one is never cut or written in place, which a
 * reader could see as zeros. */
static void expect_replaced_by_next_set(const char *after)
{
    ino_t ino = file_stat("kk").st_ino;

    cr_assert_eq(rdv_store_set(store, "k", after, strlen(after), 0),
                 RDV_OK, "%s", rdv_store_errmsg(store));
    expect_value("k", after);
    cr_expect_neq(file_stat("kk").st_ino, ino, "the file was written over");
    cr_expect_eq(file_size("kk"), 8 + 1 + 8 + (long)strlen(after));
}

Test(file_log, a_short_record_at_the_end_is_not_read_and_not_built_upon)
{
    cr_assert_eq(rdv_store_set(store, "k", "one", 3, 0), RDV_OK);
    append_head("kk", 100);
    append_raw("kk", "abcdef", 6); /* 6 of 100 bytes: its writer died */
    expect_value("k", "one");
    expect_replaced_by_next_set("two");
}

Test(file_log, a_short_record_holding_whole_looking_records_is_not_read)
{
    /* The dead writer's bytes look like complete records ("xy"): were
     * they read past the head that claims 1000 bytes, or kept under a
     * shorter next record, a reader would take "xy". */
    cr_assert_eq(rdv_store_set(store, "k", "one", 3, 0), RDV_OK);
    append_head("kk", 1000);
    for (int i = 0; i < 4; i++) {
        append_head("kk", 2);
        append_raw("kk", "xy", 2);
    }
    expect_value("k", "one");
    expect_replaced_by_next_set("v");
}

Test(file_log, zeros_at_the_end_are_no_record)
{
    /* A crash can leave a file longer than what was written to it, the
     * rest zeros: they would parse as empty values without the check. */
    static const char zeros[16];
    int64_t v = 0;

    cr_assert_eq(rdv_store_set(store, "k", "one", 3, 0), RDV_OK);
    append_raw("kk", zeros, sizeof zeros);
    expect_value("k", "one");
    expect_replaced_by_next_set("7");
    cr_assert_eq(rdv_store_add(store, "k", 1, &v), RDV_OK, "%s",
                 rdv_store_errmsg(store));
    cr_expect_eq(v, 8);
}

Test(file_log, a_full_file_is_rewritten_and_adds_keep_counting)
{
    int64_t v = 0;

    for (int i = 0; i < 2000; i++)
        cr_assert_eq(rdv_store_add(store, "c", 1, &v), RDV_OK, "%s",
                     rdv_store_errmsg(store));
    cr_expect_eq(v, 2000);
    expect_value("c", "2000");
    cr_expect_lt(file_size("kc"), 4096, "the file grew past one read");
}

Test(file_log, a_file_of_the_older_format_is_refused_naming_it)
{
    /* "RDVF", key length, key, then the value with no record length */
    unsigned char old[8 + 3 + 5] = {'R', 'D', 'V', 'F', 3, 0, 0, 0};
    char want[128];
    void *val;
    size_t len;

    memcpy(old + 8, "old", 3);
    memcpy(old + 11, "value", 5);
    append_raw("kold", old, sizeof old);
    cr_assert_eq(rdv_store_get(store, "old", &val, &len, 0), RDV_EPROTO);
    snprintf(want, sizeof want, "%s/kold", dir);
    cr_expect(strstr(rdv_store_errmsg(store), want), "'%s' does not name %s",
              rdv_store_errmsg(store), want);
    cr_expect(strstr(rdv_store_errmsg(store), "older"), "'%s'",
              rdv_store_errmsg(store));
}

/* value i: "<length>:" then one letter to that length, so a reader can
 * tell a whole value from a torn or mixed one. */
static size_t make_value(char *buf, unsigned i)
{
    size_t len = 8 + i % 1500;
    int n = snprintf(buf, 16, "%06zu:", len);

    memset(buf + n, 'a' + (int)(i % 26), len - (size_t)n);
    return len;
}

static void check_whole(const char *val, size_t len)
{
    size_t said = strtoul(val, NULL, 10);

    cr_assert_eq(said, len, "a value of %zu bytes says %zu", len, said);
    for (size_t at = 8; at < len; at++)
        cr_assert_eq(val[at], val[7], "a torn value at byte %zu", at);
}

Test(file_log, readers_see_whole_values_while_a_writer_appends_and_dies,
     .timeout = 120)
{
    struct timespec nap = {0, 2000000};
    char buf[1600];
    int status, whole = 0;
    pid_t pid;

    cr_assert_eq(rdv_store_set(store, "v", buf, make_value(buf, 0), 0),
                 RDV_OK);
    fflush(NULL);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char err[512];
        rdv_store *s;

        if (rdv_store_open(url, &s, err, sizeof err))
            _exit(3);
        for (unsigned i = 1;; i++)
            if (rdv_store_set(s, "v", buf, make_value(buf, i), 0))
                _exit(4);
    }
    for (int i = 0; i < 2000; i++) {
        void *val;
        size_t len;

        cr_assert_eq(rdv_store_get(store, "v", &val, &len, 1000), RDV_OK,
                     "%s", rdv_store_errmsg(store));
        check_whole(val, len);
        free(val);
        whole++;
        if (i % 200 == 0)
            nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the writer exited on its own: %d",
              WEXITSTATUS(status));
    {
        void *val;
        size_t len;

        cr_assert_eq(rdv_store_get(store, "v", &val, &len, 1000), RDV_OK);
        check_whole(val, len);
        free(val);
    }
    cr_assert_eq(rdv_store_set(store, "v", "after", 5, 0), RDV_OK);
    expect_value("v", "after");
    cr_log_info("%d whole reads", whole);
}
