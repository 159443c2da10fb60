/*
 * stores/exec_store.h - what exec.c (the exec: scheme and its ops) and
 * exec_pool.c (a handle's adapters, one call) share.
 */
#ifndef RDV_EXEC_STORE_H
#define RDV_EXEC_STORE_H

#include <pthread.h>
#include <sys/types.h>

#include "exec_chan.h"
#include "store_internal.h"

#define EXEC_CHANNELS_MAX 8
/* How long after a timed op's deadline a reply may come: the contract's
 * bound on a timeout (a timeout fires within timeout + 1 s). */
#define EXEC_REPLY_GRACE_NS 1000000000LL
#define EXEC_TIMEOUT_MS_DEFAULT 30000L       /* timeout_ms= */
#define EXEC_START_TIMEOUT_MS_DEFAULT 60000L /* start_timeout_ms= */

enum { SLOT_FREE, SLOT_TAKEN, SLOT_IDLE }; /* TAKEN: busy, starting, stopping */

typedef struct exec_store {
    rdv_store base;
    char **argv; /* argv[0] is the adapter's path; NULL-terminated */
    int64_t timeout_ns; /* an op without a timeout of its own */
    int64_t start_ns;   /* starting an adapter, to its hello */
    int cancel_fd;
    pid_t owner;
    /* what the first adapter's hello declared */
    unsigned offers; /* 1u << type for each op it serves */
    int gloo;        /* level gloo (else full) */
    int process_scope;
    char ops_text[256];
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a slot turned idle or free, or cancel */
    int canceled;
    char lost[384]; /* scope=process: why every call is RDV_ESTATE */
    int state[EXEC_CHANNELS_MAX];
    rdv_exec_chan chans[EXEC_CHANNELS_MAX];
} exec_store;

#define X(s) ((exec_store *)(s))
#define OFFERS(x, t) (((x)->offers >> (t)) & 1u)

/* Starts the adapter of slot i (taken by the caller) and checks its
 * hello; first records what it declares, later ones must match. On
 * failure why names the adapter, its pid and the reason. */
int rdv_exec_pool_start(exec_store *x, int i, int first, char *why,
                        size_t whylen);

/* Runs req (of type, about key or NULL) on an adapter of s: deadline is
 * the op's own for timed ops (get, wait, multi_get), which tell the
 * adapter the time left; others are bounded by timeout_ms, and starting
 * an adapter for the call by start_timeout_ms. n is
 * multi_get's key count. RDV_OK: p->reply holds a status-0 reply that
 * the caller reads and frees (rdv_exec_parser_free); otherwise the
 * store's detail says what happened. */
int rdv_exec_pool_call(rdv_store *s, int type, const char *key,
                       rdv_exec_req *req, rdv_exec_parser *p, uint32_t n,
                       int64_t deadline, int timed);

#endif
