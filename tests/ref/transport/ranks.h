/*
 * ranks.h - forked ranks over pre-built meshes for the transport tests:
 * socketpair or loopback TCP fds, one context per rank connected with
 * rdv_context_connect_fds(), each backend forced or $RDV_TRANSPORT.
 */
#ifndef RDV_TEST_TRANSPORT_RANKS_H
#define RDV_TEST_TRANSPORT_RANKS_H

#include "context_internal.h"
#include "rdv/hooks.h"

#define MAXN 8

typedef int (*rank_fn)(rdv_context *ctx, int rank, int n, void *arg);

/* fds[i][j]: rank i's end of the pair (i, j); fds[i][i] = -1. */
void mesh_socketpair(int n, int fds[MAXN][MAXN]);
void mesh_tcp(int n, int fds[MAXN][MAXN]);

typedef struct run_opts {
    const char *backend;    /* NULL = $RDV_TRANSPORT */
    const rdv_hooks *hooks; /* every rank's, may be NULL */
    int hold_fd;            /* closed in the children, and in the parent
                               once rank 0 has exited; -1 = none */
    unsigned victims;       /* ranks that die or stop: reaped last,
                               SIGKILLed first, status not checked */
} run_opts;

/* Forks n ranks; rank r keeps only its own fds, connects a context and
 * exits with fn's return value. Expects every rank but the victims to
 * exit 0. */
void run_ranks_opts(int n, int fds[MAXN][MAXN], const run_opts *o,
                    rank_fn fn, void *arg);

#endif
