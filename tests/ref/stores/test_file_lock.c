/*
 * tests/ref/stores/test_file_lock.c - the file store's directory lock
 * when a handle keeps ".lock" open (stores/file.c, lock_dir): threads
 * of one process share that open file, and so its flock, and a forked
 * child that inherited the handle would share it with its parent; adds
 * from either must still never be lost. Real processes and threads on a
 * real directory, judged by the counter's final value.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file_dir.h"
#include "rdv/status.h"
#include "rdv/store.h"

#define ADDS 300
#define THREADS 4

static char dir[64];

static void make_dir(void)
{
    file_dir_make(dir, NULL, "file-lock", "");
}

static void remove_dir(void)
{
    file_dir_remove(dir);
}

TestSuite(file_lock, .init = make_dir, .fini = remove_dir, .timeout = 120);

static void dir_url(const char *name, char *url, size_t cap)
{
    snprintf(url, cap, "file://%s/%s", dir, name);
}

/* ADDS adds of 1 to "n"; 0 when every one succeeded. */
static int add_many(rdv_store *s)
{
    int64_t v;

    for (int i = 0; i < ADDS; i++)
        if (rdv_store_add(s, "n", 1, &v) != RDV_OK)
            return -1;
    return 0;
}

static void *adder(void *arg)
{
    return add_many(arg) ? (void *)1 : NULL;
}

static pid_t fork_adder(const char *url, rdv_store *inherited)
{
    pid_t pid = fork();
    char err[512];
    rdv_store *s = inherited;

    cr_assert(pid >= 0, "fork");
    if (pid)
        return pid;
    if (!s && rdv_store_open(url, &s, err, sizeof err))
        exit(3);
    exit(add_many(s) ? 4 : 0);
}

static void expect_child_ok(pid_t pid)
{
    int st;

    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the adding child ended with status 0x%x", st);
}

static int64_t counter(rdv_store *s)
{
    int64_t v = -1;

    cr_assert_eq(rdv_store_add(s, "n", 0, &v), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    return v;
}

Test(file_lock, threads_on_one_handle_and_another_process)
{
    char url[256], err[512];
    pthread_t t[THREADS];
    rdv_store *s;
    pid_t child;

    dir_url("threads", url, sizeof url);
    child = fork_adder(url, NULL); /* forked before any thread exists */
    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, adder, s), 0);
    for (int i = 0; i < THREADS; i++) {
        void *r;

        pthread_join(t[i], &r);
        cr_expect_null(r, "thread %d: an add failed", i);
    }
    expect_child_ok(child);
    cr_expect_eq(counter(s), (THREADS + 1) * ADDS,
                 "adds were lost: %d threads and a process added %d each",
                 THREADS, ADDS);
    rdv_store_close(s);
}

Test(file_lock, a_child_adding_on_the_handle_it_inherited)
{
    char url[256], err[512];
    rdv_store *s;
    pid_t child;

    dir_url("inherited", url, sizeof url);
    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    child = fork_adder(url, s);
    cr_expect_eq(add_many(s), 0, "%s", rdv_store_errmsg(s));
    expect_child_ok(child);
    cr_expect_eq(counter(s), 2 * ADDS,
                 "adds were lost: a parent and the child that inherited "
                 "its handle added %d each", ADDS);
    rdv_store_close(s);
}
