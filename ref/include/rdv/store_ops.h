/*
 * rdv/store_ops.h - how to implement a store inside a process.
 *
 * For backends and decorators linked into the program (the built-in
 * stores, the fault store, test stores). A store built as a separate
 * .so uses the versioned C ABI in rdv/plugin.h instead.
 *
 * A backend embeds struct rdv_store as its first member and fills an
 * rdv_store_ops table. The public rdv_store_* calls do the rest, so a
 * backend never repeats it:
 *   - argument checks (keys, sizes, NULLs) before any op is called;
 *   - timeouts turned into absolute CLOCK_MONOTONIC deadlines in ns
 *     (code that already holds a deadline calls the *_until entry
 *     points below, so no deadline goes back to milliseconds inside);
 *   - the generic fallbacks for the optional ops (NULL in the table);
 *   - the close protocol: cancel() is called once, the caller waits
 *     until no call is inside the backend, then destroy() frees it.
 *
 * Rules for an op:
 *   - return RDV_OK or a negative rdv_status, and on failure call
 *     rdv_store_fail() so the detail names the key and what went wrong;
 *   - a blocking op honours its deadline (RDV_DEADLINE_NONE = forever,
 *     a deadline in the past = try once) and retries on EINTR;
 *   - after cancel() every blocked op returns RDV_ECANCELED promptly.
 *
 * A store that wraps another one (a decorator: prefix, fault, recorder)
 * is an rdv_wrapper (below): it names only the ops it changes, and the
 * rest reach the inner store with the caller's deadline untouched.
 *
 * Error detail and threads: each thread sees the detail of its own last
 * failure on a handle (rdv_store_fail writes the calling thread's copy,
 * rdv_store_errmsg reads it), so threads sharing a handle never race on
 * it and a status always comes with its own message.
 */
#ifndef RDV_STORE_OPS_H
#define RDV_STORE_OPS_H

#include <pthread.h>
#include <stdint.h>

#include "rdv/clock.h" /* deadlines: RDV_DEADLINE_NONE, rdv_now_ns() */
#include "rdv/export.h"
#include "rdv/store.h"

RDV_API_BEGIN

/* Keys reaching a backend may carry scope prefixes (prefix store) on
 * top of the caller's RDV_KEY_MAX bytes; backends accept up to this. */
#define RDV_SCOPED_KEY_MAX (RDV_KEY_MAX + 1024u)

typedef struct rdv_store_ops {
    const char *name;
    unsigned flags;

    /* Required. */
    int (*set)(rdv_store *s, const char *key, const void *val, size_t len,
               int flags);
    int (*get)(rdv_store *s, const char *key, void **val, size_t *len,
               int64_t deadline);
    int (*wait)(rdv_store *s, const char *const *keys, size_t n,
                int64_t deadline);
    int (*add)(rdv_store *s, const char *key, int64_t delta,
               int64_t *result);
    int (*compare_set)(rdv_store *s, const char *key, const void *expected,
                       size_t expected_len, const void *desired,
                       size_t desired_len, int *won, void **cur,
                       size_t *cur_len);
    int (*del)(rdv_store *s, const char *key);
    int (*list)(rdv_store *s, const char *prefix, char ***keys, size_t *n);
    void (*destroy)(rdv_store *s);

    /* Optional: NULL selects the generic fallback. */
    int (*multi_get)(rdv_store *s, const char *const *keys, size_t n,
                     void **vals, size_t *lens, int64_t deadline);
    int (*multi_set)(rdv_store *s, const char *const *keys,
                     const void *const *vals, const size_t *lens, size_t n);
    int (*num_keys)(rdv_store *s, int64_t *n);
    int (*delete_prefix)(rdv_store *s, const char *prefix,
                         size_t *deleted);
    void (*cancel)(rdv_store *s); /* wake blocked ops; may be NULL */
} rdv_store_ops;

struct rdv_store {
    const rdv_store_ops *ops;
    /* close protocol: calls inside the backend, and whether closing */
    pthread_mutex_t gate;
    pthread_cond_t idle;
    int calls;
    int closing;
    unsigned flags; /* ops->flags, or the inner store's for decorators */
    /* one error detail per thread that failed on this handle, under
     * gate; freed by close */
    struct rdv_store_detail *details;
};

/* Prepares the embedded base; call first in a backend's open. */
void rdv_store_init(rdv_store *s, const rdv_store_ops *ops);

/* How many calls are inside s's backend right now. For code that must
 * close a store while a call on it is blocked (a conformance clause
 * checking that close wakes it): calling into a handle that close has
 * already freed is the caller's bug, so it waits for the call to enter
 * first. */
int rdv_store_calls_inside(rdv_store *s);

/* rdv_store_get, rdv_store_wait and rdv_store_multi_get for code that
 * already holds an absolute CLOCK_MONOTONIC deadline in ns
 * (RDV_DEADLINE_NONE = no limit, a deadline in the past = try once):
 * the same checks, gate and fallbacks, and the deadline reaches the
 * backend untouched. The millisecond calls are these with
 * rdv_deadline_from_ms(timeout_ms). */
int rdv_store_get_until(rdv_store *s, const char *key, void **val,
                        size_t *len, int64_t deadline);
int rdv_store_wait_until(rdv_store *s, const char *const *keys, size_t n,
                         int64_t deadline);
int rdv_store_multi_get_until(rdv_store *s, const char *const *keys,
                              size_t n, void **vals, size_t *lens,
                              int64_t deadline);

/* The store operations, each with one name: what wrapper hooks see, the
 * harness records and traces, and fault specs select (op=). */
typedef enum rdv_store_op {
    RDV_STORE_OP_SET,
    RDV_STORE_OP_GET,
    RDV_STORE_OP_WAIT,
    RDV_STORE_OP_ADD,
    RDV_STORE_OP_COMPARE_SET,
    RDV_STORE_OP_DELETE,
    RDV_STORE_OP_LIST,
    RDV_STORE_OP_MULTI_GET,
    RDV_STORE_OP_MULTI_SET,
    RDV_STORE_OP_NUM_KEYS,
    RDV_STORE_OP_DELETE_PREFIX,
    RDV_STORE_OP_COUNT
} rdv_store_op;

/* "set", "get", "wait", "add", "compare_set", "delete", "list",
 * "multi_get", "multi_set", "num_keys", "delete_prefix"; NULL for a
 * value that is not an rdv_store_op. */
const char *rdv_store_op_name(rdv_store_op op);

/* The op whose name is name[0..len) (not NUL-terminated: spec atoms);
 * RDV_OK and *op, or RDV_EINVAL for any other text. */
int rdv_store_op_parse(const char *name, size_t len, rdv_store_op *op);

/*
 * Wrapper stores (decorators). A wrapper embeds rdv_wrapper as the first
 * member of its struct, calls rdv_wrapper_init() last in its open (it
 * cannot fail; from then on the wrapper owns inner and closes it), and
 * names in its rdv_wrapper_ops only the ops it changes. Every NULL op
 * forwards to the inner store: the same arguments, the caller's deadline
 * untouched, and on failure the inner store's detail copied to the
 * wrapper, so messages still name the key. An op the wrapper does change
 * reaches the inner store through the rdv_inner_* calls, which forward
 * the same way.
 *
 * Forwarding calls the inner backend's ops (or the generic fallbacks)
 * directly, not the public calls: the caller's arguments were checked
 * once at the outer handle, a scoped key may pass RDV_KEY_MAX (up to
 * RDV_SCOPED_KEY_MAX), and the inner's gate is not needed because the
 * inner store is closed only from the wrapper's destroy, after the
 * outer gate has drained. The wrapper reports its inner's flags.
 */
typedef struct rdv_wrapper_ops {
    /* name, and the ops this wrapper changes (NULL forwards). cancel,
     * if given, runs first, then the inner's cancel. destroy, if given,
     * runs after the inner store is closed and frees the wrapper's own
     * state and the struct; NULL frees the struct only. flags is not
     * used. */
    rdv_store_ops ops;
    /* Optional, around every call that reaches the inner store (the
     * default forwarding and rdv_inner_*): key is the first key, the
     * prefix for list and delete_prefix, NULL for num_keys; rc is what
     * the inner returned, its detail already copied to s. */
    void (*before)(rdv_store *s, rdv_store_op op, const char *key);
    void (*after)(rdv_store *s, rdv_store_op op, int rc);
} rdv_wrapper_ops;

typedef struct rdv_wrapper {
    rdv_store base;
    rdv_store *inner;
    const rdv_wrapper_ops *wops;
    rdv_store_ops table; /* wops->ops with the forwarding filled in */
} rdv_wrapper;

/* Prepares the embedded wrapper around inner (both non-NULL); call last
 * in the wrapper's open: it takes ownership of inner. */
void rdv_wrapper_init(rdv_wrapper *w, const rdv_wrapper_ops *ops,
                      rdv_store *inner);

/* The inner store's op, for a wrapper's own ops: s is the wrapper; the
 * arguments go to its inner store as given (see above). */
int rdv_inner_set(rdv_store *s, const char *key, const void *val,
                  size_t len, int flags);
int rdv_inner_get(rdv_store *s, const char *key, void **val, size_t *len,
                  int64_t deadline);
int rdv_inner_wait(rdv_store *s, const char *const *keys, size_t n,
                   int64_t deadline);
int rdv_inner_add(rdv_store *s, const char *key, int64_t delta,
                  int64_t *result);
int rdv_inner_compare_set(rdv_store *s, const char *key,
                          const void *expected, size_t expected_len,
                          const void *desired, size_t desired_len, int *won,
                          void **cur, size_t *cur_len);
int rdv_inner_delete(rdv_store *s, const char *key);
int rdv_inner_list(rdv_store *s, const char *prefix, char ***keys,
                   size_t *n);
int rdv_inner_multi_get(rdv_store *s, const char *const *keys, size_t n,
                        void **vals, size_t *lens, int64_t deadline);
int rdv_inner_multi_set(rdv_store *s, const char *const *keys,
                        const void *const *vals, const size_t *lens,
                        size_t n);
int rdv_inner_num_keys(rdv_store *s, int64_t *n);
int rdv_inner_delete_prefix(rdv_store *s, const char *prefix,
                            size_t *deleted);

/* Records the detail of a failure as the calling thread's (rdv_store_errmsg
 * in this thread returns it; other threads keep theirs) and returns
 * status, so an op can end with
 * `return rdv_store_fail(s, RDV_ETIMEDOUT, "...", ...)`. Safe from any
 * thread that may call into s. */
int rdv_store_fail(rdv_store *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes key into buf for an error message: non-printable bytes become
 * \xNN and a key too long for buf ends in "...". Returns buf. */
const char *rdv_key_printable(const char *key, char *buf, size_t cap);

/* A growing list of keys, the shape list() returns. */
typedef struct rdv_keylist {
    char **keys;
    size_t n;
    size_t cap;
} rdv_keylist;

/* Appends a copy of key[0..len). RDV_ENOMEM on failure. */
int rdv_keylist_push(rdv_keylist *l, const char *key, size_t len);
/* Frees every key and the array, and empties the list. */
void rdv_keylist_clear(rdv_keylist *l);

/* add() keeps counters as decimal ASCII ("-42"). parse gives RDV_EPROTO
 * for anything else; add gives RDV_EINVAL on int64 overflow; format
 * writes the digits (no NUL counted) and returns their length. */
int rdv_counter_parse(const void *val, size_t len, int64_t *out);
int rdv_counter_add(int64_t base, int64_t delta, int64_t *out);
size_t rdv_counter_format(int64_t v, char buf[32]);

/* Records the detail of a wait that ended with status (RDV_ETIMEDOUT or
 * RDV_ECANCELED) while some keys were missing: "wait timed out after
 * 5000 ms: 2 of 8 keys missing: job7/addr/3, job7/addr/6". present[i]
 * tells whether keys[i] was found. Returns status. */
int rdv_store_fail_wait(rdv_store *s, int status, int64_t started_ns,
                        const char *const *keys, size_t n,
                        const unsigned char *present);

RDV_API_END
#endif
