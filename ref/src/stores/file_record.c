/*
 * stores/file_record.c - the file store's record on disk: header, key
 * and value in one file per key, written to a temp file and published
 * with rename(2) or link(2), read back whole and checked against its
 * key (the design: stores/file.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "file_name.h"
#include "file_store.h"
#include "self_pid.h"

int rdv_file_io_fail(rdv_store *s, const char *op, const char *key, int err)
{
    char k[128];

    return rdv_store_fail(s, RDV_EIO, "%s '%s' in %s: %s", op,
                          rdv_key_printable(key, k, sizeof k), F(s)->dir,
                          strerror(err));
}

/* Writes every byte of iov[0..n): one writev(2) in the common case. */
static int write_all(int fd, struct iovec *iov, int n)
{
    while (n) {
        ssize_t w = writev(fd, iov, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        for (; n && (size_t)w >= iov->iov_len; iov++, n--)
            w -= (ssize_t)iov->iov_len;
        if (n) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Writes header+key+value to a fresh temp file; its name goes to tmp. */
static int write_temp(rdv_store *s, const char *key, const void *val,
                      size_t len, char tmp[64])
{
    file_header h = {FILE_MAGIC, (uint32_t)strlen(key)};
    struct iovec iov[3] = {{&h, sizeof h},
                           {(void *)key, h.key_len},
                           {(void *)val, len}};
    int fd, rc = 0;

    snprintf(tmp, 64, ".t.%d.%lu", (int)rdv_self_pid(),
             atomic_fetch_add(&F(s)->tmp_seq, 1));
    fd = openat(F(s)->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                0644);
    if (fd < 0)
        return rdv_file_io_fail(s, "create temp file for", key, errno);
    if (write_all(fd, iov, 3))
        rc = rdv_file_io_fail(s, "write", key, errno);
    close(fd);
    if (rc)
        unlinkat(F(s)->dirfd, tmp, 0);
    return rc;
}

/* Publishes key=val atomically. create_only uses link(2): RDV_EEXIST
 * when the key exists. Caller holds the lock. */
int rdv_file_record_publish(rdv_store *s, const char *key, const void *val,
                   size_t len, int create_only)
{
    char name[RDV_FILE_NAME_MAX + 1], tmp[64], k[128];
    int rc, err = 0;

    rdv_file_name_encode(key, name);
    if ((rc = write_temp(s, key, val, len, tmp)))
        return rc;
    if (create_only) {
        if (linkat(F(s)->dirfd, tmp, F(s)->dirfd, name, 0))
            err = errno;
        unlinkat(F(s)->dirfd, tmp, 0);
    } else if (renameat(F(s)->dirfd, tmp, F(s)->dirfd, name)) {
        err = errno;
        unlinkat(F(s)->dirfd, tmp, 0);
    }
    if (err == EEXIST)
        return rdv_store_fail(s, RDV_EEXIST, "set '%s': key exists "
                              "(create-only)",
                              rdv_key_printable(key, k, sizeof k));
    return err ? rdv_file_io_fail(s, "publish", key, err) : RDV_OK;
}

/* How much of a record the first read asks for: most records (a key and
 * a rendezvous value) fit, and then no fstat is needed. */
#define FILE_FIRST_READ 4096

static ssize_t read_some(int fd, void *buf, size_t len)
{
    ssize_t n;

    while ((n = read(fd, buf, len)) < 0 && errno == EINTR)
        ;
    return n;
}

/* Reads a whole record from fd: into first[] when it fits (*rec = first;
 * a read of a regular file ends short only at its end, as Linux never
 * cuts a file read short for a signal it survives), else into a malloc'd
 * buffer (*rec) as long as fstat says. 0 or an errno; EPROTO when the
 * file changed size under the read. */
static int read_record(int fd, char *first, char **rec, size_t *got)
{
    ssize_t n = read_some(fd, first, FILE_FIRST_READ);
    struct stat st;
    size_t size;

    *rec = first;
    if (n < 0)
        return errno;
    *got = (size_t)n;
    if (*got < FILE_FIRST_READ)
        return 0;
    if (fstat(fd, &st))
        return errno;
    size = (size_t)st.st_size;
    if (size < *got || !(*rec = malloc(size + 1)))
        return size < *got ? EPROTO : ENOMEM;
    memcpy(*rec, first, *got);
    while (*got < size && (n = read_some(fd, *rec + *got, size - *got)) > 0)
        *got += (size_t)n;
    return n < 0 ? errno : *got == size ? 0 : EPROTO;
}

/* Reads the value of key. RDV_ENOTFOUND when the file does not exist. */
int rdv_file_record_read(rdv_store *s, const char *key, void **val,
                      size_t *len)
{
    char name[RDV_FILE_NAME_MAX + 1], k[128], first[FILE_FIRST_READ];
    size_t klen = strlen(key), got = 0;
    char *rec = first, *out;
    file_header h;
    int fd, err;

    rdv_file_name_encode(key, name);
    fd = openat(F(s)->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? RDV_ENOTFOUND
                               : rdv_file_io_fail(s, "open", key, errno);
    err = read_record(fd, first, &rec, &got);
    close(fd);
    if (err && err != EPROTO) {
        if (rec != first)
            free(rec);
        return rdv_file_io_fail(s, "read", key, err);
    }
    if (got >= sizeof h)
        memcpy(&h, rec, sizeof h);
    if (err || got < sizeof h + klen || h.magic != FILE_MAGIC ||
        h.key_len != klen || memcmp(rec + sizeof h, key, klen) != 0) {
        if (rec != first)
            free(rec);
        return rdv_store_fail(s, RDV_EPROTO, "file store %s: the file for "
                              "'%s' (%s) is not an rdv record for that key",
                              F(s)->dir, rdv_key_printable(key, k, sizeof k),
                              name);
    }
    *len = got - sizeof h - klen;
    if (rec == first && !(out = malloc(*len + 1)))
        return rdv_file_io_fail(s, "read", key, ENOMEM);
    if (rec != first)
        out = rec;
    memmove(out, rec + sizeof h + klen, *len);
    out[*len] = '\0';
    *val = out;
    return RDV_OK;
}

int rdv_file_record_exists(rdv_store *s, const char *key)
{
    char name[RDV_FILE_NAME_MAX + 1];
    struct stat st;

    rdv_file_name_encode(key, name);
    return fstatat(F(s)->dirfd, name, &st, 0) == 0;
}
