/*
 * stores/file_batch.c - the file store's reads of many keys at once. A
 * read costs a pread(2) from a cached fd (file_cache.c) and three system
 * calls by name (openat, pread, close), and a multi_get that reads the
 * same keys again and again (a trainer's poll of its peers' keys, the
 * bench's 64-key multi_get) pays them per key. Here one io_uring submit
 * reads the files of up to FILE_BATCH keys (their first BATCH_READ
 * bytes), cached fds and files opened by name alike, after one submit
 * that opens the uncached ones, and one closes what is not kept. A
 * 64-key multi_get on ext4, 2-core VM (`rdv bench store`): 30 µs
 * against 110 µs one key at a time.
 *
 * Choices:
 * - Only while the cache is held (rdv_file_cache_begin): the process
 *   that opened the handle, a local filesystem, no poll=1, an even
 *   generation. The cache's mutex then also serializes the ring, so
 *   threads sharing the handle take turns on it; a forked child reads one
 *   key at a time (its copy of the ring is the parent's).
 * - Each key is read as rdv_file_record_read reads it: a file opened by
 *   name at the held generation, or a cached fd, is read from offset 0;
 *   a read that ends short took the whole file (io_uring, like read(2),
 *   completes a buffered read of a regular file up to its end). A file
 *   that fills BATCH_READ is read whole by the one-key code, on the
 *   fd already open. A file opened by name is kept in the cache when
 *   its record was good (evicting by CLOCK, as a one-key read does),
 *   else closed; the fds the batch does not keep, and those the cache
 *   evicted for its new ones, are closed in one submit.
 * - A chunk is batched only when BATCH_MIN of its keys or more are in
 *   the cache, read again (see BATCH_MIN). The ring is made at the first
 *   such chunk (no cost for a handle that never does that) with no setup
 *   flags: a single-issuer ring would
 *   refuse the other threads of the handle. When io_uring is out of
 *   reach (no kernel support, a seccomp filter, io_uring_disabled, an
 *   opcode missing), the handle reads one key at a time for good.
 * - Out of fds (EMFILE, ENFILE), a key is read after the batch by the
 *   one-key code, which sheds the cache (and this ring) and retries.
 * - Threads: an open that misses the dentry cache, and overlayfs' closes,
 *   run in io_uring's worker threads (iou-wrk), which the kernel starts
 *   in the process and which count against RLIMIT_NPROC; when none can
 *   start, the operation is canceled, and the one-key code (an open) or
 *   close(2) does it instead. LeakSanitizer notes them as threads it
 *   could not suspend.
 */
#define _GNU_SOURCE /* RWF_NOWAIT */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef RDV_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#endif

#include "file_name.h"
#include "file_store.h"
#include "self_pid.h"

/* How much of each file the batch reads: a record with a short value
 * (a larger file is read whole by pread after). */
#define BATCH_READ 1024
/* A chunk with fewer keys in the cache is read one key at a time: a
 * ring costs 60-200 µs to make and 0.04-2 ms to tear down on a 2-core
 * VM, which keys read once (a rendezvous reads each record once) do
 * not win back: with a ring from 16 keys of any kind, the file-store
 * rendezvous at N=64 took 1.08x the time and rank CPU. */
#define BATCH_MIN 16

/* One key of a batch. */
typedef struct batch_key {
    size_t i;  /* into keys[] */
    int fd;    /* cached, or opened by name; -1 */
    int own;   /* fd was opened here: kept in the cache or closed */
    int res;   /* the open's or the read's result */
    int later; /* read by the one-key code after the batch */
    char name[RDV_FILE_NAME_MAX + 1];
} batch_key;

/* Whether io_uring_queue_init's error means this process will never
 * have a ring (no kernel support, a seccomp filter, io_uring_disabled),
 * not that it is short of fds or memory now. */
static int ring_unsupported(int err)
{
    return err == ENOSYS || err == EPERM || err == EINVAL ||
           err == EOPNOTSUPP;
}

/* Makes the handle's ring; 0 when it is there. Unsupported, the handle
 * reads one key at a time for good; short of fds or memory, it tries
 * again at a later batch. */
static int ring_ready(file_store *f)
{
    static const int ops[] = {IORING_OP_OPENAT, IORING_OP_READ,
                              IORING_OP_CLOSE};
    struct io_uring_probe *probe;
    int ret = -ENOMEM, ok;

    if (atomic_load(&f->batch_off)) /* before f->ring: see batch_failed */
        return -1;
    if (f->ring)
        return 0;
    f->ring = malloc(sizeof *f->ring);
    f->ring_buf = malloc((size_t)FILE_BATCH * BATCH_READ);
    if (!f->ring || !f->ring_buf ||
        (ret = io_uring_queue_init(FILE_BATCH, f->ring, 0)) < 0) {
        free(f->ring);
        free(f->ring_buf);
        f->ring = NULL;
        f->ring_buf = NULL;
        if (ring_unsupported(-ret))
            atomic_store(&f->batch_off, 1);
        return -1;
    }
    ok = (probe = io_uring_get_probe_ring(f->ring)) != NULL;
    for (size_t k = 0; ok && k < sizeof ops / sizeof *ops; k++)
        ok = io_uring_opcode_supported(probe, ops[k]);
    io_uring_free_probe(probe);
    if (!ok) {
        rdv_file_batch_close(f);
        atomic_store(&f->batch_off, 1);
        return -1;
    }
    return 0;
}

int rdv_file_batch_usable(file_store *f)
{
    return f->cache.cap && !atomic_load(&f->batch_off) &&
           rdv_self_pid() == f->lock_pid;
}

void rdv_file_batch_close(file_store *f)
{
    if (f->ring)
        io_uring_queue_exit(f->ring);
    free(f->ring);
    free(f->ring_buf);
    f->ring = NULL;
    f->ring_buf = NULL;
}

/* Submits the n operations queued and reaps their completions into
 * b[user_data].res. 0, or the -errno of a submit or wait that failed
 * (the operations then count as failed with it). */
static int ring_run(struct io_uring *ring, unsigned n, batch_key *b)
{
    struct io_uring_cqe *cqe;
    unsigned done = 0, sent;
    int ret;

    while ((ret = io_uring_submit(ring)) == -EINTR)
        ;
    if (ret < 0)
        return ret;
    sent = (unsigned)ret;
    while (done < sent) {
        if ((ret = io_uring_wait_cqe(ring, &cqe)) == -EINTR)
            continue;
        if (ret < 0)
            return ret;
        if (b)
            b[cqe->user_data].res = cqe->res;
        io_uring_cqe_seen(ring, cqe);
        done++;
    }
    return sent < n ? -EAGAIN : 0; /* the rest stay queued: batch_failed */
}

/* Opens by name the keys b[0..m) that have no cached fd. */
static int batch_open(file_store *f, batch_key *b, size_t m)
{
    unsigned n = 0;
    int ret;

    for (size_t k = 0; k < m; k++) {
        struct io_uring_sqe *sqe;

        if (b[k].fd >= 0)
            continue;
        sqe = io_uring_get_sqe(f->ring);
        io_uring_prep_openat(sqe, f->dirfd, b[k].name, O_RDONLY | O_CLOEXEC,
                             0);
        io_uring_sqe_set_data64(sqe, k);
        b[k].res = -ECANCELED;
        n++;
    }
    if (n == 0)
        return 0;
    ret = ring_run(f->ring, n, b);
    for (size_t k = 0; k < m; k++)
        if (b[k].fd < 0 && b[k].res >= 0) {
            b[k].fd = b[k].res;
            b[k].own = 1;
        }
    return ret;
}

/* Reads the first BATCH_READ bytes of every open key's file, none
 * of them blocking: a read that would wait for the disk, or a
 * filesystem that cannot read without blocking (tmpfs: EOPNOTSUPP,
 * after which the handle no longer asks), ends with an error here and
 * is read by pread(2) in batch_take. Without RWF_NOWAIT, io_uring hands
 * such a read to a worker thread, and on tmpfs that made a 64-key
 * multi_get slower than 64 preads when two processes shared 2 cores. */
static int batch_read(file_store *f, batch_key *b, size_t m)
{
    unsigned n = 0;
    int ret = 0;

    for (size_t k = 0; k < m; k++) {
        struct io_uring_sqe *sqe;

        if (b[k].fd < 0)
            continue;
        b[k].res = -EOPNOTSUPP;
        if (f->read_sync)
            continue;
        sqe = io_uring_get_sqe(f->ring);
        io_uring_prep_read(sqe, b[k].fd, f->ring_buf + k * BATCH_READ,
                           BATCH_READ, 0);
        sqe->rw_flags = RWF_NOWAIT;
        io_uring_sqe_set_data64(sqe, k);
        n++;
    }
    if (!n || (ret = ring_run(f->ring, n, b)))
        return ret;
    for (size_t k = 0; k < m; k++)
        if (b[k].fd >= 0 && b[k].res == -EOPNOTSUPP)
            f->read_sync = 1;
    return 0;
}

/* Key k's value from the batch: RDV_OK, RDV_ENOTFOUND, 1 when the
 * one-key code reads it after the batch, or a failed read's status. An
 * open that failed otherwise than ENOENT is left to the one-key code,
 * which tries it again and reports its own errno: io_uring cancels an
 * open it hands to a worker when no worker can start (RLIMIT_NPROC),
 * and out of fds that code sheds the cache first. A read the ring did
 * not do, or failed, or that filled BATCH_READ is done (or finished) by
 * pread(2) on the fd already open. */
static int batch_take(rdv_store *s, batch_key *b, size_t k, const char *key,
                      void **val, size_t *len)
{
    const char *buf = F(s)->ring_buf + k * BATCH_READ;
    int res = b[k].res;

    if (b[k].fd < 0)
        return res == -ENOENT ? RDV_ENOTFOUND : 1;
    if (res < 0 || res == BATCH_READ)
        return rdv_file_record_read_fd(s, b[k].fd, key, b[k].name, val, len);
#ifdef RDV_HAVE_VALGRIND
    VALGRIND_MAKE_MEM_DEFINED(buf, (size_t)res);
#endif
    return rdv_file_record_from(s, key, b[k].name, buf, (size_t)res, val,
                                len);
}

/* A submit or wait failed: operations may still sit in the ring, and a
 * later submit would run them (open files nobody closes), so the handle
 * reads one key at a time from now on. The fds the ring did close stay
 * closed; one it did not is lost to the process, which is why this is
 * for good. */
static void batch_failed(file_store *f)
{
    atomic_store(&f->batch_off, 1);
}

/* Closes the fds opened by name that the cache did not keep: through
 * the ring, or one by one once it failed. A close the ring could not
 * do (canceled: overlayfs' closes go to a worker, which may not start)
 * is done by close(2), so no fd is lost. */
static void batch_close(file_store *f, batch_key *b, size_t m)
{
    unsigned n = 0;

    for (size_t k = 0; k < m; k++) {
        struct io_uring_sqe *sqe;

        if (!b[k].own)
            continue;
        if (atomic_load(&f->batch_off)) {
            close(b[k].fd);
            continue;
        }
        sqe = io_uring_get_sqe(f->ring);
        io_uring_prep_close(sqe, b[k].fd);
        io_uring_sqe_set_data64(sqe, k);
        b[k].res = -ECANCELED;
        n++;
    }
    if (n && ring_run(f->ring, n, b))
        batch_failed(f);
    for (size_t k = 0; n && k < m; k++)
        if (b[k].own && b[k].res < 0 && b[k].res != -EBADF)
            close(b[k].fd);
}

/* Names the m keys of keys[idx[]] in b, with their cached fds (the
 * cache held); returns how many have one. */
static size_t batch_look(file_store *f, const char *const *keys,
                         const size_t *idx, batch_key *b, size_t m)
{
    size_t cached = 0;

    for (size_t k = 0; k < m; k++) {
        b[k] = (batch_key){.i = idx[k]};
        rdv_file_name_encode(keys[idx[k]], b[k].name);
        b[k].fd = rdv_file_cache_find(f, b[k].name);
        cached += b[k].fd >= 0;
    }
    return cached;
}

/* Reads the m keys b names (batch_look) with the cache held and the ring
 * made. Keys the batch leaves to the one-key code get b[k].later. */
static int batch_chunk(rdv_store *s, const char *const *keys, batch_key *b,
                       size_t m, void **vals, size_t *lens,
                       unsigned char *present)
{
    file_store *f = F(s);
    int failed = batch_open(f, b, m), rc = RDV_OK;

    if (!failed)
        failed = batch_read(f, b, m);
    if (failed)
        batch_failed(f);
    for (size_t k = 0; k < m; k++) {
        size_t i = b[k].i;
        int got = rc ? rc
                  : failed ? 1
                           : batch_take(s, b, k, keys[i], &vals[i], &lens[i]);

        if (got == RDV_OK)
            present[i] = 1;
        else if (got == 1)
            b[k].later = 1;
        else if (got != RDV_ENOTFOUND)
            rc = got;
        /* A key listed twice is opened twice: one copy is enough. */
        if (b[k].own && got == RDV_OK &&
            rdv_file_cache_find(f, b[k].name) < 0)
            b[k].fd = rdv_file_cache_swap(f, b[k].name, b[k].fd);
        b[k].own = b[k].own && b[k].fd >= 0;
    }
    batch_close(f, b, m);
    return rc;
}

/* Reads key i by itself: RDV_OK, or a failed read's status. */
static int read_one(rdv_store *s, const char *const *keys, size_t i,
                    void **vals, size_t *lens, unsigned char *present)
{
    int rc = rdv_file_record_read(s, keys[i], &vals[i], &lens[i]);

    if (rc == RDV_OK)
        present[i] = 1;
    return rc == RDV_ENOTFOUND ? RDV_OK : rc;
}

/* Whether a key of idx[0..m) is still missing. */
static int any_missing(const size_t *idx, size_t m,
                       const unsigned char *present)
{
    for (size_t k = 0; k < m; k++)
        if (!present[idx[k]])
            return 1;
    return 0;
}

int rdv_file_record_read_many(rdv_store *s, const char *const *keys,
                              const size_t *idx, size_t m, int stop,
                              void **vals, size_t *lens,
                              unsigned char *present)
{
    batch_key b[FILE_BATCH];
    int rc = RDV_OK;

    for (size_t at = 0; rc == RDV_OK && at < m; at += FILE_BATCH) {
        size_t c = m - at < FILE_BATCH ? m - at : FILE_BATCH;
        int held = c >= BATCH_MIN && rdv_file_cache_begin(F(s));

        /* A cache holding fewer entries cannot have BATCH_MIN of the
         * chunk's keys: skip naming them twice (a rendezvous' reads). */
        if (held && F(s)->cache.used >= BATCH_MIN &&
            batch_look(F(s), keys, idx + at, b, c) >= BATCH_MIN &&
            ring_ready(F(s)) == 0) {
            rc = batch_chunk(s, keys, b, c, vals, lens, present);
            rdv_file_cache_end(F(s), held);
            for (size_t k = 0; rc == RDV_OK && k < c; k++)
                if (b[k].later)
                    rc = read_one(s, keys, b[k].i, vals, lens, present);
        } else {
            rdv_file_cache_end(F(s), held);
            for (size_t k = 0; rc == RDV_OK && k < c; k++)
                if ((rc = read_one(s, keys, idx[at + k], vals, lens,
                                   present)) == RDV_OK &&
                    stop && !present[idx[at + k]])
                    return RDV_OK;
        }
        if (stop && any_missing(idx + at, c, present))
            return rc;
    }
    return rc;
}
