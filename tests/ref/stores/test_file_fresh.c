/*
 * tests/ref/stores/test_file_fresh.c - file://DIR?fresh=1 refuses keys
 * of another job, never this one's (issue 13, item 2). A job is every
 * handle open on the directory at once (a shared flock on .session):
 * keys left by handles that are all closed are an earlier job's, and the
 * first open of the next job fails with RDV_EEXIST; an open while
 * another handle (of any process) is open joins that job, whatever it
 * published. rdv run --ranks 4 and conform on fresh=1 are in
 * tests/harness/test_harness_run.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file_dir.h"
#include "rdv/status.h"
#include "rdv/store.h"

static char dir[64], url[128];

static void make_dir(void)
{
    file_dir_make(dir, url, "file-fresh", "?fresh=1");
}

static void remove_dir(void)
{
    file_dir_remove(dir);
}

TestSuite(file_fresh, .init = make_dir, .fini = remove_dir, .timeout = 60);

static rdv_store *open_ok(void)
{
    char err[512];
    rdv_store *s;

    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    return s;
}

/* A job's handles, in other processes too, join it after keys exist. */
Test(file_fresh, handles_of_one_job_join_it)
{
    rdv_store *first = open_ok(), *second;
    pid_t pid;
    int status;

    cr_assert_eq(rdv_store_set(first, "job/addr/0", "a", 1, 0), RDV_OK);
    second = open_ok();
    cr_assert_eq(rdv_store_set(second, "job/addr/1", "b", 1, 0), RDV_OK);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char err[512];
        rdv_store *s;

        _exit(rdv_store_open(url, &s, err, sizeof err) == RDV_OK ? 0 : 1);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "a rank of the running job was refused");
    rdv_store_close(second);
    rdv_store_close(first);
}

/* Once every handle is closed, the keys are an earlier job's. */
Test(file_fresh, the_next_job_is_refused_an_earlier_jobs_keys)
{
    rdv_store *s = open_ok();
    char err[512] = "";

    cr_assert_eq(rdv_store_set(s, "job/addr/0", "a", 1, 0), RDV_OK);
    rdv_store_close(s);
    cr_expect_eq(rdv_store_open(url, &s, err, sizeof err), RDV_EEXIST);
    cr_expect(strstr(err, "still holds 1 keys from an earlier job"), "%s",
              err);
    cr_expect(strstr(err, dir), "%s", err);
}

/* An empty directory starts a job, again and again. */
Test(file_fresh, an_emptied_directory_starts_a_new_job)
{
    rdv_store *s = open_ok();

    cr_assert_eq(rdv_store_set(s, "k", "v", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_delete(s, "k"), RDV_OK);
    rdv_store_close(s);
    rdv_store_close(open_ok());
}
