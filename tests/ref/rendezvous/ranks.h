/*
 * ranks.h - forks the ranks of one rendezvous for the tests and
 * collects what each saw in a shared result area: status, detail,
 * elapsed time, counters, fd counts and the 4-tuple of every link.
 */
#ifndef RDV_TEST_RANKS_H
#define RDV_TEST_RANKS_H

#include <sys/socket.h>

#include "rdv/context.h"
#include "rdv/store.h"

#define RANKS_MAX 72 /* processes per run (duplicates included) */
#define PEERS_MAX 64

typedef struct rank_result {
    int ran;
    int rank;
    int status;
    char msg[RDV_DETAIL_MAX];
    long long elapsed_ms;
    rdv_context_counters counters;
    int fds_before, fds_after;
    int exchanged; /* one message each way with every peer checked */
    char transport[8];
    /* the first link not close-on-exec, not TCP_NODELAY or not in the
     * backend's blocking mode, said in words; "" when all are */
    char link_mode[160];
    struct sockaddr_storage local[PEERS_MAX], remote[PEERS_MAX];
} rank_result;

typedef struct rank_plan {
    rdv_store *store;     /* opened by the parent (inherited when it can be) */
    const char *url;      /* what a child opens when store is not inherited */
    int size;
    const char *job;
    int timeout_ms;
    const char *transport; /* NULL = $RDV_TRANSPORT */
    const char *bind;      /* NULL = "127.0.0.1" */
    int nproc;             /* processes; ranks[i] is each one's rank */
    int ranks[RANKS_MAX];
    int start_delay_ms[RANKS_MAX];
    const rdv_hooks *hooks[RANKS_MAX];
    int recheck_ms;        /* rdv_context_options.recheck_ms (0: default) */
} rank_plan;

/* Plan for ranks 0..size-1, one process each, minus `absent` (-1 for
 * none). */
void plan_init(rank_plan *p, rdv_store *store, const char *url, int size,
               const char *job, int timeout_ms, int absent);

/* Forks every process of the plan, waits for all, returns the shared
 * result area (one entry per process; free with results_free). */
rank_result *plan_run(const rank_plan *p);
void results_free(rank_result *r);

/* Asserts (Criterion) that every process connected, exchanged, leaked
 * no fd, that every link is close-on-exec, TCP_NODELAY and in its
 * backend's blocking mode, and that the 4-tuples pair up. */
void expect_mesh_ok(const rank_plan *p, const rank_result *r);

/* Number of keys left in the store. */
long long store_keys(rdv_store *s);

#endif
