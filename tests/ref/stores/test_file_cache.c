/*
 * tests/ref/stores/test_file_cache.c - the file store's read cache
 * (stores/file_cache.c): a handle that read a key keeps its file open,
 * and must still read what another process's writer did since, however
 * it did it: an append (the same file), a rename over it (a value of 4
 * KiB or more, a file that appends filled), a delete, a new file after
 * a delete; when that writer was SIGKILLed between its two moves of the
 * generation; when a forked child writes through the handle it
 * inherited; and to threads sharing the handle, whose reads of a key
 * never go back. Real processes on a real directory, stepped over pipes;
 * each case first checks that the reader does hold the files open, so
 * it tests the cache and not the read by name.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file_dir.h"
#include "rdv/status.h"
#include "rdv/store.h"

#define BIG 5000      /* a value of 4 KiB or more: a new file per set */
#define APPENDS 400   /* sets of 43-byte values: several files fill */

static char dir[64], url[128];

static void make_dir(void)
{
    file_dir_make(dir, url, "file-cache", "");
}

static void remove_dir(void)
{
    file_dir_remove(dir);
}

TestSuite(file_cache, .init = make_dir, .fini = remove_dir, .timeout = 120);

static rdv_store *open_store(void)
{
    char err[512];
    rdv_store *s;

    cr_assert_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s",
                 err);
    return s;
}

/* How many fds of this process are open on key files of dir (names
 * "k..."), deleted or not: the files the read cache holds. */
static int held_key_files(void)
{
    char prefix[80];

    snprintf(prefix, sizeof prefix, "%s/k", dir);
    return file_dir_fds(prefix);
}

/* The directory's generation, read from ".lock" as any process can. */
static uint64_t generation(void)
{
    char path[96];
    uint64_t g = 0;
    int fd;

    snprintf(path, sizeof path, "%s/.lock", dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0, "open %s", path);
    cr_assert_eq(pread(fd, &g, sizeof g, 0), (ssize_t)sizeof g,
                 "%s has no generation", path);
    close(fd);
    return g;
}

static ino_t inode_of(const char *name)
{
    char path[128];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) ? 0 : st.st_ino;
}

/* Expects key to hold want[0..len) through get and multi_get (with the
 * key "stable" beside it), or to be absent when want is NULL. */
static void expect_value(rdv_store *s, const char *key, const char *want,
                         size_t len, int step)
{
    const char *keys[] = {key, "stable"};
    void *val = NULL, *vals[2];
    size_t got = 0, lens[2];
    int rc = rdv_store_get(s, key, &val, &got, 0);

    if (!want) {
        cr_assert_neq(rc, RDV_OK, "step %d: get of deleted '%s' returned "
                      "%zu bytes", step, key, got);
        return;
    }
    cr_assert_eq(rc, RDV_OK, "step %d: get '%s': %s", step, key,
                 rdv_store_errmsg(s));
    cr_assert(got == len && memcmp(val, want, len) == 0,
              "step %d: get '%s' returned %zu bytes '%.20s', want %zu "
              "'%.20s'", step, key, got, (char *)val, len, want);
    free(val);
    cr_assert_eq(rdv_store_multi_get(s, keys, 2, vals, lens, 0), RDV_OK,
                 "step %d: multi_get: %s", step, rdv_store_errmsg(s));
    cr_assert(lens[0] == len && memcmp(vals[0], want, len) == 0,
              "step %d: multi_get '%s' returned %zu bytes '%.20s'", step,
              key, lens[0], (char *)vals[0]);
    cr_assert(lens[1] == 6 && memcmp(vals[1], "steady", 6) == 0,
              "step %d: multi_get 'stable' returned '%.*s'", step,
              (int)lens[1], (char *)vals[1]);
    free(vals[0]);
    free(vals[1]);
}

/* The writer's script, the same for the writer and the reader that
 * checks it: step i sets "k" to the value it writes into buf (its
 * length), or deletes "k" (returns 0 with *del = 1). */
static size_t script(int i, char *buf, int *del)
{
    *del = 0;
    switch (i) {
    case 0:
        memset(buf, 'b', BIG); /* over a small file: a rename */
        return BIG;
    case 1:
        return (size_t)snprintf(buf, 64, "small after big"); /* a rename */
    case 2:
        *del = 1;
        return 0;
    case 3:
        return (size_t)snprintf(buf, 64, "a new file"); /* no rename */
    default: /* appends, and a new file each time one fills */
        return (size_t)snprintf(buf, 64, "append-%04d-%031d", i, i);
    }
}

#define STEPS (4 + APPENDS)

/* Waits for a byte; a writer whose reader died (EOF) ends. */
static void step_wait(int fd)
{
    char c;
    ssize_t n;

    while ((n = read(fd, &c, 1)) < 0)
        ;
    if (n == 0)
        exit(7);
}

/* The pipes' ends each side keeps (so each sees EOF when the other
 * dies): the writer reads go and writes done. */
static void keep_ends(int go[2], int done[2], int writer_side)
{
    close(writer_side ? go[1] : go[0]);
    close(writer_side ? done[0] : done[1]);
}

static void step_signal(int fd)
{
    char c = 1;

    if (write(fd, &c, 1) != 1)
        exit(5);
}

/* Runs the script on s, one step per go from the reader. */
static void writer(rdv_store *s, int go, int done)
{
    static char buf[BIG];

    for (int i = 0; i < STEPS; i++) {
        size_t len;
        int del, rc;

        step_wait(go);
        len = script(i, buf, &del);
        rc = del ? rdv_store_delete(s, "k")
                 : rdv_store_set(s, "k", buf, len, 0);
        if (rc != RDV_OK)
            exit(4);
        step_signal(done);
    }
}

/* Steps the writer child through the script and checks r after each
 * step: the value, and that both appends (the same file) and new files
 * happened. */
static void follow_writer(rdv_store *r, pid_t child, int go, int done)
{
    static char want[BIG];
    int appends = 0, renames = 0, st;
    ino_t last = inode_of("kk");

    for (int i = 0; i < STEPS; i++) {
        size_t len;
        int del;
        ino_t now;

        step_signal(go);
        step_wait(done);
        len = script(i, want, &del);
        expect_value(r, "k", del ? NULL : want, len, i);
        now = inode_of("kk");
        appends += now && now == last;
        renames += now && last && now != last;
        last = now;
    }
    close(go);
    close(done);
    cr_assert_eq(waitpid(child, &st, 0), child);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the writer ended with status 0x%x", st);
    cr_expect(appends >= APPENDS / 2 && renames >= 4,
              "the script did not exercise both paths: %d appends, %d "
              "new files", appends, renames);
}

/* Sets "k" and "stable" through r and reads both, so r holds their
 * files open; asserts it does. */
static void warm_up(rdv_store *r)
{
    cr_assert_eq(rdv_store_set(r, "k", "first", 5, 0), RDV_OK, "%s",
                 rdv_store_errmsg(r));
    cr_assert_eq(rdv_store_set(r, "stable", "steady", 6, 0), RDV_OK, "%s",
                 rdv_store_errmsg(r));
    expect_value(r, "k", "first", 5, -1);
    cr_assert_eq(held_key_files(), 2, "the reader holds %d key files "
                 "open, not 2: its read cache is off, and this test "
                 "would test the read by name", held_key_files());
}

Test(file_cache, warm_reader_sees_another_process_replace_delete_append)
{
    rdv_store *r = open_store();
    int go[2], done[2];
    pid_t pid;

    warm_up(r);
    cr_assert(pipe(go) == 0 && pipe(done) == 0, "pipe");
    pid = fork();
    cr_assert(pid >= 0, "fork");
    keep_ends(go, done, pid == 0);
    if (pid == 0) {
        rdv_store *w;
        char err[512];

        if (rdv_store_open(url, &w, err, sizeof err))
            exit(3);
        writer(w, go[0], done[1]);
        rdv_store_close(w);
        exit(0);
    }
    follow_writer(r, pid, go[1], done[0]);
    cr_expect_geq(held_key_files(), 2, "the reader kept no files open");
    rdv_store_close(r);
}

/* A forked child writes through the handle it inherited, with its
 * parent's cached fds; the parent reads through the same handle. */
Test(file_cache, forked_child_writes_through_the_shared_handle)
{
    rdv_store *s = open_store();
    int go[2], done[2];
    pid_t pid;

    warm_up(s);
    cr_assert(pipe(go) == 0 && pipe(done) == 0, "pipe");
    pid = fork();
    cr_assert(pid >= 0, "fork");
    keep_ends(go, done, pid == 0);
    if (pid == 0) {
        void *v = NULL;
        size_t len = 0;

        /* the child reads what its parent wrote, then writes */
        if (rdv_store_get(s, "k", &v, &len, 0) != RDV_OK || len != 5 ||
            memcmp(v, "first", 5) != 0)
            exit(6);
        free(v);
        writer(s, go[0], done[1]);
        rdv_store_close(s);
        exit(0);
    }
    follow_writer(s, pid, go[1], done[0]);
    /* and the parent's handle writes and reads on after the child */
    cr_assert_eq(rdv_store_set(s, "k", "parent again", 12, 0), RDV_OK, "%s",
                 rdv_store_errmsg(s));
    expect_value(s, "k", "parent again", 12, STEPS);
    rdv_store_close(s);
}

/* A writer SIGKILLed between its two moves of the generation (inside
 * the rename of a big value) leaves it odd; a warm reader must then read
 * what the file holds, and the next writer makes it even. The kill
 * lands at a random time, so it is repeated until some kill falls
 * between the moves (bounded). */
Test(file_cache, writer_killed_between_the_moves_leaves_readers_right)
{
    rdv_store *r = open_store();
    int between = 0, tries;
    unsigned seed = (unsigned)getpid();

    warm_up(r);
    for (tries = 0; tries < 400 && (between < 3 || tries < 20); tries++) {
        struct timespec pause = {0, (long)(rand_r(&seed) % 3000) * 1000};
        rdv_store *truth;
        void *v, *t;
        size_t vl, tl;
        uint64_t g;
        char c;
        int up[2];
        pid_t pid;

        cr_assert(pipe(up) == 0, "pipe");
        pid = fork();
        cr_assert(pid >= 0, "fork");
        if (pid == 0) {
            static char big[BIG];
            rdv_store *w;
            char err[512];

            close(up[0]);
            if (rdv_store_open(url, &w, err, sizeof err))
                exit(3);
            for (unsigned i = 0;; i++) {
                memset(big, 'a' + (int)(i % 26), BIG);
                if (rdv_store_set(w, "k", big, BIG, 0) != RDV_OK)
                    exit(4);
                if (i == 0) /* up and setting: the kill may come */
                    step_signal(up[1]);
            }
        }
        close(up[1]);
        cr_assert_eq(read(up[0], &c, 1), 1, "the writer died before its "
                     "first set");
        close(up[0]);
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        cr_assert_eq(waitpid(pid, NULL, 0), pid);
        g = generation();
        between += (int)(g & 1);
        cr_assert_eq(rdv_store_get(r, "k", &v, &vl, 0), RDV_OK, "%s",
                     rdv_store_errmsg(r));
        truth = open_store(); /* empty cache; its open takes the lock */
        cr_assert_eq(generation() & 1, 0, "the open after a dead writer "
                     "left the generation odd (%llu)",
                     (unsigned long long)generation());
        cr_assert_eq(rdv_store_get(truth, "k", &t, &tl, 0), RDV_OK, "%s",
                     rdv_store_errmsg(truth));
        cr_assert(vl == tl && memcmp(v, t, vl) == 0,
                  "try %d (generation %llu): the warm reader read %zu "
                  "bytes of '%c', the file holds %zu of '%c'", tries,
                  (unsigned long long)g, vl, *(char *)v, tl, *(char *)t);
        free(v);
        free(t);
        rdv_store_close(truth);
        expect_value(r, "stable", "steady", 6, tries);
    }
    cr_log_info("%d of %d kills fell between the generation's moves",
                between, tries);
    if (between == 0)
        cr_skip_test("no kill in %d fell between the generation's two "
                     "moves", tries);
    cr_assert_eq(rdv_store_set(r, "k", "after", 5, 0), RDV_OK, "%s",
                 rdv_store_errmsg(r));
    expect_value(r, "k", "after", 5, tries);
    rdv_store_close(r);
}

#define TKEYS 16
#define TROUNDS 300 /* sets of each key: its file fills about 4 times */
#define TTHREADS 4

typedef struct reader_arg {
    rdv_store *s;
    int bad; /* 0, or the first broken rule: 1 went back, 2 failed */
    char what[160];
} reader_arg;

static void tkey(int i, char *key)
{
    snprintf(key, 16, "t/%d", i);
}

/* Reads every key with multi_get until each holds TROUNDS: a key's
 * value never goes back from what this thread read before (a stale
 * cached file would). Bounded by a deadline. */
static void *reader(void *p)
{
    reader_arg *a = p;
    char keyb[TKEYS][16];
    const char *keys[TKEYS];
    long seen[TKEYS] = {0};
    time_t end = time(NULL) + 90;
    int done = 0;

    for (int i = 0; i < TKEYS; i++) {
        tkey(i, keyb[i]);
        keys[i] = keyb[i];
    }
    while (!done && !a->bad && time(NULL) < end) {
        void *vals[TKEYS];
        size_t lens[TKEYS];

        if (rdv_store_multi_get(a->s, keys, TKEYS, vals, lens, 5000)) {
            a->bad = 2;
            snprintf(a->what, sizeof a->what, "multi_get: %s",
                     rdv_store_errmsg(a->s));
            break;
        }
        done = 1;
        for (int i = 0; i < TKEYS; i++) {
            long v = strtol(vals[i], NULL, 10);

            if (v < seen[i] && !a->bad) {
                a->bad = 1;
                snprintf(a->what, sizeof a->what, "%s went back from %ld "
                         "to %ld", keys[i], seen[i], v);
            }
            seen[i] = v;
            done &= v == TROUNDS;
            free(vals[i]);
        }
    }
    if (!done && !a->bad) {
        a->bad = 2;
        snprintf(a->what, sizeof a->what, "never read the last value");
    }
    return NULL;
}

/* Threads of one handle share its cache while another process sets
 * every key over and over (appends, and a new file as each fills). */
Test(file_cache, threads_share_the_cache_under_a_writer)
{
    rdv_store *r = open_store();
    reader_arg args[TTHREADS];
    pthread_t th[TTHREADS];
    char key[16], val[48];
    pid_t pid;
    int st;

    for (int i = 0; i < TKEYS; i++) {
        tkey(i, key);
        cr_assert_eq(rdv_store_set(r, key, "0", 1, 0), RDV_OK, "%s",
                     rdv_store_errmsg(r));
    }
    for (int i = 0; i < TKEYS; i++) { /* warms the cache */
        void *v;
        size_t len;

        tkey(i, key);
        cr_assert_eq(rdv_store_get(r, key, &v, &len, 0), RDV_OK, "%s",
                     rdv_store_errmsg(r));
        free(v);
    }
    cr_assert_geq(held_key_files(), TKEYS, "the reader holds %d key files "
                  "open: its read cache is off", held_key_files());
    pid = fork(); /* before any thread */
    cr_assert(pid >= 0, "fork");
    if (pid == 0) {
        rdv_store *w;
        char err[512];

        if (rdv_store_open(url, &w, err, sizeof err))
            exit(3);
        for (int round = 1; round <= TROUNDS; round++)
            for (int i = 0; i < TKEYS; i++) {
                tkey(i, key);
                snprintf(val, sizeof val, "%040d", round);
                if (rdv_store_set(w, key, val, strlen(val), 0))
                    exit(4);
            }
        rdv_store_close(w);
        exit(0);
    }
    for (int t = 0; t < TTHREADS; t++) {
        args[t] = (reader_arg){.s = r};
        cr_assert_eq(pthread_create(&th[t], NULL, reader, &args[t]), 0);
    }
    for (int t = 0; t < TTHREADS; t++)
        pthread_join(th[t], NULL);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the writer ended with status 0x%x", st);
    for (int t = 0; t < TTHREADS; t++)
        cr_expect_eq(args[t].bad, 0, "thread %d: %s", t, args[t].what);
    rdv_store_close(r);
}

#define HANDLES 10
#define FD_LIMIT 64

/* In a child with a soft limit of 64 fds: 10 handles, each allowed 8
 * cached fds (1/8 of the limit), read 8 keys each, 80 fds in all, more
 * than the process has left. An open that finds no fd makes its handle
 * give its cached ones back and tries again, so every read succeeds.
 * Exit status: 0, or 10 + the handle whose read failed. */
static void many_handles_child(void)
{
    struct rlimit rl = {FD_LIMIT, FD_LIMIT};
    rdv_store *h[HANDLES];
    char err[512], key[16];

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max >= FD_LIMIT)
        rl.rlim_cur = FD_LIMIT;
    if (setrlimit(RLIMIT_NOFILE, &rl))
        exit(2);
    for (int i = 0; i < HANDLES; i++)
        if (rdv_store_open(url, &h[i], err, sizeof err))
            exit(3);
    for (int i = 0; i < HANDLES; i++)
        for (int k = 0; k < 8; k++) {
            void *val = NULL;
            size_t len = 0;

            snprintf(key, sizeof key, "fd/%d", k);
            if (rdv_store_get(h[i], key, &val, &len, 1000) != RDV_OK ||
                len != 1 || ((char *)val)[0] != 'a' + k)
                exit(10 + i);
            free(val);
        }
    for (int i = 0; i < HANDLES; i++)
        rdv_store_close(h[i]);
    exit(0);
}

Test(file_cache, handles_give_back_their_fds_when_the_process_runs_out)
{
    rdv_store *s;
    char key[16];
    pid_t pid;
    int st;

    if (getenv("RDV_TEST_QUICK"))
        cr_skip_test("RDV_TEST_QUICK (ci/valgrind): valgrind keeps fds of "
                     "its own under the 64-fd limit this case counts on; "
                     "the release and ASan runs judge it");
    s = open_store();

    for (int k = 0; k < 8; k++) {
        char v = (char)('a' + k);

        snprintf(key, sizeof key, "fd/%d", k);
        cr_assert_eq(rdv_store_set(s, key, &v, 1, 0), RDV_OK);
    }
    pid = fork();
    cr_assert(pid >= 0, "fork");
    if (pid == 0)
        many_handles_child();
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the child ended with status 0x%x (10 + N: a read through "
              "handle N failed; 3: a handle could not open)", st);
    rdv_store_close(s);
}
