/*
 * etcd_store.h - what the files of the etcd plugin share: the handle,
 * the HTTP layer that talks to the cluster with failover
 * (etcd_http.c), the JSON and base64 codec of etcd's gateway
 * (etcd_json.c), and the ops (etcd_kv.c: writes and listing;
 * etcd_watch.c: get, wait and multi_get; etcd_open.c: the lifecycle and
 * the exported table).
 */
#ifndef RDV_ETCD_STORE_H
#define RDV_ETCD_STORE_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "rdv/plugin.h"
#include "store_kit.h"

/* Ops per txn: well under etcd's --max-txn-ops (128 by default). */
#define ETCD_TXN_OPS 64

typedef struct etcd_conn etcd_conn; /* a pooled curl handle pair */

typedef struct etcd_store {
    char **endpoints; /* "http://host:port", in URL order */
    size_t nendpoints;
    atomic_uint current; /* the endpoint calls try first */
    int timeout_ms;      /* bounds each op that has no timeout of its own */
    int cancel_fd;       /* eventfd, readable once canceled */
    atomic_int canceled;
    pthread_mutex_t pool_lock;
    etcd_conn *pool; /* idle connections, reused for keep-alive */
    /* The counter this handle last added to, as its own write left it:
     * the next add on it guesses that state instead of reading first. */
    pthread_mutex_t add_lock;
    char *add_key;
    int64_t add_rev, add_val;
    /* Receipts of guarded writes (etcd_receipt.c). */
    char receipt_id[17];
    _Atomic int64_t receipt_seq;
    pthread_mutex_t lease_lock;
    int64_t lease, lease_t0;
} etcd_store;

/* What an op is, for its messages: "get 'job/addr/3'". */
typedef struct etcd_op {
    const char *name;
    const char *key; /* or a prefix; NULL when none */
    int write;       /* resending it may apply it twice */
} etcd_op;

/* ---- etcd_http.c ---------------------------------------------------- */

/* The result of etcd_call. */
typedef struct etcd_reply {
    json_t *json; /* the reply on RDV_OK; the caller json_decref()s it */
    int unsure;   /* a write: an earlier attempt may have been applied */
    int code;     /* gRPC code of a refusal (RDV_EIO), else 0 */
} etcd_reply;

/* POSTs req (JSON) to path ("/v3/kv/range") at the preferred endpoint.
 * A refused connection, a lost or silent one, or an "unavailable" answer
 * (no leader, leader changed, server stopping) moves to the next
 * endpoint, round after round with jittered backoff, until deadline.
 * Returns RDV_OK with r->json, or a status with the detail set (naming
 * the op, the key, the endpoint and why). Thread-safe. */
int etcd_call(etcd_store *s, const etcd_op *op, const char *path,
              json_t *req, int64_t deadline, etcd_reply *r);
/* etcd_call with the request already serialized (borrowed). */
int etcd_call_text(etcd_store *s, const etcd_op *op, const char *path,
                   const char *body, size_t len, int64_t deadline,
                   etcd_reply *r);

/* A watch stream at one endpoint (no failover: the caller re-reads and
 * watches again elsewhere). Each JSON line of the reply goes to on_line,
 * which returns 0 to go on, 1 to end the stream (the watch saw what it
 * waited for), or a negative status to fail. Returns on_line's 1 as
 * RDV_OK, RDV_ETIMEDOUT at deadline, RDV_ECANCELED, RDV_ECONN when the
 * stream broke (the detail says why), or on_line's status. */
int etcd_stream(etcd_store *s, const etcd_op *op, unsigned endpoint,
                json_t *req, int64_t deadline,
                int (*on_line)(void *arg, json_t *line), void *arg);

/* The deadline of an op that has no timeout of its own and carries
 * bytes of values: timeout_ms, plus 100 ms per MiB (a 64 MiB value
 * takes seconds through the gateway on a busy host). */
int64_t etcd_io_deadline(const etcd_store *s, size_t bytes);
/* Sleeps ms, waking early on cancel; RDV_ECANCELED when canceled. */
int etcd_pause(etcd_store *s, int ms);
/* Frees the pooled connections (destroy). */
void etcd_pool_free(etcd_store *s);

/* ---- etcd_json.c ---------------------------------------------------- */

/* One key-value pair of a reply. */
typedef struct etcd_kv {
    char *key; /* decoded, NUL-terminated */
    size_t klen;
    void *val; /* decoded, NUL-terminated, malloc'd; NULL unless asked */
    size_t vlen;
    int64_t create_rev, mod_rev;
} etcd_kv;

/* Requests. key, end and values are raw bytes (base64-encoded here);
 * end == NULL asks for one key, end_len == 0 with end != NULL is "\0"
 * (every key from key on). NULL on out of memory. */
json_t *etcd_req_range(const char *key, size_t klen, const char *end,
                       size_t end_len, int keys_only, int count_only);
json_t *etcd_req_put(const char *key, size_t klen, const void *val,
                     size_t len, int64_t lease);
/* The same put as JSON text, written straight from the bytes: a 64 MiB
 * value would otherwise be copied three times (base64, jansson string,
 * dump). malloc'd; NULL on out of memory. */
char *etcd_text_put(const char *key, const void *val, size_t len,
                    size_t *text_len);
json_t *etcd_req_delete(const char *key, size_t klen, const char *end,
                        size_t end_len);
/* A txn: put key = val if its revision target ("CREATE" or "MOD") equals
 * rev, else read the key back (so a lost race costs no extra trip). */
json_t *etcd_req_guarded_put(const char *key, const char *target,
                             int64_t rev, const void *val, size_t len);
json_t *etcd_req_watch(const char *key, size_t klen, const char *end,
                       size_t end_len, int64_t start_rev);
/* Adds op to a txn's "success" list (created on first use). */
int etcd_txn_add(json_t **txn, const char *kind, json_t *op);
/* The key just past every key starting with prefix (prefix + 1 in its
 * last byte that is not 0xff); *len 0 means "\0", the end of the
 * keyspace. Returns a malloc'd buffer or NULL. */
char *etcd_prefix_end(const char *prefix, size_t plen, size_t *len);

/* Replies. header.revision of a reply (0 when absent). */
int64_t etcd_reply_revision(json_t *reply);
/* Integer field (etcd sends int64 as strings; absent = 0). */
int64_t etcd_json_int(json_t *obj, const char *field);
/* kv object -> etcd_kv; values decoded only when want_value. RDV_EPROTO
 * for a malformed one, RDV_ENOMEM. */
int etcd_kv_read(json_t *obj, int want_value, etcd_kv *kv);
/* The decoded value of a kv object (empty when absent). */
int etcd_kv_value(json_t *obj, void **val, size_t *len);
void etcd_kv_free(etcd_kv *kv);
/* The "kvs" array of a range reply, or of a txn's i-th response_range. */
json_t *etcd_reply_kvs(json_t *reply);
json_t *etcd_txn_kvs(json_t *reply, size_t i);

/* ---- etcd_receipt.c ---------------------------------------------------- */

/* A guarded write's receipt: its key and sequence number. */
typedef struct etcd_receipt {
    char key[64];
    size_t klen;
    int64_t seq, lease;
} etcd_receipt;

/* Sets up the handle's receipts (create). */
void etcd_receipt_init(etcd_store *s);
/* Adds the calling thread's receipt, with a fresh sequence number on the
 * handle's lease (granted first if needed), to txn's success ops. */
int etcd_receipt_add(etcd_store *s, const etcd_op *op, json_t *txn,
                     etcd_receipt *r, int64_t deadline);
/* 1 when the receipt shows r's write applied (*rev: its revision), 0
 * when not, or a status. */
int etcd_receipt_check(etcd_store *s, const etcd_op *op,
                       const etcd_receipt *r, int64_t deadline, int64_t *rev);
/* etcd no longer knows lease (it expired): the next receipt gets a new
 * one. */
void etcd_receipt_lease_lost(etcd_store *s, int64_t lease);

/* ---- the ops (etcd_kv.c, etcd_watch.c), for the table in etcd_open.c */

int etcd_set(void *h, const char *key, const void *val, size_t len,
             int flags);
int etcd_add(void *h, const char *key, int64_t delta, int64_t *result);
int etcd_compare_set(void *h, const char *key, const void *expected,
                     size_t expected_len, const void *desired,
                     size_t desired_len, int *won, void **cur,
                     size_t *cur_len);
int etcd_del(void *h, const char *key);
int etcd_list(void *h, const char *prefix, char ***keys, size_t *n);
int etcd_num_keys(void *h, int64_t *n);
int etcd_delete_prefix(void *h, const char *prefix, size_t *deleted);
int etcd_multi_set(void *h, const char *const *keys,
                   const void *const *vals, const size_t *lens, size_t n);
int etcd_get(void *h, const char *key, void **val, size_t *len,
             int timeout_ms);
int etcd_wait(void *h, const char *const *keys, size_t n, int timeout_ms);
int etcd_multi_get(void *h, const char *const *keys, size_t n, void **vals,
                   size_t *lens, int timeout_ms);

#endif
