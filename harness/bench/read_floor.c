/*
 * harness/bench/read_floor.c - what a multi_get of N keys costs a store
 * that keeps one file per key and reads them one system call at a time,
 * with nothing of librdv: N pread(2)s, one per file already open, from
 * offset 0 into a buffer the size of the file store's first read.
 *
 * That is the file store's own path when its read cache holds the keys'
 * fds and io_uring cannot batch the reads (tmpfs refuses RWF_NOWAIT;
 * stores/file_batch.c): there a multi_get goal under this figure is out
 * of reach on that machine. Where the filesystem reads without blocking
 * (ext4) the store's one io_uring submit for all the reads goes under
 * it. The files live in a scratch directory made inside the store's
 * (same filesystem; a dot name, which the file store never reads as a
 * key) and are about a record's size.
 */
#define _GNU_SOURCE /* mkdtemp */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/read_floor.h"
#include "rdv/clock.h"

#define READ_CAP 4096 /* the file store's first read (FILE_FIRST_READ) */

static int fail(char *msg, size_t cap, const char *what, const char *path)
{
    snprintf(msg, cap, "read floor: %s %s: %s", what, path, strerror(errno));
    return -1;
}

/* Writes file i of the scratch directory (dirfd) and opens it for
 * reading; the fd, or -1 with msg set. */
static int make_file(int dirfd, const char *scratch, int i,
                     const char *bytes, size_t len, char *msg, size_t cap)
{
    char name[16];
    ssize_t n;
    int fd;

    snprintf(name, sizeof name, "f%d", i);
    fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(msg, cap, "cannot create a file in", scratch);
    if ((n = write(fd, bytes, len)) != (ssize_t)len) {
        if (n >= 0)
            errno = ENOSPC; /* a regular file's write ends short when full */
        fail(msg, cap, "cannot write a file in", scratch);
        close(fd);
        return -1;
    }
    return fd;
}

/* Removes files f0..f<n-1> and the directory. */
static void remove_scratch(int dirfd, const char *scratch, int n)
{
    char name[16];

    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "f%d", i);
        unlinkat(dirfd, name, 0);
    }
    close(dirfd);
    rmdir(scratch);
}

int rdv_read_floor_run(const char *dir, int nfiles, size_t file_bytes,
                       long ops, int64_t *lat, char *msg, size_t cap)
{
    char scratch[4096], *bytes = malloc(file_bytes + 1);
    char buf[READ_CAP];
    size_t want = file_bytes < sizeof buf ? file_bytes : sizeof buf;
    int *fds = calloc((size_t)nfiles, sizeof *fds), made = 0, rc = 0;
    int dirfd;

    if (!bytes || !fds) {
        snprintf(msg, cap, "read floor: out of memory for %d files",
                 nfiles);
        free(bytes);
        free(fds);
        return -1;
    }
    memset(bytes, 'v', file_bytes);
    snprintf(scratch, sizeof scratch, "%s/.rdv-read-floor-XXXXXX", dir);
    if (!mkdtemp(scratch)) {
        rc = fail(msg, cap, "cannot make a scratch directory in", dir);
        goto out;
    }
    if ((dirfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = fail(msg, cap, "cannot open", scratch);
        rmdir(scratch);
        goto out;
    }
    for (; made < nfiles; made++)
        if ((fds[made] = make_file(dirfd, scratch, made, bytes, file_bytes,
                                   msg, cap)) < 0) {
            rc = -1;
            break;
        }
    for (long op = 0; rc == 0 && op < ops; op++) {
        int64_t t0 = rdv_now_ns();

        for (int i = 0; i < nfiles && rc == 0; i++) {
            ssize_t n = pread(fds[i], buf, sizeof buf, 0);

            if (n < 0)
                rc = fail(msg, cap, "cannot read a file in", scratch);
            else if ((size_t)n != want) {
                snprintf(msg, cap, "read floor: file f%d of %s read %zd of "
                         "%zu bytes", i, scratch, n, want);
                rc = -1;
            }
        }
        lat[op] = rdv_now_ns() - t0;
    }
    for (int i = 0; i < made; i++)
        close(fds[i]);
    remove_scratch(dirfd, scratch, made + (rc && made < nfiles));
out:
    free(bytes);
    free(fds);
    return rc;
}
