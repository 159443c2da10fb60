/*
 * stores/redis.h - what the redis store's files share: the handle, the
 * call and poll helpers (redis.c), and the ops that live in
 * redis_batch.c and redis_scan.c.
 */
#ifndef RDV_STORES_REDIS_H
#define RDV_STORES_REDIS_H

#include "redis_conn.h"
#include "store_internal.h"

typedef struct redis_store {
    rdv_store base;
    rdv_redis_conf conf;
    rdv_redis_conn conn;
} redis_store;

#define RS(s) ((redis_store *)(s))

/* Records a failure of op on key (NULL: none) with the connection
 * layer's detail, which names the server: "get 'a/b': redis
 * 127.0.0.1:6379: connect: Connection refused (5 attempts in 1001 ms)".
 * Returns rc. */
int rdv_redis_fail(rdv_store *s, int rc, const char *op, const char *key,
                   const char *detail);

/* A reply of an unexpected kind (a redis error such as WRONGTYPE or
 * OOM: RDV_EIO; anything else: RDV_EPROTO), recorded naming op, key and
 * server. Frees r. Returns the status. */
int rdv_redis_reply_fail(rdv_store *s, redisReply *r, const char *op,
                         const char *key);

/* Sends one command with deadline io and returns its reply in *r; on
 * failure records "op 'key': <the connection layer's detail>". */
int rdv_redis_call1(rdv_store *s, const char *op, const char *key,
                    rdv_redis_cmd cmd, int64_t io, int flags, redisReply **r);

/* One look for what a blocking op waits for: RDV_OK ready, 1 not yet,
 * <0 failed (already recorded). io is the deadline for its I/O. */
typedef int (*rdv_redis_probe_fn)(rdv_store *s, int64_t io, void *arg);

/* rdv_redis_poll's own endings, apart from a probe's statuses. */
enum { RDV_REDIS_POLL_TIMEDOUT = 2, RDV_REDIS_POLL_CANCELED = 3 };

/* Runs probe with backoff (0.1 ms growing to 2 ms, jittered) until it
 * is ready (RDV_OK), fails (its status), the deadline passes
 * (RDV_REDIS_POLL_TIMEDOUT) or the store is closed
 * (RDV_REDIS_POLL_CANCELED); the caller records those two. */
int rdv_redis_poll(rdv_store *s, int64_t deadline, rdv_redis_probe_fn probe,
                   void *arg);
/* The rdv_status of rdv_redis_poll's result. */
int rdv_redis_poll_status(int rc);

/* wait, multi_get and multi_set (redis_batch.c). */
int rdv_redis_wait(rdv_store *s, const char *const *keys, size_t n,
                   int64_t deadline);
int rdv_redis_multi_get(rdv_store *s, const char *const *keys, size_t n,
                        void **vals, size_t *lens, int64_t deadline);
int rdv_redis_multi_set(rdv_store *s, const char *const *keys,
                        const void *const *vals, const size_t *lens, size_t n);

/* list, num_keys and delete_prefix: SCAN MATCH with the prefix's glob
 * metacharacters escaped, never KEYS. */
int rdv_redis_list(rdv_store *s, const char *prefix, char ***keys, size_t *n);
int rdv_redis_num_keys(rdv_store *s, int64_t *n);
int rdv_redis_delete_prefix(rdv_store *s, const char *prefix, size_t *deleted);

#endif
