/*
 * rdv/store.h - the key/value store contract that rendezvous runs on.
 *
 * A store is opened from a URL and used through the rdv_store_* calls
 * below. Every store (built-in, decorator or plugin) gives the same
 * semantics, which `rdv conform` certifies:
 *
 * Keys    non-empty NUL-terminated strings of at most RDV_KEY_MAX bytes.
 *         Any other byte is allowed: '/', "..", spaces, UTF-8, a leading
 *         '-'. A NULL, empty or oversized key is RDV_EINVAL.
 * Values  arbitrary bytes, 0 to RDV_VALUE_MAX bytes; empty is allowed.
 *         A larger value is RDV_EINVAL naming the key and the size.
 * Timeout in milliseconds: 0 tries once, a negative value never expires.
 *         Deadlines use CLOCK_MONOTONIC and fire within a few ms.
 *         A timed-out call leaves the store fully usable.
 * Signals a signal (EINTR) during a wait never ends the wait early.
 * Atomic  add and compare_set are linearizable across every process
 *         that shares the store: no update is ever lost.
 * Close   rdv_store_close() wakes every call still blocked on that
 *         handle in other threads with RDV_ECANCELED, waits for them to
 *         return, then frees the handle. Blocked callers in *other
 *         processes* are not affected: they hold their own handle.
 * Errors  each call returns RDV_OK or a negative rdv_status; on failure
 *         rdv_store_errmsg() says what, where and who, e.g.
 *         "wait timed out after 5000 ms: 2 of 8 keys missing: job7/addr/3,
 *         job7/addr/6". The detail is per thread and per handle: each
 *         thread sees the detail of its own last failure on that handle,
 *         so threads sharing a handle never race on it and never read
 *         each other's message.
 * Memory  values returned through void ** are malloc'd, NUL-terminated
 *         one byte past their length for convenience, and owned by the
 *         caller (free()).
 * Fork    a handle may be used by one process only, except where a URL
 *         documents otherwise (hash:?shared=1 is made to be inherited;
 *         redis:// and tcp:// reconnect when they notice a new pid). Open
 *         stores in the process that uses them.
 * Threads every built-in store may be shared by threads.
 *
 * URLs (rdv_store_open):
 *   hash:                      in-process, thread-safe
 *   hash:?shared=1[&size=MiB]  shared mapping made before fork(); forked
 *                              children use the handle they inherited
 *   file:///dir[?poll=1&fresh=1]
 *                              one file per key in dir; poll=1 waits by
 *                              polling (NFS); fresh=1 refuses a directory
 *                              that still holds keys from an earlier run
 *   redis://[[user]:pass@]host[:port][/db][?timeout_ms=N]
 *   unix:///path/redis.sock[?db=N&password=P&user=U&timeout_ms=N]
 *   tcp://host[:port][?token=T&timeout_ms=N&serve=1]
 *                              librdv's own store server
 *                              (rdv/store_server.h, `rdv store-server`);
 *                              port 29500 by default; serve=1: the first
 *                              handle to bind host:port runs the server
 *                              while it stays open
 *   env://                     the store the environment names: $RDV_STORE
 *                              (a URL), else tcp://$MASTER_ADDR:$MASTER_PORT
 *                              served by rank 0 ($RDV_RANK, else $RANK)
 *   plugin:./libmystore.so[?k=v...]
 *   exec:/path/to/adapter[?k=v...][&timeout_ms=N&start_timeout_ms=N]
 *                              a program in any language serves the store
 *                              over a socketpair (one per handle; options
 *                              become --k=v arguments); the protocol is
 *                              ref/src/stores/EXEC_PROTOCOL.md
 *   Every scheme also takes prefix=P, which scopes the store to "P/".
 */
#ifndef RDV_STORE_H
#define RDV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "rdv/export.h"
#include "rdv/status.h"

RDV_API_BEGIN

#define RDV_KEY_MAX 4096u
#define RDV_VALUE_MAX (64u * 1024u * 1024u)

typedef struct rdv_store rdv_store;

/* Flags for rdv_store_set. */
enum {
    RDV_SET_CREATE_ONLY = 1 << 0, /* RDV_EEXIST if the key is present */
};

/* Opens the store a URL names (parsed by rdv/url.h). On success *out
 * owns a new handle. On failure returns RDV_EINVAL (malformed URL,
 * unknown scheme or option), RDV_ENOTSUP (scheme not built in), or the
 * store's own error, and writes a message naming the offending part into
 * errbuf; a URL it names has its password masked. */
int rdv_store_open(const char *url, rdv_store **out, char *errbuf,
                   size_t errlen);

/* Wraps inner so that every key lives under "prefix/". list, num_keys
 * and delete_prefix see only this prefix. The new handle owns inner
 * and closes it. On failure inner is left untouched. */
int rdv_store_prefix_open(rdv_store *inner, const char *prefix,
                          rdv_store **out);

/* Cancels blocked calls on this handle (RDV_ECANCELED), waits for them
 * to return, and frees the handle. NULL is allowed. */
void rdv_store_close(rdv_store *s);

/* Detail of the calling thread's last failure on this handle; "" when
 * it has none. The string belongs to the handle and this thread: it
 * stays valid until this thread's next failing call on the handle, or
 * until rdv_store_close(); other threads' failures do not touch it. */
const char *rdv_store_errmsg(const rdv_store *s);

/* The scheme-level name of the backend ("hash", "file", "prefix"...). */
const char *rdv_store_name(const rdv_store *s);

/* What kind of sharing a store offers (rdv_store_flags). */
enum {
    /* Forked children must use the handle they inherited instead of
     * opening the URL again: hash:?shared=1. */
    RDV_STORE_INHERITED = 1 << 0,
    /* Visible to this process only (hash:): useless across fork. */
    RDV_STORE_PROCESS_LOCAL = 1 << 1,
    /* Claims only the gloo level of the contract (see below): an exec:
     * adapter that declared it, or a plugin whose table does (the gloo+
     * stores, RDV_GLOO_STORE_PLUGIN). */
    RDV_STORE_GLOO_LEVEL = 1 << 2,
};

/* The RDV_STORE_* flags of s (a prefix store reports its inner's). */
unsigned rdv_store_flags(const rdv_store *s);
/* rdv_store_flags(s) & RDV_STORE_INHERITED, as 0 or 1. */
int rdv_store_is_inherited(const rdv_store *s);

/* How much of the contract a store claims (rdv_store_contract_level). */
enum {
    /* set, get, wait and check with timeouts: what Gloo's store offers */
    RDV_STORE_LEVEL_GLOO = 1,
    /* everything this header describes */
    RDV_STORE_LEVEL_FULL = 2,
};

/* The level s claims: RDV_STORE_LEVEL_FULL for the built-in stores; a
 * plugin claims its table's level (rdv_store_plugin.level: gloo for the
 * gloo+ stores); an exec: store claims what its adapter declared; a prefix
 * store claims its inner's. 0 for NULL. `rdv conform` judges a store on
 * this level. */
int rdv_store_contract_level(const rdv_store *s);

int rdv_store_set(rdv_store *s, const char *key, const void *val,
                  size_t len, int flags);

/* Blocks until key exists or timeout_ms passes (RDV_ETIMEDOUT). */
int rdv_store_get(rdv_store *s, const char *key, void **val, size_t *len,
                  int timeout_ms);

/* Non-blocking get: RDV_ENOTFOUND when the key is absent. */
int rdv_store_try_get(rdv_store *s, const char *key, void **val,
                      size_t *len);

/* Non-blocking: RDV_OK when every key exists, RDV_ENOTFOUND otherwise
 * (the detail names the missing ones). */
int rdv_store_check(rdv_store *s, const char *const *keys, size_t n);

/* Blocks until every key exists. On timeout the detail lists which
 * keys are still missing. */
int rdv_store_wait(rdv_store *s, const char *const *keys, size_t n,
                   int timeout_ms);

/* Atomically adds delta to the int64 stored under key (created at 0
 * when absent) and returns the new value in *result (may be NULL). The
 * value is kept as decimal ASCII. A value that is not such a number is
 * RDV_EPROTO naming the key. */
int rdv_store_add(rdv_store *s, const char *key, int64_t delta,
                  int64_t *result);

/* Atomically: if the key's current value equals expected (or, with
 * expected == NULL, if the key is absent), store desired and set *won
 * to 1; otherwise leave it and set *won to 0. Either way *cur (if not
 * NULL) receives the value now stored, or NULL with *cur_len 0 when
 * the key is absent. */
int rdv_store_compare_set(rdv_store *s, const char *key,
                          const void *expected, size_t expected_len,
                          const void *desired, size_t desired_len,
                          int *won, void **cur, size_t *cur_len);

/* Removes key. Removing a missing key is RDV_OK. */
int rdv_store_delete(rdv_store *s, const char *key);

/* Removes every key that starts with prefix ("" = every key in this
 * handle's scope). *deleted (may be NULL) gets the count. */
int rdv_store_delete_prefix(rdv_store *s, const char *prefix,
                            size_t *deleted);

/* Waits for every key like rdv_store_wait, then returns all values in
 * vals[i]/lens[i]. On failure no value is returned. */
int rdv_store_multi_get(rdv_store *s, const char *const *keys, size_t n,
                        void **vals, size_t *lens, int timeout_ms);

/* Sets every key (overwriting). Not atomic as a whole. */
int rdv_store_multi_set(rdv_store *s, const char *const *keys,
                        const void *const *vals, const size_t *lens,
                        size_t n);

/* Keys in this handle's scope that start with prefix, in no particular
 * order. *keys is a malloc'd array of malloc'd strings; free it with
 * rdv_store_list_free(). */
int rdv_store_list(rdv_store *s, const char *prefix, char ***keys,
                   size_t *n);
void rdv_store_list_free(char **keys, size_t n);

/* Number of keys in this handle's scope. */
int rdv_store_num_keys(rdv_store *s, int64_t *n);

RDV_API_END
#endif
