/*
 * ranks.h - forked-rank meshes for the collectives tests.
 *
 * The parent builds the mesh before fork (socketpairs, or loopback TCP
 * pairs it connects itself), forks n ranks, and each rank keeps only
 * its own ends, connects a context with rdv_context_connect_fds() and
 * runs a function. Or the ranks rendezvous for real over a shared store. Results come back through a shared mapping made
 * before fork: a status, a message and free space for digests. The
 * parent supervises with a deadline and SIGKILLs whatever is left.
 * Children end with exit(), never _exit(), so sanitizers report.
 */
#ifndef RDV_TEST_RANKS_H
#define RDV_TEST_RANKS_H

#include <stddef.h>
#include <stdint.h>

#include "rdv/context.h"

#define RANKS_MAX 8
#define RANKS_DIGESTS 2048

/* socketpairs or loopback TCP pairs made by the parent before fork, or
 * the real rendezvous (rdv_context_connect_full_mesh over a
 * hash:?shared=1 store opened before fork, bound to 127.0.0.1). */
typedef enum { MESH_SOCKETPAIR, MESH_TCP, MESH_RENDEZVOUS } ranks_mesh;

typedef struct rank_slot {
    int done;         /* the function returned */
    int status;       /* its return value: 0 ok */
    int64_t fail_ms;  /* free for the function (e.g. time to fail) */
    char msg[1024];   /* first failure, or an error text */
    uint64_t digest[RANKS_DIGESTS];
    int ndigest;
} rank_slot;

typedef struct ranks_spec {
    int n;
    ranks_mesh mesh;
    int timeout_ms;       /* the contexts' timeout */
    int supervise_ms;     /* kill everything left after this */
    const rdv_hooks *hooks[RANKS_MAX]; /* per rank, may be NULL */
} ranks_spec;

typedef int (*rank_fn)(rdv_context *ctx, int rank, int n, void *arg,
                       rank_slot *me);

/* Runs fn on n forked ranks. Returns a mapping of n slots (free with
 * ranks_free) and sets *hung to the number of ranks killed at the
 * supervision deadline. */
rank_slot *ranks_run(const ranks_spec *s, rank_fn fn, void *arg, int *hung);
void ranks_free(rank_slot *slots, int n);

/* Printf into the slot's message unless one is there already. */
void rank_note(rank_slot *me, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A connected context of size 1 with the given timeout, made in this
 * process (no fork, no socket); NULL when it cannot be made. */
rdv_context *ranks_solo(int timeout_ms);

/* Nonzero when RDV_TEST_SHRINK is set (valgrind runs): fewer sizes. */
int ranks_shrunk(void);

int64_t ranks_now_ms(void);

#endif
