/*
 * stores/file_wait.c - the file store's reads that may wait: get, wait
 * and multi_get. A wait looks for the keys first, then watches the
 * directory with the handle's inotify instance (or polls, poll=1) and
 * rechecks after each event, until the deadline or close (the design:
 * stores/file.c). An event names the file it saw, so a waiter looks only
 * at the key it names, found through a small hash table of the names it
 * waits for: every publish wakes every waiter, and at N = 1024 rechecking
 * a whole batch of 64 keys on each wake was O(N^2 * 64) fstatat calls,
 * enough that ranks forked last could not publish within a minute.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
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

/* Whether every key exists, looking no further than the first missing
 * one: a wait needs them all, so the rest can wait for that one. A rank
 * that polls (no inotify: poll=1, or past fs.inotify.max_user_instances,
 * 128 by default, which N = 1024 ranks on one host exceed) then pays one
 * fstatat per tick, not one per missing key. */
static int all_present(rdv_store *s, const char *const *keys, size_t n,
                       unsigned char *present)
{
    for (size_t i = 0; i < n; i++) {
        if (!present[i])
            present[i] = rdv_file_record_exists(s, keys[i]);
        if (!present[i])
            return 0;
    }
    return 1;
}

/* Every key looked at: at a wait's deadline, for its error's list of the
 * missing (all_present stops at the first). */
static void look_all(rdv_store *s, const char *const *keys, size_t n,
                     unsigned char *present)
{
    for (size_t i = 0; i < n; i++)
        present[i] = present[i] || rdv_file_record_exists(s, keys[i]);
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

/* Checks the missing keys whose file is called name (a key listed twice
 * has two slots). */
static void name_index_check(const name_index *x, rdv_store *s,
                             const char *const *keys, const char *name,
                             unsigned char *present)
{
    uint64_t h = rdv_file_name_hash(name);

    for (size_t j = h & x->mask; x->slot[j].key != SIZE_MAX;
         j = (j + 1) & x->mask) {
        size_t i = x->slot[j].key;

        if (x->slot[j].hash == h && !present[i])
            present[i] = rdv_file_record_exists(s, keys[i]);
    }
}

/* Reads the queued events, one read(2) of them, and checks the keys they
 * name. Returns 1 when the queue overflowed (events were lost: the
 * caller rechecks every key). Events the buffer had no room for stay
 * queued and make the next poll return at once: reading until EAGAIN
 * cost a failing read on nearly every wake. */
static int take_events(int fd, const name_index *x, rdv_store *s,
                       const char *const *keys, unsigned char *present)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int lost = 0;
    ssize_t got;

    if ((got = read(fd, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + got;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;

            if (ev->mask & IN_Q_OVERFLOW)
                lost = 1;
            else if (ev->len > 0 && ev->name[0] != '.')
                name_index_check(x, s, keys, ev->name, present);
            p += sizeof *ev + ev->len;
        }
    return lost;
}

static int none_missing(const unsigned char *present, size_t n)
{
    return memchr(present, 0, n) == NULL;
}

/* Whether every key exists now. A watcher looks at every key: once its
 * watch exists (events from before it are lost, so a key past the first
 * missing one may never be named again) and after an overflow. Polling
 * stops at the first missing key each tick. */
static int recheck_keys(rdv_store *s, const char *const *keys, size_t n,
                        unsigned char *present, int watching)
{
    if (!watching)
        return all_present(s, keys, n, present);
    look_all(s, keys, n, present);
    return none_missing(present, n);
}

/* Waits until every key exists, the deadline passes or close cancels.
 * present[] (n bytes) marks the keys found; after a failure, only up to
 * the first missing one was looked at (look_all finishes the list). */
static int wait_keys(rdv_store *s, const char *const *keys, size_t n,
                     int64_t deadline, unsigned char *present)
{
    struct pollfd pfd[2] = {{F(s)->cancelfd, POLLIN, 0}, {-1, POLLIN, 0}};
    int backoff_ms = 1, rc = RDV_OK, shared = 0, recheck = 1;
    name_index x = {0};

    if (all_present(s, keys, n, present))
        return RDV_OK;
    /* A non-blocking read (try_get, a sweep) sets up no watch: at large N
     * a rendezvous sweeps hundreds of missing keys, one call each. */
    if (rdv_deadline_left_ms(deadline) == 0)
        return RDV_ETIMEDOUT;
    if (!F(s)->poll_only) {
        if (name_index_build(&x, keys, n))
            return rdv_store_fail(s, RDV_ENOMEM, "out of memory");
        pfd[1].fd = watch_acquire(s, &shared);
    }
    for (;;) {
        int wait_ms, left = rdv_deadline_left_ms(deadline);

        if (recheck ? recheck_keys(s, keys, n, present, pfd[1].fd >= 0)
                    : none_missing(present, n))
            break;
        recheck = pfd[1].fd < 0;
        if (left == 0) { /* a last look at every key, for the error too */
            look_all(s, keys, n, present);
            rc = none_missing(present, n) ? RDV_OK : RDV_ETIMEDOUT;
            break;
        }
        wait_ms = pfd[1].fd >= 0 ? left : backoff_ms;
        if (left >= 0 && wait_ms > left)
            wait_ms = left;
        if (poll(pfd, 2, wait_ms) < 0 && errno != EINTR) {
            rc = rdv_file_io_fail(s, "wait for", keys[0], errno);
            break;
        }
        if (pfd[0].revents & POLLIN) {
            rc = RDV_ECANCELED;
            break;
        }
        if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN))
            recheck = take_events(pfd[1].fd, &x, s, keys, present);
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
    unsigned char *present = calloc(n, 1);
    int64_t start = rdv_now_ns();
    int rc;

    if (!present)
        return rdv_store_fail(s, RDV_ENOMEM, "out of memory");
    rc = wait_keys(s, keys, n, deadline, present);
    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED) {
        look_all(s, keys, n, present);
        rdv_store_fail_wait(s, rc, start, keys, n, present);
    }
    free(present);
    return rc;
}

int rdv_file_get(rdv_store *s, const char *key, void **val, size_t *len,
                    int64_t deadline)
{
    int64_t start = rdv_now_ns();
    char k[128];

    for (;;) {
        unsigned char present = 0;
        int rc = rdv_file_record_read(s, key, val, len);

        if (rc != RDV_ENOTFOUND)
            return rc;
        rc = wait_keys(s, &key, 1, deadline, &present);

        if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED)
            return rdv_store_fail(s, rc, "get '%s' %s after %lld ms",
                                  rdv_key_printable(key, k, sizeof k),
                                  rc == RDV_ETIMEDOUT ? "timed out"
                                                      : "canceled",
                                  (long long)((rdv_now_ns() - start) /
                                              1000000));
        if (rc)
            return rc;
        /* Present now; read it on the next turn (or wait again if it was
         * deleted in between). */
    }
}

/* Reads every key as it is, with no existence pass first (the generic
 * wait-then-get looked each key up twice), and waits only while some are
 * missing, for those; a key deleted between its wait and its read is
 * waited for again. All values or none: on failure vals[] is freed. */
int rdv_file_multi_get(rdv_store *s, const char *const *keys, size_t n,
                          void **vals, size_t *lens, int64_t deadline)
{
    unsigned char *present = calloc(n, 1);
    int64_t start = rdv_now_ns();
    int rc = present ? RDV_OK
                     : rdv_store_fail(s, RDV_ENOMEM, "out of memory");

    while (rc == RDV_OK) {
        size_t missing = 0;

        for (size_t i = 0; rc == RDV_OK && i < n; i++) {
            if (vals[i])
                continue;
            rc = rdv_file_record_read(s, keys[i], &vals[i], &lens[i]);
            present[i] = rc == RDV_OK;
            missing += rc == RDV_ENOTFOUND;
            rc = rc == RDV_ENOTFOUND ? RDV_OK : rc;
        }
        if (rc != RDV_OK || !missing)
            break;
        rc = wait_keys(s, keys, n, deadline, present);
        if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED)
            rdv_store_fail_wait(s, rc, start, keys, n, present);
    }
    for (size_t i = 0; rc != RDV_OK && i < n; i++) {
        free(vals[i]);
        vals[i] = NULL;
        lens[i] = 0;
    }
    free(present);
    return rc;
}
