/*
 * zk_store.h - what the files of the ZooKeeper plugin share: the handle,
 * sessions and asynchronous calls with deadlines (zk_session.c), the
 * key <-> znode name codec (zk_path.c), and the ops (zk_ops.c: writes
 * and listing; zk_await.c: get, wait and multi_get; zk_open.c: the
 * lifecycle and the exported table).
 */
#ifndef RDV_ZK_STORE_H
#define RDV_ZK_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

#include "rdv/plugin.h"
#include "store_kit.h"

typedef struct zk_store zk_store;

/* One ZooKeeper session. The store holds a reference to its current one
 * and every call in flight holds another; whoever drops the last closes
 * it. Fields under the store's lock. */
typedef struct zk_session {
    zhandle_t *zh;
    zk_store *s;
    int refs;
    int expired; /* the server ended it: no call on it can succeed */
} zk_session;

struct zk_store {
    char *hosts;     /* "host:port[,host:port...]" */
    char *root;      /* the chroot: every key is a child of this znode */
    int timeout_ms;  /* bounds each op that has no timeout of its own */
    int session_ms;  /* ZooKeeper session timeout */
    size_t maxbuffer; /* the servers' jute.maxbuffer */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC; any call done, watch or
                            session event, or cancel */
    zk_session *session;
    int reopening;   /* a thread is replacing an expired session */
    uint64_t epoch;  /* bumped by every watch and session event */
    int canceled;
};

/* ---- zk_session.c ---------------------------------------------------- */

/* One asynchronous request: the caller and the completion each hold a
 * reference, so a caller that gives up at its deadline never frees what
 * a late completion writes. Results are valid once done. */
typedef struct zk_call {
    zk_store *s;
    zk_session *z;
    int refs, done;
    int zrc; /* ZooKeeper's result: ZOK, ZNONODE, ZCONNECTIONLOSS, ... */
    struct Stat stat;
    char *data; /* aget: the value, malloc'd, NUL-terminated */
    size_t len;
    kit_keys kids; /* aget_children: the child names */
} zk_call;

/* What an issue function sends: one zoo_a* call with completion and c as
 * its data. Returns that call's result (ZOK when sent). */
typedef int (*zk_issue_fn)(zk_call *c, void *arg);

/* Opens the first session and waits until it is connected, or fails
 * into errbuf naming the hosts. */
int zk_session_start(zk_store *s, char *errbuf, size_t errlen);
/* Closes the current session (destroy; no call is running). */
void zk_session_end(zk_store *s);
/* Issues n requests on the current session (issue(c[i], arg[i])),
 * pipelined, and waits until all are done or the deadline or a cancel
 * comes. Returns RDV_OK (each c[i]->zrc holds its result; a request the
 * session could not send has ZINVALIDSTATE or ZCONNECTIONLOSS),
 * RDV_ETIMEDOUT or RDV_ECANCELED (results not valid: what was sent may
 * still happen), RDV_ENOMEM. The caller frees with zk_calls_put. */
int zk_calls_run(zk_store *s, zk_call **c, size_t n, zk_issue_fn issue,
                 void *const *args, int64_t deadline);
void zk_calls_put(zk_call **c, size_t n);
/* The completions issue functions pass to zoo_a* (data: the zk_call). */
void zk_done_void(int rc, const void *data);
void zk_done_stat(int rc, const struct Stat *stat, const void *data);
void zk_done_data(int rc, const char *value, int len,
                  const struct Stat *stat, const void *data);
void zk_done_string(int rc, const char *value, const void *data);
void zk_done_strings(int rc, const struct String_vector *v,
                     const void *data);
/* The watcher every watch uses: wakes the store's waiters. */
void zk_watcher(zhandle_t *zh, int type, int state, const char *path,
                void *ctx);
/* The store's epoch now. */
uint64_t zk_epoch(zk_store *s);
/* Sleeps until the epoch moves past since, the deadline, or a cancel:
 * RDV_OK, RDV_ETIMEDOUT or RDV_ECANCELED. */
int zk_wait_event(zk_store *s, uint64_t since, int64_t deadline);
/* Sleeps ms (a backoff), waking on cancel: RDV_OK or RDV_ECANCELED. */
int zk_pause(zk_store *s, int ms);
/* The backoff between tries of a request whose connection or session
 * was lost (kit_backoff_ms). */
#define ZK_RETRY_FIRST_MS 10
#define ZK_RETRY_MAX_MS 200
/* 1 when a result means the request may be sent again (the connection
 * or session was lost, or it was never sent). */
int zk_retryable(int zrc);
/* 1 when a write with that result may have been applied anyway. */
int zk_maybe_applied(int zrc);
/* The deadline of an op that has no timeout of its own: timeout_ms, and
 * 100 ms more per MiB of value it writes. */
int64_t zk_io_deadline(const zk_store *s, size_t bytes);

/* ---- zk_path.c -------------------------------------------------------- */

/* The znode path of key: root "/" escaped-key. NULL on out of memory. */
char *zk_path(const zk_store *s, const char *key);
/* The key a child name stands for (malloc'd), or NULL when the name is
 * not one this plugin made. */
char *zk_key_of(const char *name);
/* Checks a chroot option; -1 after writing errbuf. */
int zk_root_check(const char *root, char *errbuf, size_t errlen);
/* Creates the root and its parents when missing (open). */
int zk_root_create(zk_store *s, char *errbuf, size_t errlen);

/* ---- the ops (zk_ops.c, zk_await.c), for the table in zk_open.c ---- */

/* The detail of a failed call: "set 'k' on zookeeper HOSTS: what". */
int zk_fail(const zk_store *s, int status, const char *op, const char *key,
            const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The rdv status and detail for an unexpected ZooKeeper result. */
int zk_fail_zrc(const zk_store *s, const char *op, const char *key,
                int zrc);

int zk_set(void *h, const char *key, const void *val, size_t len, int flags);
int zk_add(void *h, const char *key, int64_t delta, int64_t *result);
int zk_compare_set(void *h, const char *key, const void *expected,
                   size_t expected_len, const void *desired,
                   size_t desired_len, int *won, void **cur,
                   size_t *cur_len);
int zk_del(void *h, const char *key);
int zk_list(void *h, const char *prefix, char ***keys, size_t *n);
int zk_num_keys(void *h, int64_t *n);
int zk_delete_prefix(void *h, const char *prefix, size_t *deleted);
int zk_get(void *h, const char *key, void **val, size_t *len, int timeout_ms);
int zk_wait(void *h, const char *const *keys, size_t n, int timeout_ms);
int zk_multi_get(void *h, const char *const *keys, size_t n, void **vals,
                 size_t *lens, int timeout_ms);

#endif
