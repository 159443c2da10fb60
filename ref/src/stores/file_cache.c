/*
 * stores/file_cache.c - the file store's read cache: a handle keeps the
 * files of the keys it read open, and reads a key again with one
 * pread(2) where a read by name costs openat, read and close (64 keys
 * on tmpfs: about 35 µs against 230 µs). The directory's generation,
 * which tells a reader when its open files may no longer be the keys',
 * lives here too.
 *
 * Choices:
 * - Validity by generation. A key's file changes in two ways. An append
 *   keeps its inode, so an open fd sees it as a read by name would. A
 *   replacement (rename over it) or a removal (delete) leaves the name
 *   with another inode or none, and an fd opened before still reads the
 *   old one. So every writer, holding the flock on ".lock", makes a
 *   64-bit generation odd before it replaces an existing key's file or
 *   deletes a key, and even again after (rdv_file_gen_enter/leave). A
 *   new key's first publish moves nothing: no handle holds its file
 *   open (a delete before it moved the generation). A reader trusts its
 *   cached fds only while the generation is even and the one it filled
 *   the cache at; otherwise it closes them and reads by name, and it
 *   keeps the fds it opens then only at an even generation.
 * - The generation is the first 8 bytes of ".lock" (which every handle
 *   keeps open for its flock), mapped MAP_SHARED by every handle: one
 *   page of the page cache, which every process on the host sees at
 *   once. Loading it costs a reader no syscall.
 * - Why a read from a cached fd is linearizable (returns a value the
 *   key held at some instant of the get): the reader loads the
 *   generation g (acquire) first. Its fd was opened by name while the
 *   generation was g, so it was the key's file then, and stays the
 *   key's until a writer replaces or removes it; that writer made the
 *   generation odd, with a full fence, before its rename or unlink. So
 *   when the load saw g, that had not happened yet. The pread after it
 *   reads the key's current value, or, if the file was replaced since,
 *   the value it held when it was replaced, which the key held just
 *   before, after the load: an instant of the get either way. No second
 *   load is needed after the read, as a file replaced or removed never
 *   changes again (writers write only the file the name holds, under
 *   the flock). A set that returned moved the generation past g, so
 *   every get that starts after it reads by name. An fd kept at g whose
 *   open raced a replacement may be either file: the generation is past
 *   g already, so the next read drops it.
 * - A writer that dies between its two moves leaves the generation odd:
 *   readers read by name (correct, slower) until the next writer, which
 *   makes it even when it takes the lock (rdv_file_gen_repair).
 * - Where there is no cache: with poll=1 (NFS; see stores/file.c) reads
 *   go by name as before, as a shared mapping is not coherent across
 *   NFS clients (a poll=1 handle on a local filesystem still moves the
 *   generation, for the handles without poll=1 that share it). On a
 *   filesystem not known to be local (tmpfs, ext2/3/4, xfs, btrfs,
 *   f2fs, overlayfs), another host's writers could not move this
 *   host's mapping: no generation, no cache. The same holds for a
 *   directory on local disk that this host exports over NFS: renames
 *   made through nfsd by other hosts never move the generation, so the
 *   server's own handles must use poll=1 too (README says so). In a
 *   forked child of the handle's opener the cache's mutex may have been
 *   held by another thread at fork, so the child reads by name; its
 *   copies of the cached fds stay open until it closes the handle. Its
 *   writes move the generation through the mapping it inherited
 *   (MAP_SHARED survives fork).
 * - Bounded: at most 256 fds, and no more than 1/8 of RLIMIT_NOFILE's
 *   soft limit at open, for all the handles of a process together (the
 *   limit is the process's); an open that still finds the process out
 *   of fds makes its handle give its own back and tries once more
 *   (file_record.c). A full cache evicts by CLOCK (second chance),
 *   so a window of keys read over and over stays open. A cached fd
 *   keeps a deleted or replaced file's inode until the next read drops
 *   it.
 * - Threads: a mutex guards the cache and is held across the read, so
 *   no thread closes an fd another one reads.
 * - Files that a process other than the store's writers removes or
 *   replaces by hand are not covered: only the store's writers move the
 *   generation (a file rewritten in place, the same inode, is seen).
 */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "file_name.h"
#include "file_store.h"
#include "self_pid.h"

#define CACHE_MAX 256        /* fds of all handles of a process */
#define CACHE_NOFILE_SHARE 8 /* at most 1/8 of RLIMIT_NOFILE */

/* Whether the directory is on a filesystem of this host, whose shared
 * mappings every process that opens the directory sees. */
static int fs_local(int dirfd)
{
    static const uint32_t local[] = {
        TMPFS_MAGIC,     EXT4_SUPER_MAGIC, XFS_SUPER_MAGIC,
        BTRFS_SUPER_MAGIC, F2FS_SUPER_MAGIC, OVERLAYFS_SUPER_MAGIC};
    struct statfs st;

    if (fstatfs(dirfd, &st))
        return 0;
    for (size_t i = 0; i < sizeof local / sizeof *local; i++)
        if ((uint32_t)st.f_type == local[i])
            return 1;
    return 0;
}

static int cache_cap(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 0;
    if (rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur / CACHE_NOFILE_SHARE >= CACHE_MAX)
        return CACHE_MAX;
    return (int)(rl.rlim_cur / CACHE_NOFILE_SHARE);
}

/* The cached fds of every handle in this process: the fd limit is the
 * process's, so all caches share one budget, the cap of one. */
static _Atomic int process_fds;

/* Closes every cached fd: the cache is empty after. */
static void cache_drop(file_cache *c)
{
    atomic_fetch_sub(&process_fds, c->used);
    for (int i = 0; i < c->used; i++) {
        close(c->e[i].fd);
        free(c->e[i].name);
    }
    c->used = c->hand = 0;
    for (unsigned b = 0; c->bucket && b <= c->mask; b++)
        c->bucket[b] = -1;
}

int rdv_file_cache_open(file_store *f, char *errbuf, size_t errlen)
{
    file_cache *c = &f->cache;
    unsigned buckets = 1;
    struct stat st;
    void *map;

    if (!fs_local(f->dirfd))
        return RDV_OK;
    /* fallocate, not ftruncate: a hole would be allocated by the first
     * store through the mapping, and a full filesystem turns that into
     * SIGBUS instead of an error here. It never zeroes bytes already
     * there, so it cannot race a live generation. */
    if (fstat(f->lockfd, &st) ||
        (st.st_blocks == 0 &&
         fallocate(f->lockfd, 0, 0, sizeof *f->gen) && errno != EOPNOTSUPP) ||
        (st.st_size < (off_t)sizeof *f->gen &&
         ftruncate(f->lockfd, sizeof *f->gen)) ||
        (map = mmap(NULL, sizeof *f->gen, PROT_READ | PROT_WRITE, MAP_SHARED,
                    f->lockfd, 0)) == MAP_FAILED) {
        snprintf(errbuf, errlen, "file store: cannot map '%s/.lock' (its "
                 "first 8 bytes are the generation that tells every "
                 "handle's read cache of replaced files): %s", f->dir,
                 strerror(errno));
        return RDV_EIO;
    }
    f->gen = map;
    if (f->poll_only || !(c->cap = cache_cap()))
        return RDV_OK;
    while (buckets < (unsigned)c->cap)
        buckets *= 2;
    c->mask = buckets - 1;
    c->e = calloc((size_t)c->cap, sizeof *c->e);
    c->bucket = malloc(buckets * sizeof *c->bucket);
    if (!c->e || !c->bucket) {
        snprintf(errbuf, errlen, "file store '%s': out of memory", f->dir);
        return RDV_ENOMEM;
    }
    cache_drop(c);
    c->gen = atomic_load(f->gen);
    return RDV_OK;
}

void rdv_file_cache_close(file_store *f)
{
    file_cache *c = &f->cache;

    if (c->e)
        cache_drop(c);
    free(c->e);
    free(c->bucket);
    if (f->gen)
        munmap((void *)f->gen, sizeof *f->gen);
}

void rdv_file_gen_repair(file_store *f)
{
    uint64_t g = f->gen ? atomic_load_explicit(f->gen, memory_order_relaxed)
                        : 0;

    if (g & 1)
        atomic_store_explicit(f->gen, g + 1, memory_order_release);
}

void rdv_file_gen_enter(file_store *f)
{
    if (!f->gen)
        return;
    atomic_store_explicit(
        f->gen, atomic_load_explicit(f->gen, memory_order_relaxed) + 1,
        memory_order_relaxed);
    /* Visible before the rename or unlink that follows: a reader that
     * still loads the old value knows the file was not yet replaced. */
    atomic_thread_fence(memory_order_seq_cst);
}

void rdv_file_gen_leave(file_store *f)
{
    if (f->gen)
        atomic_store_explicit(
            f->gen, atomic_load_explicit(f->gen, memory_order_relaxed) + 1,
            memory_order_release);
}

int rdv_file_cache_shed(file_store *f)
{
    int closed = f->cache.used + (f->ring != NULL);

    cache_drop(&f->cache);
    rdv_file_batch_close(f); /* its fd too; a later batch makes it again */
    return closed;
}

int rdv_file_cache_begin(file_store *f)
{
    file_cache *c = &f->cache;
    uint64_t g;

    if (!c->cap || rdv_self_pid() != f->lock_pid)
        return 0;
    pthread_mutex_lock(&c->mu);
    g = atomic_load_explicit(f->gen, memory_order_acquire);
    if (g != c->gen) {
        cache_drop(c);
        c->gen = g;
    }
    if (!(g & 1))
        return 1;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void rdv_file_cache_end(file_store *f, int held)
{
    if (held)
        pthread_mutex_unlock(&f->cache.mu);
}

int rdv_file_cache_find(file_store *f, const char *name)
{
    file_cache *c = &f->cache;
    uint64_t h = rdv_file_name_hash(name);

    for (int i = c->bucket[h & c->mask]; i >= 0; i = c->e[i].next)
        if (c->e[i].hash == h && strcmp(c->e[i].name, name) == 0) {
            c->e[i].ref = 1;
            return c->e[i].fd;
        }
    return -1;
}

/* Frees the entry CLOCK picks: the first after the hand not read since
 * the hand last passed it. Its fd goes to *evicted, for the caller to
 * close. */
static int cache_evict(file_cache *c, int *evicted)
{
    int i, *p;

    while (c->e[c->hand].ref) {
        c->e[c->hand].ref = 0;
        c->hand = (c->hand + 1) % c->used;
    }
    i = c->hand;
    c->hand = (c->hand + 1) % c->used;
    for (p = &c->bucket[c->e[i].hash & c->mask]; *p != i; p = &c->e[*p].next)
        ;
    *p = c->e[i].next;
    *evicted = c->e[i].fd;
    free(c->e[i].name);
    return i;
}

/* A slot for a new entry: a free one while the process's cached fds
 * stay within the budget, else the one CLOCK frees; -1 when this handle
 * holds none to free (the fd is then not kept). */
static int cache_slot(file_cache *c, int *evicted)
{
    if (c->used < c->cap) {
        if (atomic_fetch_add(&process_fds, 1) < c->cap)
            return c->used++;
        atomic_fetch_sub(&process_fds, 1);
    }
    return c->used ? cache_evict(c, evicted) : -1;
}

int rdv_file_cache_swap(file_store *f, const char *name, int fd)
{
    file_cache *c = &f->cache;
    char *copy = strdup(name);
    uint64_t h = rdv_file_name_hash(name);
    int out = -1, i = copy ? cache_slot(c, &out) : -1;

    if (i < 0) {
        free(copy);
        return fd;
    }
    c->e[i] = (file_cache_entry){copy, h, fd, c->bucket[h & c->mask], 1};
    c->bucket[h & c->mask] = i;
    return out;
}

void rdv_file_cache_put(file_store *f, const char *name, int fd)
{
    int out = rdv_file_cache_swap(f, name, fd);

    if (out >= 0)
        close(out);
}
