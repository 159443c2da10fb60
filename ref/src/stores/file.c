/*
 * stores/file.c - the file store: one file per key in a directory that
 * every process can reach (a local disk, tmpfs, or NFS).
 *
 * File names come from file_name.c, so no key can escape the directory.
 * Each file holds a small header (magic "RDVL", key length, the key) and
 * then records of the key's value, each a head (the length and its
 * complement) and the bytes; the last complete record is the value. The
 * key in the header lets list() recover long, hashed names and lets a
 * read reject a digest collision. A read of a file of the older format
 * (magic "RDVF": the key, then one value with no length) fails with an
 * error naming it, and is never taken as a value; a set replaces it.
 *
 * Writes are atomic to readers. A set of a key whose file exists appends
 * one record with pwritev(2) at the end of the last complete record: an
 * append only extends the file, so a reader sees a prefix of it, the new
 * record counts only once it is whole, and until then the reader takes
 * the previous one. No directory entry changes, which on ext4 is what a
 * set cost before: a rename over an existing name journals the directory
 * and flushes the new file's data (auto_da_alloc). A file is never cut
 * or written in place, which a reader could see as zeros: one with bytes
 * after its last complete record (a writer that died inside the write,
 * an append that failed) is replaced by a new file at the next set, and
 * those bytes are never read, nor is a run of zeros (a record's head
 * checks its length). A file grows to 4 KiB less one byte, so one read
 * takes it whole; the set that would pass that writes a new file
 * instead. A new file (a new key, a full file, a value of 4 KiB or more,
 * a file this process may not write) is written to a temp file unique to
 * the writer (".t.<pid>.<n>") and then published with rename(2), or
 * link(2) for create-only, which fails with EEXIST when the key exists.
 * A create-only set writes a file that has no name yet (O_TMPFILE) and
 * links it in: no temp name that would wake every waiter, nothing left
 * by a writer that dies; where O_TMPFILE or /proc is missing (NFS) it
 * uses a temp file too.
 * With poll=1 (NFS) every set writes a new file: another client could
 * read an append that its writer's client flushes in pieces, out of
 * order, but a rename is atomic on the server.
 *
 * Every mutation (set, add, compare_set, delete) holds flock(2) on
 * ".lock", so read-modify-write ops never lose an update to a concurrent
 * writer, and appends never interleave; reads take no lock. A handle
 * keeps ".lock" open, with a mutex for its threads, which share that
 * open file and so its flock.
 *
 * Reads keep files open: a handle reads a key it read before with one
 * pread(2) on the file it opened then (file_cache.c, at most 256 fds).
 * An append is seen there, as it keeps the inode. A rename that
 * replaces a key's file and a delete move a generation in ".lock"'s
 * first 8 bytes, which every handle maps: odd before, even after. A
 * reader trusts its open files only while the generation is even and
 * the one it opened them at, and otherwise reads by name; a writer that
 * died between the two leaves it odd (reads go by name) until the next
 * writer makes it even. With poll=1, and off a local filesystem, every
 * read goes by name. A multi_get that reads keys again reads them 64 at
 * a time through io_uring (file_batch.c), while it holds the cache.
 *
 * Waits first look for the keys and return at once when they exist
 * (get and multi_get look by reading: a key found is read then, and
 * multi_get waits only for the missing). Otherwise they watch the
 * directory with inotify, look at every key once the watch exists
 * (through one listing of the directory when many are missing, not a
 * failing open each), and then only at the key each event names (or at
 * all of them again when the event queue overflowed): every publish
 * wakes every waiter, so at N = 1024 a recheck of the whole batch on
 * each wake was tens of millions of calls. The handle keeps one inotify
 * instance for its whole life and lends it to one waiter at a time
 * (others make their own): closing an inotify fd waits for an SRCU grace
 * period, 10-20 ms, which a rendezvous would otherwise pay on every read.
 * `poll=1` swaps inotify for polling with backoff (1 to 50 ms), for
 * filesystems whose changes inotify cannot see (NFS), and so does a
 * handle that cannot get an instance (fs.inotify.max_user_instances,
 * 128 per user by default, is less than N = 1024 ranks on one host); a
 * tick looks no further than the first missing key (or, reading keys
 * again in batches, the first batch with one). Either way the wait
 * also polls an eventfd that close() signals, so blocked callers end
 * with RDV_ECANCELED.
 *
 * Temp files of dead writers: a writer creates, fills and publishes (or
 * removes) its temp file entirely while it holds the flock on ".lock",
 * and the kernel drops that lock when the writer dies. So liveness is
 * the lock itself: whoever holds ".lock" and still sees a ".t." file
 * knows its writer died inside set (SIGKILL, a crash), on this host or
 * another (on NFS, as far as its locks work). The job's first open (see
 * below: no other handle is open, so no writer is alive) takes the lock
 * and removes such files; no pid is read, so pid reuse and other hosts'
 * pids cannot fool it. The opens that join a running job do not look:
 * each scanned the whole directory under the lock, N scans of N keys
 * in a row at a rendezvous. What a writer that died mid-job leaves is
 * bytes on disk until the next job starts: no reader takes a ".t." name
 * for a key, and a writer that has the dead one's pid now, and so meets
 * its temp name, removes that file under the lock and takes the name. A
 * create-only set makes no temp name at all where it can (O_TMPFILE).
 *
 * Stale directories: `fresh=1` refuses keys of another job, never this
 * one's. A job is every handle open on the directory at once: each
 * handle holds a shared flock on ".session" for its life, and an open
 * that can take it exclusively (no other handle open, in any process) is
 * the job's first. Only the first judges the directory, and fails with
 * RDV_EEXIST when it holds keys (an earlier job's); the ranks that open
 * it after their peers published join the job and are not judged.
 * Without fresh=1, reuse is allowed and the rendezvous' job token and
 * nonce keep runs apart.
 *
 * Files: this one holds the mutations under the lock, list, and open
 * and close (the job); file_record.c the record on disk (write, publish,
 * read); file_cache.c the read cache and the generation; file_batch.c
 * the reads of many keys at once; file_wait.c get, wait and multi_get;
 * file_name.c the names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_name.h"
#include "file_store.h"
#include "self_pid.h"

static void unlock_dir(rdv_store *s, int fd, int flocked);

/* Takes the directory lock: flock on ".lock". The handle keeps its own
 * ".lock" open (opening and closing it cost two of a set's syscalls) and
 * a mutex, as threads of one process share that open file and its flock;
 * a forked child that inherited the handle opens ".lock" per call, so
 * its flock is its own and dies with it. The child still holds its copy
 * of the parent's ".lock" fd: a parent killed in the middle of a
 * mutation leaves the directory locked until such children exit (a
 * program that forks workers after opening a file store should open one
 * per worker instead). */
static int lock_dir(rdv_store *s, int *fd)
{
    file_store *f = F(s);
    int own = rdv_self_pid() == f->lock_pid; /* open keeps .lock open */

    *fd = own ? f->lockfd
              : openat(f->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC,
                       0644);
    if (*fd < 0)
        return rdv_file_io_fail(s, "lock", ".lock", errno);
    if (own)
        pthread_mutex_lock(&f->lock_mu);
    while (flock(*fd, LOCK_EX)) {
        if (errno != EINTR) {
            int err = errno;

            unlock_dir(s, *fd, 0);
            return rdv_file_io_fail(s, "lock", ".lock", err);
        }
    }
    rdv_file_gen_repair(f);
    return RDV_OK;
}

/* Drops the lock lock_dir took (flocked: whether flock succeeded). */
static void unlock_dir(rdv_store *s, int fd, int flocked)
{
    if (flocked)
        flock(fd, LOCK_UN);
    if (fd == F(s)->lockfd && rdv_self_pid() == F(s)->lock_pid)
        pthread_mutex_unlock(&F(s)->lock_mu);
    else
        close(fd);
}

static int file_set(rdv_store *s, const char *key, const void *val,
                    size_t len, int flags)
{
    int lock, rc = lock_dir(s, &lock);

    if (rc)
        return rc;
    rc = rdv_file_record_publish(s, key, val, len,
                                 flags & RDV_SET_CREATE_ONLY);
    unlock_dir(s, lock, 1);
    return rc;
}

/* add, decided on the value read under the lock. */
typedef struct add_op {
    int64_t delta, v;
    char buf[32];
} add_op;

static int add_decide(rdv_store *s, const char *key, const char *cur,
                      size_t cur_len, void *arg, const void **val,
                      size_t *len)
{
    add_op *a = arg;
    char k[128];

    a->v = 0;
    if (cur && rdv_counter_parse(cur, cur_len, &a->v))
        return rdv_store_fail(s, RDV_EPROTO, "add '%s': the value is not a "
                              "decimal int64",
                              rdv_key_printable(key, k, sizeof k));
    if (rdv_counter_add(a->v, a->delta, &a->v))
        return rdv_store_fail(s, RDV_EINVAL, "add '%s': int64 overflow",
                              rdv_key_printable(key, k, sizeof k));
    *len = rdv_counter_format(a->v, a->buf);
    *val = a->buf;
    return RDV_OK;
}

static int file_add(rdv_store *s, const char *key, int64_t delta,
                    int64_t *result)
{
    add_op a = {.delta = delta};
    int lock, rc = lock_dir(s, &lock);

    if (rc)
        return rc;
    rc = rdv_file_record_update(s, key, add_decide, &a);
    unlock_dir(s, lock, 1);
    if (rc == RDV_OK)
        *result = a.v;
    return rc;
}

/* compare_set, decided on the value read under the lock; cur (when the
 * caller wants it) is the value the key holds afterwards. */
typedef struct cas_op {
    const void *expected, *desired;
    size_t expected_len, desired_len;
    int *won;
    void **cur;
    size_t *cur_len;
} cas_op;

static int cas_decide(rdv_store *s, const char *key, const char *now,
                      size_t len, void *arg, const void **val, size_t *vlen)
{
    cas_op *c = arg;
    const void *after;

    (void)key;
    *c->won = c->expected ? now && len == c->expected_len &&
                                memcmp(now, c->expected, len) == 0
                          : !now;
    after = *c->won ? c->desired : now;
    len = *c->won ? c->desired_len : len;
    if (c->cur) {
        *c->cur = NULL;
        *c->cur_len = 0;
        if (after && !(*c->cur = malloc(len + 1)))
            return rdv_store_fail(s, RDV_ENOMEM, "out of memory");
        if (after) {
            memcpy(*c->cur, after, len);
            ((char *)*c->cur)[len] = '\0';
            *c->cur_len = len;
        }
    }
    if (*c->won) {
        *val = c->desired;
        *vlen = c->desired_len;
    }
    return RDV_OK;
}

static int file_compare_set(rdv_store *s, const char *key,
                            const void *expected, size_t expected_len,
                            const void *desired, size_t desired_len,
                            int *won, void **cur, size_t *cur_len)
{
    cas_op c = {expected, desired, expected_len, desired_len, won, cur,
                cur_len};
    int lock, rc;

    if (cur) {
        *cur = NULL;
        *cur_len = 0;
    }
    if ((rc = lock_dir(s, &lock)))
        return rc;
    rc = rdv_file_record_update(s, key, cas_decide, &c);
    unlock_dir(s, lock, 1);
    if (rc && cur) {
        free(*cur);
        *cur = NULL;
        *cur_len = 0;
    }
    return rc;
}

static int file_del(rdv_store *s, const char *key)
{
    char name[RDV_FILE_NAME_MAX + 1];
    int lock, rc = lock_dir(s, &lock);

    if (rc)
        return rc;
    rdv_file_name_encode(key, name);
    rdv_file_gen_enter(F(s));
    if (unlinkat(F(s)->dirfd, name, 0) && errno != ENOENT)
        rc = rdv_file_io_fail(s, "delete", key, errno);
    rdv_file_gen_leave(F(s));
    unlock_dir(s, lock, 1);
    return rc;
}

/* The key a directory entry names, decoded or read from its header. */
static int entry_key_read(rdv_store *s, const char *name, char *key)
{
    file_header h;
    ssize_t n;
    int fd;

    if (name[0] == 'k')
        return rdv_file_name_decode(name, key);
    if (name[0] != 'h')
        return -1;
    fd = openat(F(s)->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = pread(fd, &h, sizeof h, 0);
    if (n != (ssize_t)sizeof h || h.magic != FILE_MAGIC ||
        h.key_len > RDV_SCOPED_KEY_MAX ||
        pread(fd, key, h.key_len, sizeof h) != (ssize_t)h.key_len) {
        close(fd);
        return -1;
    }
    close(fd);
    key[h.key_len] = '\0';
    return 0;
}

/* The key a directory entry holds, decoded or read from its header:
 * only when that key's own file name is this entry's, so list never
 * names a key that get and delete would look for elsewhere (anyone who
 * can write to the directory can make "k%41" or a header naming "" or
 * another key). */
static int entry_key(rdv_store *s, const char *name, char *key)
{
    char own[RDV_FILE_NAME_MAX + 1];

    if (entry_key_read(s, name, key))
        return -1;
    rdv_file_name_encode(key, own);
    return strcmp(own, name) == 0 ? 0 : -1;
}

static int file_list(rdv_store *s, const char *prefix, char ***keys,
                     size_t *n)
{
    static const size_t key_cap = RDV_SCOPED_KEY_MAX + 1;
    size_t plen = strlen(prefix);
    rdv_keylist l = {0};
    int fd = openat(F(s)->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    char *key = malloc(key_cap);
    struct dirent *e;
    int rc = RDV_OK;

    if (!d || !key) {
        if (fd >= 0 && !d)
            close(fd);
        if (d)
            closedir(d);
        free(key);
        return rdv_file_io_fail(s, "list", prefix[0] ? prefix : "(all)", errno);
    }
    while (rc == RDV_OK && (e = readdir(d))) {
        if (entry_key(s, e->d_name, key) == 0 &&
            strncmp(key, prefix, plen) == 0)
            rc = rdv_keylist_push(&l, key, strlen(key));
    }
    closedir(d);
    free(key);
    if (rc) {
        rdv_keylist_clear(&l);
        return rdv_store_fail(s, rc, "list: out of memory");
    }
    *keys = l.keys;
    *n = l.n;
    return RDV_OK;
}

static void file_cancel(rdv_store *s)
{
    uint64_t one = 1;

    if (write(F(s)->cancelfd, &one, sizeof one) < 0) {
        /* the counter cannot overflow from one write; nothing to do */
    }
}

static void file_destroy(rdv_store *s)
{
    if (F(s)->watchfd >= 0)
        close(F(s)->watchfd);
    close(F(s)->dirfd);
    close(F(s)->cancelfd);
    rdv_file_batch_close(F(s));
    rdv_file_cache_close(F(s));
    if (F(s)->lockfd >= 0)
        close(F(s)->lockfd);
    pthread_mutex_destroy(&F(s)->lock_mu);
    pthread_mutex_destroy(&F(s)->cache.mu);
    if (F(s)->sessionfd >= 0)
        close(F(s)->sessionfd); /* leaves the job: drops the flock */
    free(F(s)->dir);
    free(s);
}

static const rdv_store_ops file_ops = {
    .name = "file",
    .set = file_set,
    .get = rdv_file_get,
    .wait = rdv_file_wait,
    .multi_get = rdv_file_multi_get,
    .add = file_add,
    .compare_set = file_compare_set,
    .del = file_del,
    .list = file_list,
    .destroy = file_destroy,
    .cancel = file_cancel,
};

/* mkdir -p: creates every missing component of path. */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    int rc = 0;

    if (!p)
        return ENOMEM;
    for (char *c = p + 1; *c && !rc; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(p, 0755) && errno != EEXIST)
            rc = errno;
        *c = '/';
    }
    if (!rc && mkdir(p, 0755) && errno != EEXIST)
        rc = errno;
    free(p);
    return rc;
}

/* Removes the temp files of dead writers (see the head comment), at the
 * job's first open: under the directory lock, every ".t." entry is one
 * (the lock alone says so; that no handle is open only makes it the
 * one time to look). Best effort: a directory
 * that cannot be locked or read keeps them, and the store still works. */
static void reclaim_temps(rdv_store *s)
{
    struct dirent *e;
    DIR *d = NULL;
    int lock, fd;

    if (lock_dir(s, &lock))
        return;
    if ((fd = openat(F(s)->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >=
            0 &&
        !(d = fdopendir(fd))) {
        close(fd);
        fd = -1;
    }
    if (fd >= 0) {
        while ((e = readdir(d)))
            if (strncmp(e->d_name, ".t.", 3) == 0)
                unlinkat(F(s)->dirfd, e->d_name, 0);
        closedir(d);
    }
    unlock_dir(s, lock, 1);
}

/* An open that joins a running job takes the lock only when the
 * generation is odd (a writer is between its moves, or died there), so
 * that the lock makes it even (file_cache.c): every open took the lock
 * once before, and readers opened after a dead writer read from the
 * cache again at once. */
static void gen_settle(rdv_store *s)
{
    int lock;

    if (F(s)->gen && (atomic_load(F(s)->gen) & 1) && !lock_dir(s, &lock))
        unlock_dir(s, lock, 1);
}

/* Joins the job on the directory (see the head comment): *first is 1
 * when no other handle is open, and then the handle holds ".session"
 * exclusively until job_joined(). 0 or an errno. */
static int job_join(file_store *f, int *first)
{
    f->sessionfd = openat(f->dirfd, ".session", O_RDWR | O_CREAT | O_CLOEXEC,
                          0644);
    if (f->sessionfd < 0)
        return errno;
    *first = flock(f->sessionfd, LOCK_EX | LOCK_NB) == 0;
    if (*first)
        return 0;
    if (errno != EWOULDBLOCK && errno != EINTR)
        return errno;
    /* Waits only while a first opener judges the directory. */
    while (flock(f->sessionfd, LOCK_SH))
        if (errno != EINTR)
            return errno;
    return 0;
}

/* The first opener has judged the directory: from now on it is one
 * member of the job like the others. */
static void job_joined(file_store *f)
{
    while (flock(f->sessionfd, LOCK_SH) && errno == EINTR)
        ;
}

/* fresh=1 for the job's first handle: RDV_EEXIST with a message when the
 * directory holds keys, which are then another job's. */
static int judge_fresh(file_store *f, char *errbuf, size_t errlen)
{
    char **keys;
    size_t nkeys;

    if (file_list(&f->base, "", &keys, &nkeys) != RDV_OK)
        return RDV_OK;
    rdv_store_list_free(keys, nkeys);
    if (!nkeys)
        return RDV_OK;
    snprintf(errbuf, errlen, "file store '%s' still holds %zu keys from an "
             "earlier job (no other handle had it open); fresh=1 needs a "
             "directory without keys when a job starts", f->dir, nkeys);
    return RDV_EEXIST;
}

int rdv_file_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen)
{
    long poll_only, fresh;
    file_store *f;
    int rc, err, dirfd, first = 0;

    if ((rc = rdv_url_option_long(u, "poll", 0, 1, 0, &poll_only, errbuf,
                                  errlen)) ||
        (rc = rdv_url_option_long(u, "fresh", 0, 1, 0, &fresh, errbuf,
                                  errlen)))
        return rc;
    if (!u->has_authority || u->host[0] || u->path[0] != '/') {
        snprintf(errbuf, errlen, "malformed store URL '%s': file:// needs "
                 "an absolute directory path, as in file:///tmp/rdv",
                 u->redacted);
        return RDV_EINVAL;
    }
    /* The directory usually exists (every rank of a job opens it): one
     * open, and mkdir -p only when it is missing, where every open paid
     * a failing mkdir per component of the path. */
    dirfd = open(u->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0 && errno == ENOENT) {
        if ((err = make_dirs(u->path))) {
            snprintf(errbuf, errlen, "file store: cannot create directory "
                     "'%s': %s", u->path, strerror(err));
            return RDV_EINVAL;
        }
        dirfd = open(u->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (dirfd < 0) {
        snprintf(errbuf, errlen, "file store: cannot open directory '%s': "
                 "%s", u->path, strerror(errno));
        return RDV_EINVAL;
    }
    f = calloc(1, sizeof *f);
    if (!f || !(f->dir = strdup(u->path))) {
        close(dirfd);
        free(f);
        return RDV_ENOMEM;
    }
    f->sessionfd = -1;
    f->lockfd = -1;
    pthread_mutex_init(&f->lock_mu, NULL);
    pthread_mutex_init(&f->cache.mu, NULL);
    f->dirfd = dirfd;
    f->cancelfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    f->poll_only = (int)poll_only;
    f->watchfd = -1;
    rdv_store_init(&f->base, &file_ops);
    if (f->cancelfd < 0) {
        snprintf(errbuf, errlen, "file store '%s': cannot make its eventfd: "
                 "%s", u->path, strerror(errno));
        rdv_store_close(&f->base);
        return RDV_EINVAL;
    }
    /* The handle's writes need ".lock" open, for its flock and for the
     * generation mapped from it (file_cache.c). */
    f->lockfd = openat(f->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC,
                       0644);
    f->lock_pid = rdv_self_pid();
    if (f->lockfd < 0) {
        snprintf(errbuf, errlen, "file store: cannot open '%s/.lock': %s",
                 u->path, strerror(errno));
        rdv_store_close(&f->base);
        return RDV_EIO;
    }
    if ((rc = rdv_file_cache_open(f, errbuf, errlen))) {
        rdv_store_close(&f->base);
        return rc;
    }
    if ((err = job_join(f, &first))) {
        snprintf(errbuf, errlen, "file store: cannot lock '%s/.session': %s",
                 u->path, strerror(err));
        rdv_store_close(&f->base);
        return RDV_EIO;
    }
    if (first)
        reclaim_temps(&f->base);
    else
        gen_settle(&f->base);
    if (first && fresh && (rc = judge_fresh(f, errbuf, errlen))) {
        rdv_store_close(&f->base);
        return rc;
    }
    if (first)
        job_joined(f);
    *out = &f->base;
    return RDV_OK;
}
