/*
 * stores/file_wait.c - the file store's reads that may wait: get, wait
 * and multi_get. A wait looks for the keys first, then watches the
 * directory with the handle's inotify instance (or polls, poll=1) and
 * rechecks after each event, until the deadline or close (the design:
 * stores/file.c). An event names the file it saw, so a waiter looks only
 * at the key it names, found through a small hash table of the names it
 * waits for: every publish wakes every waiter, and at N = 1024 rechecking
 * a whole batch of 64 keys on each wake was O(N^2 * 64) fstatat calls,
 * enough that ranks forked last could not publish within a minute. The
 * same table picks the waited-for names out of a listing of the
 * directory, the first look after the watch when many keys are missing.
 */
#define _GNU_SOURCE /* getdents64 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_name.h"
#include "file_store.h"
#include "self_pid.h"

/* An inotify fd watching the directory for new names: the handle's own
 * when free (*shared = 1), else a private one; -1 when inotify is out of
 * reach, and the caller polls. Events queued while nobody waited are
 * drained: the caller rechecks the keys anyway. A forked child of the
 * handle's opener never takes the handle's own: it shares the opener's
 * event queue, and an event one of them reads is gone for the other,
 * whose wait looks only at the keys events name. */
static int watch_acquire(rdv_store *s, int *shared)
{
    char drain[4096];
    int fd;

    *shared = rdv_self_pid() == F(s)->lock_pid &&
              !atomic_exchange(&F(s)->watch_busy, 1);
    fd = *shared ? F(s)->watchfd : -1;
    if (fd < 0) {
        fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd >= 0 && inotify_add_watch(fd, F(s)->dir,
                                         IN_CREATE | IN_MOVED_TO) < 0) {
            close(fd);
            fd = -1;
        }
        if (*shared)
            F(s)->watchfd = fd;
    }
    while (fd >= 0 && read(fd, drain, sizeof drain) > 0)
        ;
    return fd;
}

static void watch_release(rdv_store *s, int fd, int shared)
{
    if (shared)
        atomic_store(&F(s)->watch_busy, 0);
    else if (fd >= 0)
        close(fd);
}

/* What a wait waits for: the keys, which of them it has, and for get
 * and multi_get the values, read as each key is found (vals NULL: wait,
 * which only needs them to exist). Reading a key where it is found, not
 * an fstatat there and a read after, is what an event or a look costs
 * once (a rendezvous' multi_get found each of 64 records twice). */
typedef struct wait_set {
    const char *const *keys;
    size_t n;
    unsigned char *present; /* 0 missing, 1 there, 2 queued */
    void **vals;
    size_t *lens;
    /* A multi_get's keys to read in one batch (file_batch.c), or NULL:
     * a look queues a key, and the caller's flush reads what is queued
     * (the look counts it as there until then). */
    size_t *queue;
    size_t queued;
} wait_set;

/* Looks at key i: 1 when it is there (and read, with vals), 0 when it
 * is not, or the status of a read that failed (RDV_EPROTO, RDV_EIO),
 * which ends the wait. */
static int look_key(rdv_store *s, wait_set *w, size_t i)
{
    int rc;

    if (w->present[i])
        return 1;
    if (!w->vals)
        return w->present[i] = rdv_file_record_exists(s, w->keys[i]);
    if (w->queue) {
        w->present[i] = 2;
        w->queue[w->queued++] = i;
        return 1;
    }
    rc = rdv_file_record_read(s, w->keys[i], &w->vals[i], &w->lens[i]);
    if (rc == RDV_ENOTFOUND)
        return 0;
    w->present[i] = rc == RDV_OK;
    return rc == RDV_OK ? 1 : rc;
}

/* Reads the queued keys in one batch: RDV_OK or a failed read's
 * status. A key not found is missing again; with stop, so is every key
 * after the first missing one that the batch did not read. */
static int flush(rdv_store *s, wait_set *w, int stop)
{
    int rc;

    if (!w->queued)
        return RDV_OK;
    for (size_t q = 0; q < w->queued; q++)
        w->present[w->queue[q]] = 0;
    rc = rdv_file_record_read_many(s, w->keys, w->queue, w->queued, stop,
                                   w->vals, w->lens, w->present);
    w->queued = 0;
    return rc;
}

/* Whether every key is there (1, 0, or a failed read's status), looking
 * no further than the first missing one (or the first batch with one
 * missing): a wait needs them all, so the rest can wait for that one. A
 * rank that polls (no inotify: poll=1, or past
 * fs.inotify.max_user_instances, 128 by default, which N = 1024 ranks on
 * one host exceed) then pays one look per tick (or one batch), not one
 * per missing key. */
static int all_present(rdv_store *s, wait_set *w)
{
    for (size_t i = 0; i < w->n; i++) {
        int rc = look_key(s, w, i);

        if (rc == 1 && w->queued &&
            (w->queued == FILE_BATCH || i + 1 == w->n)) {
            if ((rc = flush(s, w, 1)))
                return rc;
            rc = memchr(w->present, 0, i + 1) ? 0 : 1;
        }
        if (rc != 1)
            return rc;
    }
    return 1;
}

/* Every key looked at (RDV_OK, or a failed read's status): once a watch
 * exists, and at a wait's deadline (all_present stops at the first). */
static int look_all(rdv_store *s, wait_set *w)
{
    for (size_t i = 0; i < w->n; i++) {
        int rc = look_key(s, w, i);

        if (rc < 0)
            return rc;
    }
    return flush(s, w, 0);
}

/* A failed wait's list of the missing keys, for its error: the keys not
 * found yet looked at for existence only. A failed get or multi_get
 * keeps no value, so reading them (a non-blocking multi_get of 64 keys,
 * one missing, in a rendezvous' sweep) was work thrown away. */
static void list_missing(rdv_store *s, const wait_set *w)
{
    wait_set e = {w->keys, w->n, w->present, NULL, NULL, NULL, 0};

    look_all(s, &e);
}

/* The waited-for keys by the hash of their file names (open addressing,
 * cap a power of two at least 2n). Two names with one hash only cost an
 * extra fstatat: a match is always checked on disk. */
typedef struct name_slot {
    uint64_t hash;
    size_t key; /* index into keys[], SIZE_MAX when the slot is free */
} name_slot;

typedef struct name_index {
    name_slot *slot;
    size_t mask;
} name_index;

static int name_index_build(name_index *x, const char *const *keys, size_t n)
{
    char name[RDV_FILE_NAME_MAX + 1];
    size_t cap = 8;

    while (cap < 2 * n)
        cap *= 2;
    x->slot = malloc(cap * sizeof *x->slot);
    if (!x->slot)
        return -1;
    x->mask = cap - 1;
    for (size_t j = 0; j < cap; j++)
        x->slot[j].key = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t j;

        rdv_file_name_encode(keys[i], name);
        j = rdv_file_name_hash(name) & x->mask;
        while (x->slot[j].key != SIZE_MAX)
            j = (j + 1) & x->mask;
        x->slot[j] = (name_slot){rdv_file_name_hash(name), i};
    }
    return 0;
}

/* Looks at the missing keys whose file is called name (a key listed
 * twice has two slots): RDV_OK or a failed read's status. */
static int name_index_check(const name_index *x, rdv_store *s,
                            wait_set *w, const char *name)
{
    uint64_t h = rdv_file_name_hash(name);

    for (size_t j = h & x->mask; x->slot[j].key != SIZE_MAX;
         j = (j + 1) & x->mask) {
        int rc = x->slot[j].hash == h ? look_key(s, w, x->slot[j].key) : 1;

        if (rc < 0)
            return rc;
    }
    return RDV_OK;
}

/* Reads the queued events, one read(2) of them, and looks at the keys
 * they name. Returns 1 when the queue overflowed (events were lost: the
 * caller rechecks every key), 0, or a failed read's status. Events the
 * buffer had no room for stay queued and make the next poll return at
 * once: reading until EAGAIN cost a failing read on nearly every wake. */
static int take_events(int fd, const name_index *x, rdv_store *s,
                       wait_set *w)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int lost = 0, rc = RDV_OK;
    ssize_t got;

    if ((got = read(fd, buf, sizeof buf)) > 0)
        for (char *p = buf; rc == RDV_OK && p < buf + got;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;

            if (ev->mask & IN_Q_OVERFLOW)
                lost = 1;
            else if (ev->len > 0 && ev->name[0] != '.')
                rc = name_index_check(x, s, w, ev->name);
            p += sizeof *ev + ev->len;
        }
    if (rc == RDV_OK)
        rc = flush(s, w, 0);
    return rc ? rc : lost;
}

static int none_missing(const unsigned char *present, size_t n)
{
    return memchr(present, 0, n) == NULL;
}

/* Below this many missing keys a watcher looks at each by name; from it
 * on, it lists the directory once and looks only at the names listed
 * (look_listed). */
#define LIST_MISSING_MIN 8
/* ... as long as the directory's size (bytes: ext4 and tmpfs count some
 * tens per entry) says it holds at most about this many entries per
 * missing key, so a small wait in a directory of many keys still looks
 * by name. */
#define LIST_BYTES_PER_MISSING 512

/* Looks at every missing key through one listing of the directory, made
 * after the watch exists: a key listed is read (or stat'ed); one not
 * listed did not exist when the listing passed, and its publish after
 * that is an event. A rendezvous' multi_get finds most of its keys
 * missing, and looking at each by name cost a failing openat per rank
 * and per peer. RDV_OK, a failed read's status, or 1 when the listing is
 * not worth it or could not be made (the caller looks by name). */
static int look_listed(rdv_store *s, wait_set *w, const name_index *x)
{
    char buf[8192] __attribute__((aligned(8)));
    size_t missing = 0;
    int fd, rc = RDV_OK;
    struct stat st;
    ssize_t got = 0;

    for (size_t i = 0; i < w->n; i++)
        missing += !w->present[i];
    if (missing < LIST_MISSING_MIN)
        return 1;
    fd = openat(F(s)->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    if (fstat(fd, &st) ||
        (size_t)st.st_size > missing * LIST_BYTES_PER_MISSING) {
        close(fd);
        return 1;
    }
    while (rc == RDV_OK && (got = getdents64(fd, buf, sizeof buf)) > 0)
        for (char *p = buf; rc == RDV_OK && p < buf + got;) {
            const struct dirent64 *e = (const struct dirent64 *)p;

            if (e->d_name[0] != '.')
                rc = name_index_check(x, s, w, e->d_name);
            p += e->d_reclen;
        }
    close(fd);
    if (rc == RDV_OK)
        rc = flush(s, w, 0);
    if (rc == RDV_OK && got < 0)
        return 1;
    return rc;
}

/* Whether every key is there now (1, 0, or a failed read's status). A
 * watcher looks at every key: once its watch exists (events from before
 * it are lost, so a key past the first missing one may never be named
 * again) and after an overflow; through a listing when many are missing.
 * Polling stops at the first missing key each tick. */
static int recheck_keys(rdv_store *s, wait_set *w, const name_index *x,
                        int watching)
{
    int rc;

    if (!watching)
        return all_present(s, w);
    rc = look_listed(s, w, x);
    if (rc == 1)
        rc = look_all(s, w);
    if (rc)
        return rc;
    return none_missing(w->present, w->n);
}

/* Waits until every key is there, the deadline passes or close cancels.
 * w->present marks the keys found; after a failure, only up to the first
 * missing one was looked at (list_missing finishes the list). */
static int wait_keys(rdv_store *s, wait_set *w, int64_t deadline)
{
    struct pollfd pfd[2] = {{F(s)->cancelfd, POLLIN, 0}, {-1, POLLIN, 0}};
    int backoff_ms = 1, rc, shared = 0, recheck = 1;
    name_index x = {0};

    if ((rc = all_present(s, w)))
        return rc < 0 ? rc : RDV_OK;
    /* A non-blocking read (try_get, a sweep) sets up no watch: at large N
     * a rendezvous sweeps hundreds of missing keys, one call each. */
    if (rdv_deadline_left_ms(deadline) == 0)
        return RDV_ETIMEDOUT;
    if (!F(s)->poll_only) {
        if (name_index_build(&x, w->keys, w->n))
            return rdv_store_fail(s, RDV_ENOMEM, "out of memory");
        pfd[1].fd = watch_acquire(s, &shared);
    }
    for (;;) {
        int wait_ms, left = rdv_deadline_left_ms(deadline);

        rc = recheck ? recheck_keys(s, w, &x, pfd[1].fd >= 0)
                     : none_missing(w->present, w->n);
        if (rc) {
            rc = rc < 0 ? rc : RDV_OK;
            break;
        }
        recheck = pfd[1].fd < 0;
        if (left == 0) { /* a last look at every key, for the error too */
            if (!(rc = look_all(s, w)))
                rc = none_missing(w->present, w->n) ? RDV_OK
                                                    : RDV_ETIMEDOUT;
            break;
        }
        wait_ms = pfd[1].fd >= 0 ? left : backoff_ms;
        if (left >= 0 && wait_ms > left)
            wait_ms = left;
        if (poll(pfd, 2, wait_ms) < 0 && errno != EINTR) {
            rc = rdv_file_io_fail(s, "wait for", w->keys[0], errno);
            break;
        }
        if (pfd[0].revents & POLLIN) {
            rc = RDV_ECANCELED;
            break;
        }
        if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN) &&
            (recheck = take_events(pfd[1].fd, &x, s, w)) < 0) {
            rc = recheck;
            break;
        }
        backoff_ms = backoff_ms * 2 > 50 ? 50 : backoff_ms * 2;
    }
    if (!F(s)->poll_only)
        watch_release(s, pfd[1].fd, shared);
    free(x.slot);
    return rc;
}

int rdv_file_wait(rdv_store *s, const char *const *keys, size_t n,
                  int64_t deadline)
{
    wait_set w = {keys, n, calloc(n, 1), NULL, NULL, NULL, 0};
    int64_t start = rdv_now_ns();
    int rc;

    if (!w.present)
        return rdv_store_fail(s, RDV_ENOMEM, "out of memory");
    rc = wait_keys(s, &w, deadline);
    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED) {
        list_missing(s, &w);
        rdv_store_fail_wait(s, rc, start, keys, n, w.present);
    }
    free(w.present);
    return rc;
}

int rdv_file_get(rdv_store *s, const char *key, void **val, size_t *len,
                 int64_t deadline)
{
    unsigned char present = 0;
    wait_set w = {&key, 1, &present, val, len, NULL, 0};
    int64_t start = rdv_now_ns();
    char k[128];
    int rc = wait_keys(s, &w, deadline);

    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED)
        return rdv_store_fail(s, rc, "get '%s' %s after %lld ms",
                              rdv_key_printable(key, k, sizeof k),
                              rc == RDV_ETIMEDOUT ? "timed out"
                                                  : "canceled",
                              (long long)((rdv_now_ns() - start) / 1000000));
    return rc;
}

/* Reads every key where it looks for it, with no existence pass first
 * (the generic wait-then-get looked each key up twice), and waits only
 * while some are missing, reading each as it appears. All values or
 * none: on failure vals[] is freed. */
int rdv_file_multi_get(rdv_store *s, const char *const *keys, size_t n,
                       void **vals, size_t *lens, int64_t deadline)
{
    wait_set w = {keys, n, calloc(n, 1), vals, lens, NULL, 0};
    int64_t start = rdv_now_ns();
    int rc;

    /* Without the queue (out of memory) the keys are read one by one. */
    if (n > 1 && rdv_file_batch_usable(F(s)))
        w.queue = malloc(n * sizeof *w.queue);
    rc = w.present ? wait_keys(s, &w, deadline)
                   : rdv_store_fail(s, RDV_ENOMEM, "out of memory");

    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED) {
        list_missing(s, &w);
        rdv_store_fail_wait(s, rc, start, keys, n, w.present);
    }
    for (size_t i = 0; rc != RDV_OK && i < n; i++) {
        free(vals[i]);
        vals[i] = NULL;
        lens[i] = 0;
    }
    free(w.present);
    free(w.queue);
    return rc;
}
