/*
 * stores/file_store.h - what the file store's files share (stores/file.c
 * holds the design in its head comment): the handle, the record on disk
 * (file_record.c) and the reads and waits (file_wait.c).
 */
#ifndef RDV_FILE_STORE_H
#define RDV_FILE_STORE_H

#include <pthread.h>
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

typedef struct file_store {
    rdv_store base;
    char *dir;
    int dirfd;
    int cancelfd; /* eventfd, readable once the store is closing */
    int poll_only;
    int watchfd;             /* the handle's inotify instance, or -1 */
    _Atomic int watch_busy;  /* 1 while a waiter holds watchfd */
    _Atomic unsigned long tmp_seq;
    int sessionfd; /* ".session", flock shared while the handle is open */
    int lockfd;     /* ".lock", open for lock_pid's calls, or -1 */
    pid_t lock_pid; /* the process that opened the handle */
    pthread_mutex_t lock_mu; /* its threads take turns on lockfd's flock */
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

/* 1 when key's file exists. */
int rdv_file_record_exists(rdv_store *s, const char *key);

/* The ops that read and wait (file_wait.c). */
int rdv_file_wait(rdv_store *s, const char *const *keys, size_t n,
                  int64_t deadline);
int rdv_file_get(rdv_store *s, const char *key, void **val, size_t *len,
                 int64_t deadline);
int rdv_file_multi_get(rdv_store *s, const char *const *keys, size_t n,
                       void **vals, size_t *lens, int64_t deadline);

#endif
