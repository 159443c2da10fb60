/*
 * stores/file_record.c - the file store's records on disk: one file per
 * key, a header with the key, then records of its value (a head with
 * its length, then the bytes). A set appends a record to the key's file,
 * or writes a new file to a temp file and publishes it with rename(2) or
 * link(2) (create-only: a file with no name, O_TMPFILE, linked in); a
 * read takes the file whole, checks it against its key and returns the
 * last complete record (the design: stores/file.c).
 */
#define _GNU_SOURCE /* O_TMPFILE */
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

/* Writes every byte of iov[0..n) at offset at: one pwritev(2) in the
 * common case; EINTR and short writes are retried, so a failure reports
 * its own errno (ENOSPC, EFBIG), not a count. */
static int write_all_at(int fd, struct iovec *iov, int n, off_t at)
{
    while (n) {
        ssize_t w = pwritev(fd, iov, n, at);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        at += w;
        for (; n && (size_t)w >= iov->iov_len; iov++, n--)
            w -= (ssize_t)iov->iov_len;
        if (n) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* A value's record: its head, then its bytes. */
static void record_iov(struct iovec iov[2], file_record_head *head,
                       const void *val, size_t len)
{
    head->len = (uint32_t)len;
    head->check = ~head->len;
    iov[0] = (struct iovec){head, sizeof *head};
    iov[1] = (struct iovec){(void *)val, len};
}

/* Writes a new key file's whole content to fd: header, key, record. */
static int write_file(rdv_store *s, int fd, const char *key,
                      const void *val, size_t len)
{
    file_header h = {FILE_MAGIC, (uint32_t)strlen(key)};
    file_record_head head;
    struct iovec iov[4] = {{&h, sizeof h}, {(void *)key, h.key_len}};

    record_iov(iov + 2, &head, val, len);
    if (write_all_at(fd, iov, 4, 0))
        return rdv_file_io_fail(s, "write", key, errno);
    return RDV_OK;
}

/* Writes header+key+record to a fresh temp file; its name goes to tmp.
 * The caller holds the lock, so a temp file already under that name is
 * a dead writer's (stores/file.c): one whose pid this process now has,
 * left since the job's first open reclaimed. It is removed and the
 * name taken. */
static int write_temp(rdv_store *s, const char *key, const void *val,
                      size_t len, char tmp[64])
{
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    int fd, rc;

    snprintf(tmp, 64, ".t.%d.%lu", (int)rdv_self_pid(),
             atomic_fetch_add(&F(s)->tmp_seq, 1));
    fd = openat(F(s)->dirfd, tmp, flags, 0644);
    if (fd < 0 && errno == EEXIST && unlinkat(F(s)->dirfd, tmp, 0) == 0)
        fd = openat(F(s)->dirfd, tmp, flags, 0644);
    if (fd < 0)
        return rdv_file_io_fail(s, "create temp file for", key, errno);
    rc = write_file(s, fd, key, val, len);
    close(fd);
    if (rc)
        unlinkat(F(s)->dirfd, tmp, 0);
    return rc;
}

/* Whether an O_TMPFILE open failed because the filesystem cannot make
 * unnamed files (Linux says EOPNOTSUPP; kernels before 3.11 and some
 * filesystems EISDIR or EINVAL), not for a passing reason: out of fds,
 * out of space, which must not turn the way off for good. */
static int tmpfile_unsupported(int err)
{
    return err == EOPNOTSUPP || err == EISDIR || err == EINVAL;
}

/* Whether the link through /proc/self/fd failed for want of /proc or of
 * what that link needs (ENOENT, EACCES, EPERM, EXDEV), not for a passing
 * reason. */
static int link_unsupported(int err)
{
    return err == ENOENT || err == EACCES || err == EPERM || err == EXDEV;
}

/* A create-only publish through a file with no name (O_TMPFILE), written
 * whole and then linked in under the key's name: a named temp file is an
 * IN_CREATE that wakes every waiter on the directory for nothing (half a
 * rendezvous' wakes), and an unlink; a writer that dies before the link
 * leaves nothing, not even a temp file. 0 or the errno of the link
 * (EEXIST: the key exists); -1 with *rc a failure (out of fds, disk
 * full: what a named temp file would meet too), or -1 with *rc RDV_OK
 * when this way is out of reach (no O_TMPFILE on this filesystem; no
 * /proc to link from), and the caller writes a named temp file instead,
 * as the handle does from then on. With poll=1 the store is meant for
 * NFS, which has no O_TMPFILE, so it never tries: that mode (and its
 * tests) takes the named temp file every time. */
static int link_unnamed(rdv_store *s, const char *key, const char *name,
                        const void *val, size_t len, int *rc)
{
    char path[32];
    int fd, err = 0;

    *rc = RDV_OK;
    if (F(s)->poll_only || atomic_load(&F(s)->no_tmpfile))
        return -1;
    fd = openat(F(s)->dirfd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0644);
    if (fd < 0 && !tmpfile_unsupported(errno)) {
        *rc = rdv_file_io_fail(s, "create unnamed file for", key, errno);
        return -1;
    }
    if (fd < 0) {
        atomic_store(&F(s)->no_tmpfile, 1);
        return -1;
    }
    if ((*rc = write_file(s, fd, key, val, len))) {
        close(fd);
        return -1;
    }
    /* linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the link
     * through /proc needs only the fd. */
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, path, F(s)->dirfd, name, AT_SYMLINK_FOLLOW))
        err = errno;
    close(fd);
    if (err && err != EEXIST && !link_unsupported(err)) {
        *rc = rdv_file_io_fail(s, "link", key, err);
        return -1;
    }
    if (err && err != EEXIST) {
        atomic_store(&F(s)->no_tmpfile, 1);
        return -1;
    }
    return err;
}

/* Publishes the temp file tmp as name: rename(2), or link(2) when
 * create_only; the temp name is gone after. replaces: see publish_file.
 * 0 or the errno (EEXIST: a create-only key exists). */
static int publish_temp(rdv_store *s, const char *tmp, const char *name,
                        int create_only, int replaces)
{
    int err = 0;

    if (create_only) {
        if (linkat(F(s)->dirfd, tmp, F(s)->dirfd, name, 0))
            err = errno;
        unlinkat(F(s)->dirfd, tmp, 0);
        return err;
    }
    if (replaces)
        rdv_file_gen_enter(F(s));
    if (renameat(F(s)->dirfd, tmp, F(s)->dirfd, name))
        err = errno;
    if (replaces)
        rdv_file_gen_leave(F(s));
    if (err)
        unlinkat(F(s)->dirfd, tmp, 0);
    return err;
}

/* Publishes key=val in a new file: for create_only an unnamed file
 * linked in (link_unnamed), else (or where that is out of reach) a temp
 * file, then rename(2), or link(2) when create_only (RDV_EEXIST when the
 * key exists). replaces: the key's file exists (or may), and a reader
 * may hold it open, so the rename moves the generation (file_cache.c). */
static int publish_file(rdv_store *s, const char *key, const char *name,
                        const void *val, size_t len, int create_only,
                        int replaces)
{
    char tmp[64], k[128];
    int rc = RDV_OK,
        err = create_only ? link_unnamed(s, key, name, val, len, &rc) : -1;

    if (err < 0) {
        if (rc || (rc = write_temp(s, key, val, len, tmp)))
            return rc;
        err = publish_temp(s, tmp, name, create_only, replaces);
    }
    if (err == EEXIST)
        return rdv_store_fail(s, RDV_EEXIST, "set '%s': key exists "
                              "(create-only)",
                              rdv_key_printable(key, k, sizeof k));
    return err ? rdv_file_io_fail(s, "publish", key, err) : RDV_OK;
}

/* How far a key's file grows by appends: past it, the next set writes
 * the key a new file, so a file that takes appends is read whole by one
 * read(2) that ends short, with no fstat. */
#define FILE_APPEND_MAX (FILE_FIRST_READ - 1)

/* pread(2), so a cached fd (file_cache.c), which every thread and a
 * forked child may read, has no offset to share. */
static ssize_t read_some(int fd, void *buf, size_t len, size_t at)
{
    ssize_t n;

    while ((n = pread(fd, buf, len, (off_t)at)) < 0 && errno == EINTR)
        ;
    return n;
}

/* Reads a whole file from fd: into first[] when it fits (*rec = first;
 * a read of a regular file ends short only at its end, as Linux never
 * cuts a file read short for a signal it survives), else into a malloc'd
 * buffer (*rec) as long as fstat says. 0 or an errno; EPROTO when the
 * file shrank under the read. */
static int read_record(int fd, char *first, char **rec, size_t *got)
{
    ssize_t n = read_some(fd, first, FILE_FIRST_READ, 0);
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
    while (*got < size &&
           (n = read_some(fd, *rec + *got, size - *got, *got)) > 0)
        *got += (size_t)n;
    return n < 0 ? errno : *got == size ? 0 : EPROTO;
}

/* A key's file read whole and parsed. */
typedef struct file_rec {
    char first[FILE_FIRST_READ];
    char *rec;      /* first, or a malloc'd copy of a larger file */
    size_t got;     /* bytes in rec */
    size_t val_off; /* the last complete record's value ... */
    size_t val_len;
    size_t end; /* ... and where that record ends */
} file_rec;

/* Finds the value in r: the header must name key, and the last complete
 * record after it is the value; bytes after it are a record still being
 * appended, or one whose writer died, and are not read. 0, 1 when the
 * file is not a record for key, 2 when it is the older format. */
static int record_parse(file_rec *r, const char *key)
{
    size_t klen = strlen(key), at = sizeof(file_header) + klen;
    file_header h;

    if (r->got < sizeof h)
        return 1;
    memcpy(&h, r->rec, sizeof h);
    if (h.magic == FILE_MAGIC_V1)
        return 2;
    if (h.magic != FILE_MAGIC || h.key_len != klen || r->got < at ||
        memcmp(r->rec + sizeof h, key, klen) != 0)
        return 1;
    r->end = 0;
    while (r->got - at >= sizeof(file_record_head)) {
        file_record_head head;

        memcpy(&head, r->rec + at, sizeof head);
        if (head.check != ~head.len ||
            r->got - at - sizeof head < head.len)
            break;
        r->val_off = at + sizeof head;
        r->val_len = head.len;
        r->end = at = r->val_off + head.len;
    }
    return r->end ? 0 : 1;
}

static void rec_free(file_rec *r)
{
    if (r->rec != r->first)
        free(r->rec);
    r->rec = r->first;
}

/* Judges r, read with err (0 or an errno), as key's file: RDV_OK,
 * RDV_EIO, or RDV_EPROTO naming the file (see record_parse). r's
 * buffer is freed on failure. */
static int rec_judge(rdv_store *s, int err, const char *key,
                     const char *name, file_rec *r)
{
    char k[128];
    int bad;

    if (err && err != EPROTO) {
        rec_free(r);
        return rdv_file_io_fail(s, "read", key, err);
    }
    bad = err ? 1 : record_parse(r, key);
    if (!bad)
        return RDV_OK;
    rec_free(r);
    if (bad == 2)
        return rdv_store_fail(s, RDV_EPROTO, "file store %s: the file for "
                              "'%s' (%s/%s) is in the older one-value "
                              "format (magic RDVF) of an earlier rdv; "
                              "use a new directory or empty this one",
                              F(s)->dir, rdv_key_printable(key, k, sizeof k),
                              F(s)->dir, name);
    return rdv_store_fail(s, RDV_EPROTO, "file store %s: the file for "
                          "'%s' (%s/%s) is not an rdv record for that key",
                          F(s)->dir, rdv_key_printable(key, k, sizeof k),
                          F(s)->dir, name);
}

/* Reads and parses key's file from fd into r (rec_judge). */
static int rec_load(rdv_store *s, int fd, const char *key, const char *name,
                    file_rec *r)
{
    int err = read_record(fd, r->first, &r->rec, &r->got);

    return rec_judge(s, err, key, name, r);
}

/* The value of a parsed r, into a malloc'd *val (NUL-terminated past
 * *len); r's buffer becomes *val when it is a malloc'd one. */
static int rec_take(rdv_store *s, const char *key, file_rec *r, void **val,
                    size_t *len)
{
    char *out;

    *len = r->val_len;
    if (r->rec == r->first && !(out = malloc(*len + 1)))
        return rdv_file_io_fail(s, "read", key, ENOMEM);
    if (r->rec != r->first)
        out = r->rec;
    memmove(out, r->rec + r->val_off, *len);
    out[*len] = '\0';
    *val = out;
    return RDV_OK;
}

int rdv_file_record_from(rdv_store *s, const char *key, const char *name,
                         const char *buf, size_t got, void **val,
                         size_t *len)
{
    file_rec r;
    int rc;

    memcpy(r.first, buf, got);
    r.rec = r.first;
    r.got = got;
    if ((rc = rec_judge(s, 0, key, name, &r)))
        return rc;
    return rec_take(s, key, &r, val, len);
}

int rdv_file_record_read_fd(rdv_store *s, int fd, const char *key,
                            const char *name, void **val, size_t *len)
{
    file_rec r;
    int rc = rec_load(s, fd, key, name, &r);

    return rc ? rc : rec_take(s, key, &r, val, len);
}

/* Reads key's file from fd for a set, only as far as one read: a file
 * that takes appends fits it (FILE_APPEND_MAX). 0 when that read took
 * the file whole and it holds key's record (parsed into r). */
static int rec_peek(int fd, const char *key, file_rec *r)
{
    ssize_t n = read_some(fd, r->first, FILE_FIRST_READ, 0);

    r->rec = r->first;
    if (n < 0 || n == FILE_FIRST_READ)
        return -1;
    r->got = (size_t)n;
    return record_parse(r, key);
}

/* Stores key=val: appended as one record to its file fd (read into r),
 * when fd is open for writing (else -1), the file ends with its last
 * complete record and has room; else in a new file (exists: the key has
 * a file, which that replaces: see publish_file). Readers see an
 * append as the old value until the whole record is there, because it
 * only extends the file. A file with bytes after its last complete
 * record (a dead writer's, a failed append's) is never written in
 * place: cutting them while a reader reads would show it zeros. */
static int record_store(rdv_store *s, const char *key, const char *name,
                        int fd, int exists, const file_rec *r,
                        const void *val, size_t len)
{
    file_record_head head;
    struct iovec iov[2];

    if (fd < 0 || r->end != r->got ||
        r->end + sizeof head + len > FILE_APPEND_MAX)
        return publish_file(s, key, name, val, len, 0, exists);
    record_iov(iov, &head, val, len);
    if (write_all_at(fd, iov, 2, (off_t)r->end))
        return rdv_file_io_fail(s, "append", key, errno);
    return RDV_OK;
}

/* Whether an open for writing failed only because this process may not
 * write the file (another user's, a read-only mount): a set then writes
 * a new file, as a rename needs only the directory. */
static int write_denied(int err)
{
    return err == EACCES || err == EPERM || err == EROFS;
}

/* Opens key's file for a read-modify-write: read-write, so a set can
 * append, or read-only with poll=1 (which never appends: see
 * stores/file.c) or when the file may not be written. The fd (*writable
 * says which), or -1 with errno (ENOENT: no key). */
static int open_update(rdv_store *s, const char *name, int *writable)
{
    int fd;

    *writable = !F(s)->poll_only;
    if (*writable) {
        fd = openat(F(s)->dirfd, name, O_RDWR | O_CLOEXEC);
        if (fd >= 0 || !write_denied(errno))
            return fd;
        *writable = 0;
    }
    return openat(F(s)->dirfd, name, O_RDONLY | O_CLOEXEC);
}

/* Publishes key=val atomically (see record_store; never appended with
 * poll=1). create_only: RDV_EEXIST when the key exists. Caller holds
 * the lock. */
int rdv_file_record_publish(rdv_store *s, const char *key, const void *val,
                            size_t len, int create_only)
{
    char name[RDV_FILE_NAME_MAX + 1];
    int fd = -1, rc, exists;
    file_rec r;

    rdv_file_name_encode(key, name);
    if (!create_only && !F(s)->poll_only &&
        (fd = openat(F(s)->dirfd, name, O_RDWR | O_CLOEXEC)) < 0 &&
        errno != ENOENT && !write_denied(errno))
        return rdv_file_io_fail(s, "open", key, errno);
    /* Whether a rename would replace a file: a link never does, and
     * poll=1, which does not open the file first, counts it as there. */
    exists = !create_only &&
             (fd >= 0 || F(s)->poll_only || errno != ENOENT);
    /* A file that holds no rdv record for key is replaced whole. */
    if (fd >= 0 && !rec_peek(fd, key, &r))
        rc = record_store(s, key, name, fd, 1, &r, val, len);
    else
        rc = publish_file(s, key, name, val, len, create_only, exists);
    if (fd >= 0)
        close(fd);
    return rc;
}

int rdv_file_record_update(rdv_store *s, const char *key,
                           rdv_file_update_fn fn, void *arg)
{
    char name[RDV_FILE_NAME_MAX + 1];
    const void *val = NULL;
    size_t len = 0;
    file_rec r;
    int fd, writable, rc = RDV_OK;

    rdv_file_name_encode(key, name);
    if ((fd = open_update(s, name, &writable)) < 0 && errno != ENOENT)
        return rdv_file_io_fail(s, "open", key, errno);
    r.rec = r.first;
    if (fd >= 0)
        rc = rec_load(s, fd, key, name, &r);
    if (rc == RDV_OK)
        rc = fn(s, key, fd >= 0 ? r.rec + r.val_off : NULL,
                fd >= 0 ? r.val_len : 0, arg, &val, &len);
    if (rc == RDV_OK && val)
        rc = record_store(s, key, name, writable ? fd : -1, fd >= 0, &r,
                          val, len);
    rec_free(&r);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* openat of a key's file for reading. Out of fds (the process's limit,
 * or the system's), a held cache gives its own back and the open is
 * tried once more: the caches' budget bounds their share of the limit,
 * not the fds the rest of the process holds. */
static int open_key(file_store *f, const char *name, int held)
{
    int fd = openat(f->dirfd, name, O_RDONLY | O_CLOEXEC);

    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && held &&
        rdv_file_cache_shed(f) > 0)
        fd = openat(f->dirfd, name, O_RDONLY | O_CLOEXEC);
    return fd;
}

/* Reads key's file, from the handle's cached fd (file_cache.c) or by
 * name; a file read by name stays cached when it held key's record. */
static int rec_load_cached(rdv_store *s, const char *key, file_rec *r)
{
    char name[RDV_FILE_NAME_MAX + 1];
    int held = rdv_file_cache_begin(F(s)), fd = -1, rc;

    rdv_file_name_encode(key, name);
    if (held && (fd = rdv_file_cache_find(F(s), name)) >= 0) {
        rc = rec_load(s, fd, key, name, r);
    } else if ((fd = open_key(F(s), name, held)) < 0) {
        rc = errno == ENOENT ? RDV_ENOTFOUND
                             : rdv_file_io_fail(s, "open", key, errno);
    } else {
        rc = rec_load(s, fd, key, name, r);
        if (held && rc == RDV_OK)
            rdv_file_cache_put(F(s), name, fd);
        else
            close(fd);
    }
    rdv_file_cache_end(F(s), held);
    return rc;
}

/* Reads the value of key. RDV_ENOTFOUND when the file does not exist. */
int rdv_file_record_read(rdv_store *s, const char *key, void **val,
                         size_t *len)
{
    file_rec r;
    int rc;

    r.rec = r.first;
    if ((rc = rec_load_cached(s, key, &r)))
        return rc;
    return rec_take(s, key, &r, val, len);
}

int rdv_file_record_exists(rdv_store *s, const char *key)
{
    char name[RDV_FILE_NAME_MAX + 1];
    struct stat st;

    rdv_file_name_encode(key, name);
    return fstatat(F(s)->dirfd, name, &st, 0) == 0;
}
