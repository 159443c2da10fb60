/*
 * tests/ref/stores/test_file_multi_get.c - the file store's own multi_get
 * (stores/file_wait.c): it reads the keys that are there at once and
 * waits only for the rest, here published later by another process;
 * when one never comes it times out with no value kept and names that
 * key (also when polling, poll=1); a wait sees a key that existed
 * before it began even after it looked at a missing one first; a waiter
 * whose inotify queue overflowed (the events naming its keys lost) still
 * finds them; and a forked child waiting on the inherited handle takes
 * no event from its parent's wait. Real processes on a real directory.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "rdv/clock.h"
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

/* In a child: its own handle, then 100 ms, so the parent is waiting by
 * the time the child writes. */
static rdv_store *open_and_pause(void)
{
    struct timespec pause = {0, 100 * 1000 * 1000};
    char err[512];
    rdv_store *s;

    if (rdv_store_open(url, &s, err, sizeof err))
        exit(3);
    nanosleep(&pause, NULL);
    return s;
}

static void late_writer(void)
{
    rdv_store *s = open_and_pause();
    int failed = set_range(s, LATE, KEYS);

    rdv_store_close(s);
    exit(failed ? 4 : 0);
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

static void set_later(const char *key)
{
    rdv_store *s = open_and_pause();
    int rc = rdv_store_set(s, key, "v", 1, 0);

    rdv_store_close(s);
    exit(rc == RDV_OK ? 0 : 4);
}

/* "early" exists and no event will ever name it again; a wait that
 * stopped looking at the first missing key ("late") and then trusted
 * events alone would sleep to its deadline. */
Test(file_multi_get, wait_sees_a_key_that_was_there_before_it)
{
    const char *keys[] = {"late", "early"};
    char err[512];
    rdv_store *s;
    pid_t pid;
    int st, rc;

    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_eq(rdv_store_set(s, "early", "v", 1, 0), RDV_OK);
    pid = fork();
    cr_assert(pid >= 0, "fork");
    if (pid == 0)
        set_later("late");
    rc = rdv_store_wait(s, keys, 2, 20000);
    cr_expect_eq(rc, RDV_OK, "wait returned %s: %s", rdv_status_name(rc),
                 rdv_store_errmsg(s));
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the writer ended with status 0x%x", st);
    rdv_store_close(s);
}

/* The waiter: its own handle, blocked in a multi_get of two keys that
 * the parent sets while it is stopped. It says "waiting" on the pipe
 * just before the call. */
static void overflow_waiter(int ready)
{
    const char *keys[] = {"late/a", "late/b"};
    char err[512];
    void *vals[2];
    size_t lens[2];
    rdv_store *s;
    int ok;

    if (rdv_store_open(url, &s, err, sizeof err))
        exit(3);
    if (write(ready, "w", 1) != 1)
        exit(4);
    if (rdv_store_multi_get(s, keys, 2, vals, lens, 30000) != RDV_OK)
        exit(5);
    ok = lens[0] == 1 && !memcmp(vals[0], "a", 1) && lens[1] == 1 &&
         !memcmp(vals[1], "b", 1);
    free(vals[0]);
    free(vals[1]);
    rdv_store_close(s);
    exit(ok ? 0 : 6);
}

/* Whether pid sleeps in poll(2), read from /proc/PID/wchan. */
static int sleeps_in_poll(pid_t pid)
{
    char path[64], wchan[64] = "";
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(wchan, sizeof wchan, f))
        wchan[0] = 0;
    fclose(f);
    return strstr(wchan, "poll") != NULL;
}

/* A waiter only looks at the keys an event names; when the queue
 * overflows (more than fs.inotify.max_queued_events names made while it
 * was stopped) those events are gone, and it must look at every key. */
Test(file_multi_get, finds_its_keys_after_the_event_queue_overflowed)
{
    struct timespec nap = {0, 10 * 1000 * 1000};
    char err[512], name[32], c;
    long max_events = 16384;
    int ready[2], st, tries = 0;
    rdv_store *s;
    FILE *f;
    pid_t pid;

    f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
    if (f) {
        cr_assert_eq(fscanf(f, "%ld", &max_events), 1);
        fclose(f);
    }
    if (max_events > 100000)
        cr_skip_test("max_queued_events is %ld: too many files to make",
                     max_events);
    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_eq(pipe(ready), 0);
    pid = fork();
    cr_assert(pid >= 0, "fork");
    if (pid == 0)
        overflow_waiter(ready[1]);
    cr_assert_eq(read(ready[0], &c, 1), 1, "the waiter did not start");
    while (!sleeps_in_poll(pid) && tries++ < 1000)
        nanosleep(&nap, NULL);
    cr_assert(sleeps_in_poll(pid), "the waiter never blocked in its wait");
    cr_assert_eq(kill(pid, SIGSTOP), 0);
    for (long i = 0; i < max_events + 64; i++) {
        snprintf(name, sizeof name, "kjunk%ld", i);
        file_dir_put(dir, name, "", 0, 0);
    }
    cr_assert_eq(rdv_store_set(s, "late/a", "a", 1, 0), RDV_OK);
    cr_assert_eq(rdv_store_set(s, "late/b", "b", 1, 0), RDV_OK);
    cr_assert_eq(kill(pid, SIGCONT), 0);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the waiter ended with status 0x%x (5: its multi_get failed)",
              st);
    close(ready[0]);
    close(ready[1]);
    rdv_store_close(s);
}

/* poll=1: a wait's tick stops at the first missing key; the error must
 * still name only the keys that are missing at the deadline. */
Test(file_multi_get, when_polling_names_only_the_missing_key)
{
    const char *keys[] = {"poll/a", "poll/b"};
    char pdir[64], purl[128], err[512];
    void *vals[2];
    size_t lens[2];
    rdv_store *s;
    pid_t pid;
    int st, rc;

    file_dir_make(pdir, purl, "file-mget-poll", "?poll=1");
    cr_assert_eq(rdv_store_open(purl, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    pid = fork();
    cr_assert(pid >= 0, "fork");
    if (pid == 0) {
        snprintf(url, sizeof url, "%s", purl);
        set_later("poll/b");
    }
    rc = rdv_store_multi_get(s, keys, 2, vals, lens, 1500);
    cr_expect_eq(rc, RDV_ETIMEDOUT, "multi_get returned %s",
                 rdv_status_name(rc));
    cr_expect(strstr(rdv_store_errmsg(s), "poll/a") != NULL &&
                  strstr(rdv_store_errmsg(s), "poll/b") == NULL,
              "the detail should name poll/a alone: %s",
              rdv_store_errmsg(s));
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    rdv_store_close(s);
    file_dir_remove(pdir);
}

/* A child forked after the handle's wait made its inotify instance, and
 * waiting for a key nobody sets, must not read the events its parent's
 * wait needs: the parent's wait ends long before its deadline. */
Test(file_multi_get, a_forked_childs_wait_takes_no_event_from_its_parent)
{
    const char *never = "fork/never";
    char err[512], key[32];
    rdv_store *s;

    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    /* a first wait makes the handle's own inotify instance */
    cr_assert_eq(rdv_store_wait(s, &never, 1, 10), RDV_ETIMEDOUT);
    for (int trial = 0; trial < 5; trial++) {
        const char *k = key;
        pid_t child, writer;
        int64_t start;
        int st, rc;

        snprintf(key, sizeof key, "fork/%d", trial);
        child = fork();
        cr_assert(child >= 0, "fork");
        if (child == 0)
            exit(rdv_store_wait(s, &never, 1, 1000) == RDV_ETIMEDOUT ? 0
                                                                     : 7);
        writer = fork();
        cr_assert(writer >= 0, "fork");
        if (writer == 0)
            set_later(key);
        start = rdv_now_ns();
        rc = rdv_store_wait(s, &k, 1, 20000);
        cr_expect_eq(rc, RDV_OK, "trial %d: wait returned %s: %s", trial,
                     rdv_status_name(rc), rdv_store_errmsg(s));
        cr_expect(rdv_now_ns() - start < 10000000000ll,
                  "trial %d: the wait took %lld ms for a key set after "
                  "100 ms (its wake-up went to the child)",
                  trial, (long long)((rdv_now_ns() - start) / 1000000));
        cr_assert_eq(waitpid(writer, &st, 0), writer);
        cr_assert_eq(waitpid(child, &st, 0), child);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "trial %d: the child ended with status 0x%x", trial, st);
    }
    rdv_store_close(s);
}
