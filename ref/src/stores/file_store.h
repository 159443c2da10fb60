/*
 * stores/file_store.h - what the file store's files share (stores/file.c
 * holds the design in its head comment): the handle, the record on disk
 * (file_record.c), the read cache (file_cache.c), the reads of many keys
 * at once (file_batch.c) and the reads and waits (file_wait.c).
 */
#ifndef RDV_FILE_STORE_H
#define RDV_FILE_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store_internal.h"

/* A key's file: this header, the key, then records of the key's value,
 * each a file_record_head and the bytes, of which the last complete one
 * is the value (stores/file.c). Files of the older format (the key, then
 * one value) began with "RDVF": a read of one fails with an error naming
 * it. */
#define FILE_MAGIC 0x4C564452u    /* "RDVL" */
#define FILE_MAGIC_V1 0x46564452u /* "RDVF" */

typedef struct file_header {
    uint32_t magic;
    uint32_t key_len;
} file_header;

/* A record's head: the value's length and its complement (host order),
 * so neither a run of zero bytes (a file a crash extended but never
 * filled) nor a length torn mid-write passes for a record. */
typedef struct file_record_head {
    uint32_t len;
    uint32_t check; /* ~len */
} file_record_head;

/* How much of a key's file the first read asks for: most records (a
 * key and a rendezvous value) fit, and then no fstat is needed. */
#define FILE_FIRST_READ 4096

/* An open key file in a handle's read cache (file_cache.c). */
typedef struct file_cache_entry {
    char *name; /* the key's file name */
    uint64_t hash; /* rdv_file_name_hash(name) */
    int fd;
    int next; /* the next entry in its bucket, or -1 */
    int ref;  /* read since the CLOCK hand last passed it */
} file_cache_entry;

typedef struct file_cache {
    pthread_mutex_t mu; /* guards all below, held across a cached read */
    int cap;            /* 0: no cache (poll=1, not a local filesystem) */
    int used, hand;
    uint64_t gen; /* the generation the entries were opened at */
    unsigned mask; /* buckets - 1 */
    int *bucket;   /* the first entry of each, or -1 */
    file_cache_entry *e;
} file_cache;

typedef struct file_store {
    rdv_store base;
    char *dir;
    int dirfd;
    int cancelfd; /* eventfd, readable once the store is closing */
    int poll_only;
    int watchfd;             /* the handle's inotify instance, or -1 */
    _Atomic int watch_busy;  /* 1 while a waiter holds watchfd */
    _Atomic unsigned long tmp_seq;
    _Atomic int no_tmpfile; /* 1 once O_TMPFILE or its link failed */
    int sessionfd; /* ".session", flock shared while the handle is open */
    int lockfd;     /* ".lock", open for lock_pid's calls, or -1 */
    pid_t lock_pid; /* the process that opened the handle */
    pthread_mutex_t lock_mu; /* its threads take turns on lockfd's flock */
    _Atomic uint64_t *gen; /* ".lock"'s first 8 bytes, mapped shared, or
                            * NULL off a local filesystem (file_cache.c) */
    file_cache cache;
    /* Reads of many keys at once (file_batch.c), made at the first
     * batch and used while the cache is held; NULL before, or when
     * io_uring is out of reach (batch_off = 1). */
    struct io_uring *ring;
    char *ring_buf; /* FILE_BATCH first reads of FILE_FIRST_READ */
    _Atomic int batch_off; /* read without the cache's mutex */
    int read_sync; /* the filesystem reads only blocking (tmpfs) */
} file_store;

#define F(s) ((file_store *)(s))

/* RDV_EIO with "OP 'KEY' in DIR: strerror(err)" as the detail. */
int rdv_file_io_fail(rdv_store *s, const char *op, const char *key, int err);

/* Publishes key=val atomically: a record appended to the key's file, or
 * a new file (a temp file, then rename(2), or link(2) when create_only:
 * RDV_EEXIST when the key exists). Caller holds the directory lock. */
int rdv_file_record_publish(rdv_store *s, const char *key, const void *val,
                            size_t len, int create_only);

/* Decides a read-modify-write of key: cur is its value (cur_len bytes,
 * not NUL-terminated; NULL when the key does not exist). Sets *val and
 * *len to the value to publish, or leaves *val NULL to publish nothing.
 * An error (set with rdv_store_fail) ends the update. */
typedef int (*rdv_file_update_fn)(rdv_store *s, const char *key,
                                  const char *cur, size_t cur_len, void *arg,
                                  const void **val, size_t *len);

/* Reads key's file once and publishes what fn decides, on the same open
 * file: add and compare_set. Caller holds the directory lock. */
int rdv_file_record_update(rdv_store *s, const char *key,
                           rdv_file_update_fn fn, void *arg);

/* Reads the value of key into a malloc'd *val (NUL-terminated past
 * *len). RDV_ENOTFOUND when the file does not exist, RDV_EPROTO when it
 * is not a record for key (or of the older format), naming the file. */
int rdv_file_record_read(rdv_store *s, const char *key, void **val,
                         size_t *len);

/* key's value from the first got bytes of its file, named name, read
 * elsewhere (got < FILE_FIRST_READ: the whole file), or from fd, an
 * open file of key read whole: into a malloc'd *val as
 * rdv_file_record_read, with its errors. */
int rdv_file_record_from(rdv_store *s, const char *key, const char *name,
                         const char *buf, size_t got, void **val,
                         size_t *len);
int rdv_file_record_read_fd(rdv_store *s, int fd, const char *key,
                            const char *name, void **val, size_t *len);

/* Reads keys[idx[0..m)] as rdv_file_record_read would, FILE_BATCH at a
 * time through io_uring when the handle's cache is held and has enough
 * of them (file_batch.c; one by one otherwise). Each key found gets
 * present[i] = 1 and its vals[i], lens[i]; a missing one is left as it
 * was. With stop, it stops at the first missing key (one by one) or
 * after the first batch with one. RDV_OK, or the first failed read's
 * status (values read before it stay set, for the caller to free with
 * the rest). */
#define FILE_BATCH 64
int rdv_file_record_read_many(rdv_store *s, const char *const *keys,
                              const size_t *idx, size_t m, int stop,
                              void **vals, size_t *lens,
                              unsigned char *present);
/* Whether read_many may batch in this process (it may still find the
 * cache busy or its generation odd, and read one by one then). */
int rdv_file_batch_usable(file_store *f);
/* Frees the ring and its buffers (file_batch.c). */
void rdv_file_batch_close(file_store *f);

/* 1 when key's file exists. */
int rdv_file_record_exists(rdv_store *s, const char *key);

/* The read cache and the directory's generation (file_cache.c holds
 * the design). At open, after lockfd: maps the generation on a local
 * filesystem, and makes the cache unless poll=1; an error when the
 * mapping fails, as the handle's writes could then not move it. */
int rdv_file_cache_open(file_store *f, char *errbuf, size_t errlen);
/* Closes the cached fds and unmaps the generation (the handle inits and
 * destroys cache.mu). */
void rdv_file_cache_close(file_store *f);

/* The writer's side, under the flock: makes a generation a dead writer
 * left odd even (on taking the lock), and moves it to odd before and
 * to even after a rename or unlink that replaces or removes an existing
 * key's file. No-ops without a mapped generation. */
void rdv_file_gen_repair(file_store *f);
void rdv_file_gen_enter(file_store *f);
void rdv_file_gen_leave(file_store *f);

/* The reader's side. begin returns 1 with the cache held when it may
 * be used (this process opened the handle, the generation is even; the
 * cache was emptied if the generation moved), else 0; end(f, what begin
 * returned) lets it go. While held: find returns the cached fd of the
 * file name (not to be closed), or -1; put keeps fd (opened by name
 * while held) for name, and closes it when it cannot. */
int rdv_file_cache_begin(file_store *f);
void rdv_file_cache_end(file_store *f, int held);
int rdv_file_cache_find(file_store *f, const char *name);
void rdv_file_cache_put(file_store *f, const char *name, int fd);
/* Like put, but leaves the closing to the caller (a batch closes many
 * at once): returns the fd to close, the one evicted for fd's entry or
 * fd itself when it was not kept, or -1. */
int rdv_file_cache_swap(file_store *f, const char *name, int fd);
/* While held: closes every cached fd and the batch's ring, for an open
 * that found the process out of fds (EMFILE, ENFILE); returns how many
 * fds it closed. */
int rdv_file_cache_shed(file_store *f);

/* The ops that read and wait (file_wait.c). */
int rdv_file_wait(rdv_store *s, const char *const *keys, size_t n,
                  int64_t deadline);
int rdv_file_get(rdv_store *s, const char *key, void **val, size_t *len,
                 int64_t deadline);
int rdv_file_multi_get(rdv_store *s, const char *const *keys, size_t n,
                       void **vals, size_t *lens, int64_t deadline);

#endif
