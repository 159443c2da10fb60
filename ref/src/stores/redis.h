/*
 * stores/redis.h - what the redis store's files share: the handle, and
 * the scan-based ops that live in redis_scan.c.
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

/* list, num_keys and delete_prefix: SCAN MATCH with the prefix's glob
 * metacharacters escaped, never KEYS. */
int rdv_redis_list(rdv_store *s, const char *prefix, char ***keys,
                   size_t *n);
int rdv_redis_num_keys(rdv_store *s, int64_t *n);
int rdv_redis_delete_prefix(rdv_store *s, const char *prefix,
                            size_t *deleted);

#endif
