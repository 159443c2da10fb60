/*
 * rdv/plugin.h - the versioned C ABI of a store built as a separate .so.
 *
 * A plugin is opened by URL: plugin:./libmystore.so?key=value&...
 * rdv dlopen()s the file (RTLD_NOW | RTLD_LOCAL), looks up ONE symbol,
 * RDV_PLUGIN_SYMBOL, a const rdv_store_plugin table, and refuses it unless
 * its abi_version equals RDV_PLUGIN_ABI_VERSION and its struct_size covers
 * this header's table. Every error names the file and what was expected.
 *
 * The plugin needs nothing from librdv at link time: this header and
 * rdv/status.h (the status codes; it includes rdv/export.h) are the
 * whole interface. Export exactly the table:
 *
 *     RDV_PLUGIN_EXPORT const rdv_store_plugin rdv_store_plugin_v1 = {
 *         .abi_version = RDV_PLUGIN_ABI_VERSION,
 *         .struct_size = sizeof(rdv_store_plugin),
 *         .name = "mystore",
 *         .create = my_create, .destroy = my_destroy, .errmsg = my_errmsg,
 *         .set = my_set, .get = my_get, ...
 *     };
 *
 * A plugin that offers only what Gloo's Store offers sets .level =
 * RDV_PLUGIN_LEVEL_GLOO and may leave add, compare_set, del and list
 * NULL; a C++ gloo::rendezvous::Store becomes one with
 * RDV_GLOO_STORE_PLUGIN (rdv/gloo_plugin.hpp).
 *
 * examples/custom-store/ is a complete plugin (SQLite) to copy, and
 * `rdv conform --store plugin:./libmystore.so?...` certifies one.
 *
 * THE CONTRACT a plugin must keep (rdv/store.h states it for users; this
 * is the same contract seen from the implementer's side):
 *
 * Handles  create() returns an opaque handle; every op gets it back.
 *          rdv calls destroy() exactly once, after cancel() (if any) and
 *          after every op on that handle has returned.
 * Checks   rdv validates arguments before calling an op: keys are
 *          non-NULL, non-empty, NUL-terminated, and may hold ANY other
 *          byte ('/', "..", spaces, UTF-8, a leading '-'); a caller's
 *          key is at most RDV_KEY_MAX bytes, and a prefix= scope adds
 *          its own, so accept keys up to RDV_PLUGIN_KEY_MAX. Values are
 *          0..RDV_VALUE_MAX bytes and val is never NULL (an empty value
 *          is ""); output pointers are valid. A plugin must store keys
 *          and values byte-exactly.
 * Blocking get, wait and multi_get block until the keys exist or the
 *          timeout ends. Other ops do not wait for keys, but may wait for
 *          locks or the network, bounded by the plugin's own limits.
 * Timeouts timeout_ms > 0: give up with RDV_ETIMEDOUT after that many ms,
 *          measured on CLOCK_MONOTONIC, within a few ms (conform allows
 *          generous slack, but a call that overruns by seconds fails).
 *          timeout_ms == 0: try exactly once, never sleep.
 *          timeout_ms < 0: no limit.
 *          A timed-out call must leave the handle fully usable.
 *          Waiting must not spin: sleep, block, or poll with backoff.
 * Signals  EINTR never ends a wait early and never becomes an error:
 *          retry with the remaining time.
 * Atomic   add and compare_set are linearizable across every process
 *          and handle using the same backing data: no lost update, and
 *          exactly one of several concurrent create-only sets (or
 *          compare_sets expecting "absent") wins.
 * Visible  once set returns RDV_OK, every get from any process sees that
 *          value (or a later one). No caching of stale values.
 * Cancel   cancel(), if given, is called from another thread while ops
 *          may be blocked; it makes every blocked and later op on that
 *          handle return RDV_ECANCELED promptly (within ~100 ms). Without
 *          cancel, close waits for blocked calls to time out on their
 *          own, so a plugin without it should not be used with long
 *          timeouts.
 * Threads  ops may be called concurrently from several threads on one
 *          handle; a plugin serializes internally what it must.
 * Fork     a handle belongs to the process that created it. After
 *          fork() each process that uses the store creates its own
 *          handle (rdv opens the URL again there). A plugin must not
 *          rely on handles surviving fork, and should open every fd
 *          with O_CLOEXEC / SOCK_CLOEXEC.
 * Errors   return RDV_OK (0) or a negative rdv_status from rdv/status.h:
 *          RDV_ETIMEDOUT  a blocking op ran out of time
 *          RDV_EEXIST     create-only set found the key present
 *          RDV_EPROTO     add on a value that is not a decimal int64
 *          RDV_EINVAL     int64 overflow in add
 *          RDV_ECANCELED  the handle is being closed
 *          RDV_ECONN/RDV_EIO  the backend failed; RDV_ENOMEM
 *          Any other value is reported to the user as a broken plugin,
 *          as is a reply that breaks this contract (a NULL value with a
 *          length, a value over RDV_VALUE_MAX, a won neither 0 nor 1, a
 *          list key that is NULL, empty, outside the prefix or there
 *          twice, a negative count): RDV_EPROTO naming the op and key.
 * Detail   after a failure, errmsg(handle) returns a string saying what,
 *          where and who, e.g. "get 'job7/addr/3' timed out after
 *          5000 ms" or "wait timed out after 100 ms: 1 of 2 keys
 *          missing: a/1". rdv copies it into the store's detail right
 *          after the failing op returns (its first RDV_DETAIL_MAX - 1
 *          bytes, control bytes escaped as \xNN), so a per-handle buffer
 *          (last failure wins) or a thread-local one both work. It must
 *          not return NULL; "" means no detail.
 * Memory   values handed out (get, multi_get, compare_set's cur) are
 *          malloc()'d by the plugin and freed by rdv's caller with
 *          free(). rdv NUL-terminates them at val[len] for its callers,
 *          reallocating if needed: allocating len + 1 bytes saves that.
 *          Keys from list are a malloc()'d array of malloc()'d
 *          NUL-terminated strings, freed with free(). On failure an op
 *          returns no memory. Inputs are borrowed for the call only.
 * Counters add keeps its value as decimal ASCII ("-42"), creating the
 *          key at 0 when absent, so get and add agree on the format.
 *
 * rdv-owned options: prefix= is handled by rdv itself (it wraps the
 * plugin in the prefix store) and never reaches the plugin.
 */
#ifndef RDV_PLUGIN_H
#define RDV_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "rdv/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to rdv_store_plugin; the symbol name
 * carries it too, so an old loader never misreads a new table. */
#define RDV_PLUGIN_ABI_VERSION 1u
#define RDV_PLUGIN_SYMBOL "rdv_store_plugin_v1"

/* Same values as rdv/store.h, repeated so a plugin needs only this file. */
#ifndef RDV_KEY_MAX
#define RDV_KEY_MAX 4096u
#endif
#ifndef RDV_VALUE_MAX
#define RDV_VALUE_MAX (64u * 1024u * 1024u)
#endif
#define RDV_PLUGIN_SET_CREATE_ONLY 1 /* == RDV_SET_CREATE_ONLY */
/* Longest key an op receives: the caller's RDV_KEY_MAX bytes plus the
 * scope a prefix= option adds (== RDV_SCOPED_KEY_MAX). */
#define RDV_PLUGIN_KEY_MAX (RDV_KEY_MAX + 1024u)

/* rdv_store_plugin.level */
#define RDV_PLUGIN_LEVEL_FULL 0u
#define RDV_PLUGIN_LEVEL_GLOO 1u

#define RDV_PLUGIN_EXPORT __attribute__((visibility("default")))

/* What create() gets: the URL's options and where the plugin came from.
 * Options the plugin reads through option() count as understood; any
 * option nobody read makes rdv refuse the URL as a likely typo (so
 * "?pth=x" fails instead of silently using a default). */
typedef struct rdv_plugin_config {
    const char *url;        /* the whole URL, password masked, for messages */
    const char *path;       /* the .so path as written in the URL */
    size_t noptions;        /* key=value pairs, decoded, in URL order */
    const char *const *keys;
    const char *const *values;
    /* Returns the value of option key (marking it understood), or NULL
     * when absent. Valid during create() only. */
    const char *(*option)(const struct rdv_plugin_config *cfg,
                          const char *key);
    void *loader; /* rdv's, for option(); do not touch */
} rdv_plugin_config;

typedef struct rdv_store_plugin {
    uint32_t abi_version; /* RDV_PLUGIN_ABI_VERSION */
    uint32_t struct_size; /* sizeof(rdv_store_plugin) */
    const char *name;     /* short backend name, e.g. "sqlite" */

    /* Returns a new handle, or NULL after writing a message naming the
     * bad option or the failing resource into errbuf (always non-NULL,
     * errlen > 0). Called in the process that will use the handle.
     * rdv_store_open() then fails with RDV_ECONN and a message that
     * names the .so and quotes errbuf. */
    void *(*create)(const rdv_plugin_config *cfg, char *errbuf,
                    size_t errlen);
    /* Frees the handle; no op is running or will run on it. */
    void (*destroy)(void *h);
    /* Detail of the last failure on h (see Detail above). */
    const char *(*errmsg)(void *h);

    /* Required ops. flags is 0 or RDV_PLUGIN_SET_CREATE_ONLY. */
    int (*set)(void *h, const char *key, const void *val, size_t len,
               int flags);
    int (*get)(void *h, const char *key, void **val, size_t *len,
               int timeout_ms);
    /* On RDV_ETIMEDOUT the detail names the keys still missing. */
    int (*wait)(void *h, const char *const *keys, size_t n,
                int timeout_ms);
    int (*add)(void *h, const char *key, int64_t delta, int64_t *result);
    /* expected == NULL means "the key is absent". *won = 1 when desired
     * was stored. When cur != NULL it receives the value now stored
     * (malloc'd) or NULL with *cur_len = 0 when the key is absent. */
    int (*compare_set)(void *h, const char *key, const void *expected,
                       size_t expected_len, const void *desired,
                       size_t desired_len, int *won, void **cur,
                       size_t *cur_len);
    /* Deleting a missing key is RDV_OK. */
    int (*del)(void *h, const char *key);
    /* Keys starting with prefix ("" = all), each once, any order. */
    int (*list)(void *h, const char *prefix, char ***keys, size_t *n);

    /* Optional: NULL selects rdv's generic version built on the ops
     * above (multi_get = wait + get, multi_set = set each, num_keys and
     * delete_prefix = list + ...). */
    int (*multi_get)(void *h, const char *const *keys, size_t n,
                     void **vals, size_t *lens, int timeout_ms);
    int (*multi_set)(void *h, const char *const *keys,
                     const void *const *vals, const size_t *lens, size_t n);
    int (*num_keys)(void *h, int64_t *n);
    int (*delete_prefix)(void *h, const char *prefix, size_t *deleted);
    void (*cancel)(void *h);

    /* The contract level the plugin claims (rdv_store_contract_level()):
     * RDV_PLUGIN_LEVEL_FULL (0, what a table without this field claims)
     * or RDV_PLUGIN_LEVEL_GLOO: set, get, wait and check with timeouts,
     * what Gloo's store offers. A gloo-level plugin may leave add,
     * compare_set, del and list NULL: they answer RDV_ENOTSUP. */
    uint32_t level;
} rdv_store_plugin;

#ifdef __cplusplus
}
#endif
#endif
