/*
 * stores/file_wait.c - the file store's reads that may wait: get, wait
 * and multi_get. A wait looks for the keys first, then watches the
 * directory with the handle's inotify instance (or polls, poll=1) and
 * rechecks after each event, until the deadline or close (the design:
 * stores/file.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "file_store.h"

/* An inotify fd watching the directory for new names: the handle's own
 * when free (*shared = 1), else a private one; -1 when inotify is out of
 * reach, and the caller polls. Events queued while nobody waited are
 * drained: the caller rechecks the keys anyway. */
static int watch_acquire(rdv_store *s, int *shared)
{
    char drain[4096];
    int fd;

    *shared = !atomic_exchange(&F(s)->watch_busy, 1);
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

static int all_present(rdv_store *s, const char *const *keys, size_t n,
                       unsigned char *present)
{
    int all = 1;

    for (size_t i = 0; i < n; i++)
        all &= present[i] = present[i] || rdv_file_record_exists(s, keys[i]);
    return all;
}

/* Waits until every key exists, the deadline passes or close cancels.
 * present[] (n bytes) reports which keys were found at the end. */
static int wait_keys(rdv_store *s, const char *const *keys, size_t n,
                     int64_t deadline, unsigned char *present)
{
    struct pollfd pfd[2] = {{F(s)->cancelfd, POLLIN, 0}, {-1, POLLIN, 0}};
    int backoff_ms = 1, rc = RDV_OK, shared = 0;

    if (all_present(s, keys, n, present))
        return RDV_OK;
    if (!F(s)->poll_only)
        pfd[1].fd = watch_acquire(s, &shared);
    for (;;) {
        int wait_ms, left = rdv_deadline_left_ms(deadline);

        /* Checked after the watch exists, so no publish falls between. */
        if (all_present(s, keys, n, present))
            break;
        if (left == 0) {
            rc = RDV_ETIMEDOUT;
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
        if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN)) {
            char drain[4096];

            while (read(pfd[1].fd, drain, sizeof drain) > 0)
                ;
        }
        backoff_ms = backoff_ms * 2 > 50 ? 50 : backoff_ms * 2;
    }
    if (!F(s)->poll_only)
        watch_release(s, pfd[1].fd, shared);
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
    if (rc == RDV_ETIMEDOUT || rc == RDV_ECANCELED)
        rdv_store_fail_wait(s, rc, start, keys, n, present);
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
